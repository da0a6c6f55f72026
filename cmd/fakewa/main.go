// Command fakewa serves a faithful local stand-in for WhatsApp Web (package
// fakewa) for tests and the demo: point wapoold --target-url at it. It
// prints its URL on stdout and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wapool/wapool/fakewa"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	d := fakewa.DefaultOptions()
	var o fakewa.Options
	addr := flag.String("addr", "127.0.0.1:7480", "listen address")
	flag.DurationVar(&o.BootDelay, "boot-delay", d.BootDelay, "how long a page shows its boot progress")
	flag.DurationVar(&o.AckDelay, "ack-delay", d.AckDelay, "time from a send to msg-check (msg-dblcheck after as long again)")
	flag.DurationVar(&o.UploadPerMiB, "upload-per-mib", d.UploadPerMiB, "upload time of an attached file per MiB (at least a quarter of it per file), before its ack delay")
	flag.DurationVar(&o.FirstQRLifetime, "qr-first", d.FirstQRLifetime, "life of the first QR code of a series")
	flag.DurationVar(&o.QRLifetime, "qr-lifetime", d.QRLifetime, "life of each later QR code")
	flag.IntVar(&o.QRRotations, "qr-rotations", d.QRRotations, "QR codes after the first (negative: none)")
	flag.DurationVar(&o.LookupDelay, "lookup-delay", d.LookupDelay, `"Starting chat" time for chats opened inside the app`)
	flag.DurationVar(&o.PairingLifetime, "pairing-lifetime", d.PairingLifetime, "life of a pairing code")
	flag.StringVar(&o.InvalidSuffix, "invalid-suffix", d.InvalidSuffix, "numbers ending with this are not on WhatsApp")
	flag.DurationVar(&o.LogoutPoll, "logout-poll", d.LogoutPoll, "how often pages check their login with the server")
	flag.DurationVar(&o.EditorDelay, "editor-delay", d.EditorDelay, "longest delay before a chat's compose box goes live; each open picks one in [1/4, 1] of it (0: off, live at once)")
	flag.StringVar(&o.LidSuffix, "lid-suffix", d.LidSuffix, "chats of numbers ending with this are named by a @lid in the default build (fact 10)")
	flag.StringVar(&o.Build, "build", d.Build, `how the page draws itself: "" (facts 8, 10) or "2026" (fact 20)`)
	flag.StringVar(&o.Drawing, "drawing", d.Drawing, `how bubbles draw their text: "" (fact 18) or "unknown" (a drawing the contract does not describe)`)
	flag.StringVar(&o.Variant, "variant", d.Variant, `what the open chat renames, as a WhatsApp build does: "" (none), "send-icon", "attach-icon", "bubble-text" or "compose-wrapper" (fakewa.Options.Variant)`)
	flag.Parse()
	if err := o.Validate(); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fake := fakewa.New(o)
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("fakewa listening on http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fake.Close()
		return err
	case <-ctx.Done():
	}
	fake.Close() // wakes waiting requests first, so Shutdown does not wait for them
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
