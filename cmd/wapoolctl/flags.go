package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"time"
)

// Defaults of the global flags.
const (
	defaultAddr    = "127.0.0.1:7440"
	defaultTimeout = 30 * time.Second
	outputText     = "text"
	outputJSON     = "json"
)

// globalOpts are the flags of the connection and of the output format. Their
// zero values are replaced by the defaults above in register.
type globalOpts struct {
	addr    string        // --addr, env WAPOOL_ADDR; default 127.0.0.1:7440
	output  string        // -o text|json; default text
	timeout time.Duration // --timeout per unary call; default 30s; 0 = none
	// token comes from --token-file, --token or WAPOOL_TOKEN, in that order;
	// empty means no bearer token.
	tokenFile, token string
	// TLS is used when any of these is set; ca empty means the system roots.
	tlsCA, tlsCert, tlsKey, tlsServerName string

	// set holds the names of the flags given on the command line.
	set map[string]bool
}

const globalFlagsHelp = `  --addr host:port      the daemon (env WAPOOL_ADDR; default 127.0.0.1:7440)
  -o text|json          output: text for people (default), json for scripts
                        (one protojson object per line; errors as {"code","reason","message",...})
  --timeout 30s         deadline of each call (default 30s, 0 = none); link waits
                        until linked unless --timeout is given
  --token-file F        file holding the bearer token (first line not empty or #)
  --token T             bearer token (env WAPOOL_TOKEN); sent as "authorization: Bearer T"
  --tls-ca F            PEM CA that signed the daemon's certificate (enables TLS)
  --tls-cert F          PEM client certificate for mTLS (with --tls-key; enables TLS)
  --tls-key F           PEM key of --tls-cert
  --tls-server-name N   name to verify in the daemon's certificate (default: the host of --addr)
`

var commandFlagsHelp = map[string]string{
	"link": `  --phone N             link by pairing code for this phone number instead of QR
  --qr color|invert|plain
                        how the QR is drawn: color (default) paints black on white
                        explicitly and scans on any terminal; invert (default when
                        NO_COLOR is set) draws light modules as blocks, for light
                        text on a dark background; plain draws dark modules as
                        blocks, for dark text on a light background
`,
	"send": `  --key K               idempotency key: a retry with the same key never sends twice
  --no-wait             return once the message is queued (WAIT_ACCEPTED) instead of sent
  --file PATH           send this file, named by its base name; the text, if any, is
                        its caption. Streamed from disk (SendFile). The daemon takes
                        up to its --max-media-bytes (16 MiB by default) and sniffs
                        the type from the bytes
  --as-document         with --file: send a JPEG, PNG or WebP as a document (the file
                        as it is) instead of a picture; other files always are
`,
	"watch": `  --after CURSOR        start after this event (a cursor watch printed, in [brackets]);
                        default: from now. Runs until Ctrl-C, or --timeout when given
`,
	"events": `  --all                 (redeliver) every event of the dead-letter list
`,
	"screenshot": `  -o, -f, --out FILE    the PNG file to write (- for stdout); required
`,
	"doctor": `  --deep                also open the tenant's own chat, type into its box and empty it,
                        then attach a small file and discard its preview (nothing is sent)
`,
}

// flagSet returns a FlagSet that reports errors to run instead of printing.
func (c *cli) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// register adds the global flags to fs, each defaulting to its current value
// so that a subcommand's FlagSet keeps what the global one parsed. withOutput
// false leaves -o to the subcommand (screenshot).
func (g *globalOpts) register(fs *flag.FlagSet, withOutput bool) {
	if g.set == nil {
		g.addr, g.output, g.timeout = defaultAddr, outputText, defaultTimeout
		g.set = map[string]bool{}
	}
	fs.StringVar(&g.addr, "addr", g.addr, "")
	if withOutput {
		fs.StringVar(&g.output, "o", g.output, "")
	}
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "")
	fs.StringVar(&g.tokenFile, "token-file", g.tokenFile, "")
	fs.StringVar(&g.token, "token", g.token, "")
	fs.StringVar(&g.tlsCA, "tls-ca", g.tlsCA, "")
	fs.StringVar(&g.tlsCert, "tls-cert", g.tlsCert, "")
	fs.StringVar(&g.tlsKey, "tls-key", g.tlsKey, "")
	fs.StringVar(&g.tlsServerName, "tls-server-name", g.tlsServerName, "")
}

// markSet records which flags fs saw.
func (g *globalOpts) markSet(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) { g.set[f.Name] = true })
}

// parseCommand parses a subcommand's flags, which may come before, between or
// after its positional arguments; everything after "--" is positional. It
// checks -o and the number of positionals (max < 0: no upper bound).
func (c *cli) parseCommand(name string, fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.printCommandHelp(c.stdout, findCommand(name))
		return nil, flag.ErrHelp
	}
	if err != nil {
		msg := err.Error()
		if strings.HasPrefix(msg, "flag provided but not defined") {
			msg += " (put text that starts with - after --)"
		}
		return nil, usagef(name, "%s", msg)
	}
	c.g.markSet(fs)
	if c.g.output != outputText && c.g.output != outputJSON {
		return nil, usagef(name, "-o must be text or json, not %q", c.g.output)
	}
	if len(pos) < min {
		return nil, usagef(name, "%s needs %d argument(s), got %d", name, min, len(pos))
	}
	if max >= 0 && len(pos) > max {
		return nil, usagef(name, "%s takes %d argument(s), got %d: %q", name, max, len(pos), pos)
	}
	return pos, nil
}

// parseInterspersed runs fs.Parse repeatedly, collecting the positional
// arguments between flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
