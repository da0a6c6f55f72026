package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Exit codes of wapoolctl.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// cli is one invocation of wapoolctl. The zero value is not usable: main and
// the tests fill the I/O fields; run fills the rest.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// getenv reads the environment (WAPOOL_ADDR, WAPOOL_TOKEN, NO_COLOR).
	getenv func(string) string
	// tty is true when stdout is a terminal: link then redraws in place.
	tty bool
	// now is the clock for "3m ago"; nil means time.Now.
	now func() time.Time

	g      globalOpts
	ctx    context.Context // cancelled by SIGINT/SIGTERM
	conn   *grpc.ClientConn
	client wapoolv1.SessionServiceClient
}

// command is one subcommand.
type command struct {
	name     string
	synopsis string // after "wapoolctl [global flags] "
	summary  string
	run      func(c *cli, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"link", "link <tenant> [--phone <number>] [--qr color|invert|plain]",
			"link the tenant to a phone: draws the QR code (or the pairing code with --phone) until linked", (*cli).cmdLink},
		{"send", "send <tenant> <to> <text...|-> [--key <idempotency-key>] [--no-wait] | send <tenant> <to> [caption...] --file <path> [--as-document]",
			"send a text message (text `-` reads stdin), or a file with an optional caption (--file: named by its base name; a JPEG, PNG or WebP goes as a picture unless --as-document); prints the message id, state and WhatsApp id", (*cli).cmdSend},
		{"get", "get <tenant> <message-id>", "show one message of the tenant's outbox", (*cli).cmdGet},
		{"status", "status <tenant>", "show the tenant's session", (*cli).cmdStatus},
		{"list", "list", "list every tenant's session", (*cli).cmdList},
		{"logout", "logout <tenant>", "close the tenant's browser and delete its profile and the tenant (asks nothing)", (*cli).cmdLogout},
		{"screenshot", "screenshot <tenant> -o <file.png>", "save a PNG of what the tenant's page shows now (`-o -` writes it to stdout)", (*cli).cmdScreenshot},
		{"doctor", "doctor <tenant> [--deep]",
			"check the page contract on the tenant's live page: which screen it shows and whether each selector finds its element (--deep also types into the tenant's own chat, never sending); exits 1 when a check fails", (*cli).cmdDoctor},
		{"prune", "prune --inactive <duration> [--dry-run]",
			"delete the tenants inactive longer than the duration with nothing queued (--dry-run lists them)", (*cli).cmdPrune},
		{"watch", "watch [tenant...] [--after <cursor>]",
			"print session and message events as they happen, one line each (-o json: one Event per line); resumes by itself after a daemon restart", (*cli).cmdWatch},
		{"events", "events dead | events redeliver (--all | <cursor>...)",
			"the webhook's dead-letter list: `dead` lists the events set aside after --webhook-max-attempts failed POSTs; `redeliver` has the daemon POST them again (all, or the cursors given)", (*cli).cmdEvents},
		{"drain", "drain <node>",
			"cluster mode: move every tenant of the node to the other nodes (no new link); the node keeps answering calls", (*cli).cmdDrain},
		{"help", "help [command]", "show help", (*cli).cmdHelp},
	}
}

// usageError is a mistake on the command line: exit code 2.
type usageError struct {
	cmd string // "" for the global synopsis
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// errReported means the failure was already printed: exit 1, print nothing more.
var errReported = errors.New("reported")

// run executes one invocation and returns the exit code.
func (c *cli) run(ctx context.Context, args []string) int {
	c.ctx = ctx
	if c.now == nil {
		c.now = time.Now
	}
	if c.getenv == nil {
		c.getenv = func(string) string { return "" }
	}
	err := c.dispatch(args)
	if c.conn != nil {
		c.conn.Close()
	}
	return c.report(err)
}

func (c *cli) dispatch(args []string) error {
	fs := c.flagSet("")
	c.g.register(fs, true)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.printUsage(c.stdout)
			return nil
		}
		return usagef("", "%v", err)
	}
	c.g.markSet(fs)
	rest := fs.Args()
	if len(rest) == 0 {
		return usagef("", "no command given")
	}
	cmd := findCommand(rest[0])
	if cmd == nil {
		return usagef("", "unknown command %q", rest[0])
	}
	return cmd.run(c, rest[1:])
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// report prints err the way -o asks and maps it to an exit code.
func (c *cli) report(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK // the help was printed
	}
	if errors.Is(err, errReported) {
		return exitError
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "wapoolctl: %s\n", ue.msg)
		if cmd := findCommand(ue.cmd); cmd != nil {
			fmt.Fprintf(c.stderr, "usage: wapoolctl [global flags] %s\n", cmd.synopsis)
			fmt.Fprintf(c.stderr, "run `wapoolctl help %s` for its flags\n", cmd.name)
		} else {
			fmt.Fprintf(c.stderr, "usage: wapoolctl [global flags] <command> [args]; run `wapoolctl help`\n")
		}
		return exitUsage
	}
	h := describe(err)
	if c.g.output == outputJSON {
		c.writeJSONLine(h)
	} else {
		fmt.Fprintf(c.stderr, "wapoolctl: %s\n", h.line())
	}
	return exitError
}

func (c *cli) cmdHelp(args []string) error {
	if len(args) == 0 {
		c.printUsage(c.stdout)
		return nil
	}
	cmd := findCommand(args[0])
	if cmd == nil {
		return usagef("", "unknown command %q", args[0])
	}
	c.printCommandHelp(c.stdout, cmd)
	return nil
}

func (c *cli) printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("wapoolctl — the ops CLI of wapool (a gRPC client of wapool.v1.SessionService)\n\n")
	b.WriteString("usage: wapoolctl [global flags] <command> [flags] [args]\n\ncommands:\n")
	for _, cmd := range commands {
		fmt.Fprintf(&b, "  %s\n      %s\n", cmd.synopsis, cmd.summary)
	}
	b.WriteString("\nglobal flags (also accepted after the command):\n")
	b.WriteString(globalFlagsHelp)
	b.WriteString("\nexit codes: 0 ok, 1 error, 2 usage\n")
	io.WriteString(w, b.String())
}

func (c *cli) printCommandHelp(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "usage: wapoolctl [global flags] %s\n\n%s\n", cmd.synopsis, cmd.summary)
	if h := commandFlagsHelp[cmd.name]; h != "" {
		fmt.Fprintf(w, "\nflags:\n%s", h)
	}
	fmt.Fprintf(w, "\nglobal flags:\n%s", globalFlagsHelp)
}

// callCtx bounds one unary call by --timeout (0: no bound).
func (c *cli) callCtx() (context.Context, context.CancelFunc) {
	if c.g.timeout > 0 {
		return context.WithTimeout(c.ctx, c.g.timeout)
	}
	return context.WithCancel(c.ctx)
}
