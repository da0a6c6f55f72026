// Command wapoolctl is the operator's CLI of wapool: a plain gRPC client of
// wapool.v1.SessionService and nothing else.
//
//	wapoolctl [global flags] <command> [flags] [args]
//
//	link <tenant> [--phone N] [--qr color|invert|plain]   draw the QR (or pairing code) until linked
//	send <tenant> <to> <text...|-> [--key K] [--no-wait]  send a text message
//	send <tenant> <to> [caption...] --file F [--as-document]  send a file
//	get <tenant> <message-id>                             show one message
//	status <tenant>                                       show one tenant's session
//	list                                                  table of every tenant
//	logout <tenant>                                       close the browser, delete the tenant
//	screenshot <tenant> -o file.png                       save what the tenant's page shows
//	doctor <tenant> [--deep]                              check the page contract on the live page
//	watch [tenant...] [--after CURSOR]                    print events live (session and message states)
//	events dead                                           list the webhook's dead-letter list
//	events redeliver (--all | CURSOR...)                  POST dead-letter events again
//
// Global flags go before the command (the ones of the connection and -o also
// after it, except that after `screenshot` -o names the output file). Exit
// codes: 0 success, 1 error, 2 usage.
//
// Ownership: one cli value per invocation owns the output writers and the
// gRPC connection; every command runs on the main goroutine and the only
// goroutines are gRPC's own, ended when the connection closes before run
// returns. SIGINT/SIGTERM cancel the context of the running call (a cancelled
// Link leaves the tenant's browser warm on the daemon).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	c := &cli{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		tty:    isTerminal(os.Stdout),
	}
	code := c.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// isTerminal reports whether f is a character device, the portable sign of a
// terminal that the standard library offers. /dev/null is one too; drawing
// cursor movements into it is harmless.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
