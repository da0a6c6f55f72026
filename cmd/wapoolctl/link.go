package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

func (c *cli) cmdLink(args []string) error {
	fs := c.flagSet("link")
	c.g.register(fs, true)
	phone := fs.String("phone", "", "")
	defStyle := "color"
	if c.getenv("NO_COLOR") != "" {
		defStyle = "invert"
	}
	styleName := fs.String("qr", defStyle, "")
	pos, err := c.parseCommand("link", fs, args, 1, 1)
	if err != nil {
		return err
	}
	style, ok := parseQRStyle(*styleName)
	if !ok {
		return usagef("link", "--qr must be color, invert or plain, not %q", *styleName)
	}
	if err := c.connect("link"); err != nil {
		return err
	}
	tenant := pos[0]

	// Link waits for a person: --timeout bounds it only when given.
	ctx, cancel := context.WithCancel(c.ctx)
	if c.g.set["timeout"] && c.g.timeout > 0 {
		ctx, cancel = context.WithTimeout(c.ctx, c.g.timeout)
	}
	defer cancel()
	stream, err := c.client.Link(ctx, &wapoolv1.LinkRequest{TenantId: tenant, PhoneNumber: *phone})
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "link", tenant: tenant})
	}
	v := &linkView{c: c, tenant: tenant, style: style}
	if c.g.output == outputText {
		v.replace(fmt.Sprintf("linking tenant %q: waiting for the code…\n", tenant))
	}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the daemon ended the link stream before tenant %q was linked", tenant)
		}
		if err != nil {
			return c.fail(ctx, err, callFailure{op: "link", tenant: tenant})
		}
		linked, err := v.show(ev)
		if err != nil || linked {
			return err
		}
	}
}

// linkView shows the events of one Link stream. On a terminal each drawing
// replaces the previous one (cursor up, clear to the end of the screen);
// elsewhere drawings are appended.
type linkView struct {
	c      *cli
	tenant string
	style  qrStyle
	drawn  int // lines of the current drawing, for the next replace
}

// show prints one event; linked is true on the last one.
func (v *linkView) show(ev *wapoolv1.LinkResponse) (linked bool, err error) {
	if v.c.g.output == outputJSON {
		return ev.GetLinked() != nil, v.c.printProto(ev)
	}
	switch e := ev.GetEvent().(type) {
	case *wapoolv1.LinkResponse_Qr:
		v.replace(v.qrText(e.Qr))
	case *wapoolv1.LinkResponse_PairingCode:
		v.replace(v.pairingText(e.PairingCode))
	case *wapoolv1.LinkResponse_Linked:
		v.replace(linkedText(e.Linked) + "\n")
		return true, nil
	default:
		fmt.Fprintf(v.c.stderr, "wapoolctl: skipping an unknown link event\n")
	}
	return false, nil
}

func (v *linkView) qrText(q *wapoolv1.QRCode) string {
	art, err := renderQR(q.GetCode(), v.style)
	if err != nil {
		art = fmt.Sprintf("cannot draw this code (%v); its text is:\n%s\n", err, q.GetCode())
	}
	return art +
		"scan it with WhatsApp on the phone: Settings → Linked devices → Link a device\n" +
		v.validity(q.GetSequence(), q.GetValidSeconds()) + "\n"
}

func (v *linkView) pairingText(p *wapoolv1.PairingCode) string {
	code := formatPairingCode(p.GetCode())
	var b strings.Builder
	b.WriteString("on the phone: WhatsApp → Settings → Linked devices → Link a device →\n")
	b.WriteString("Link with phone number instead, then enter this code:\n\n")
	if big := renderBigText(code); big != "" {
		for line := range strings.Lines(big) {
			b.WriteString("    " + line)
		}
		b.WriteString("\n")
	}
	b.WriteString("    " + code + "\n\n")
	b.WriteString(v.validity(p.GetSequence(), p.GetValidSeconds()) + "\n")
	return b.String()
}

// validity reads "code 2, valid for 20s (until 15:04:05)", or "code 2"
// when the daemon does not know.
func (v *linkView) validity(seq, seconds uint32) string {
	s := fmt.Sprintf("code %d", seq)
	if seconds > 0 {
		until := v.c.now().Add(time.Duration(seconds) * time.Second).Format("15:04:05")
		s += fmt.Sprintf(", valid for %ds (until %s)", seconds, until)
	}
	return s
}

func linkedText(l *wapoolv1.Linked) string {
	switch {
	case l.GetAlreadyLinked() && l.GetPhone() != "":
		return "already linked to +" + l.GetPhone()
	case l.GetAlreadyLinked():
		return "already linked"
	case l.GetPhone() != "":
		return "linked to +" + l.GetPhone()
	}
	return "linked"
}

// replace prints s in place of the previous drawing.
func (v *linkView) replace(s string) {
	if v.c.tty && v.drawn > 0 {
		fmt.Fprintf(v.c.stdout, "\x1b[%dA\x1b[J", v.drawn)
	}
	io.WriteString(v.c.stdout, s)
	v.drawn = strings.Count(s, "\n")
}
