package main

import (
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/proto"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// maxStdinText bounds what `send … -` reads: far above the daemon's limit
// of 65,536 characters, so the daemon is the one to refuse.
const maxStdinText = 1 << 20

// maxFileBytes bounds what `send --file` reads: the most any daemon takes
// (wapoold's --max-media-bytes goes up to 1 GiB), so the daemon is the one
// to refuse a file over its own limit.
const maxFileBytes = 1 << 30

func (c *cli) cmdSend(args []string) error {
	fs := c.flagSet("send")
	c.g.register(fs, true)
	key := fs.String("key", "", "")
	noWait := fs.Bool("no-wait", false, "")
	file := fs.String("file", "", "")
	asDocument := fs.Bool("as-document", false, "")
	pos, err := c.parseCommand("send", fs, args, 2, -1)
	if err != nil {
		return err
	}
	if *file == "" && len(pos) < 3 {
		return usagef("send", "send needs 3 argument(s), got %d (or a --file, whose caption may be left out)", len(pos))
	}
	if *asDocument && *file == "" {
		return usagef("send", "--as-document goes with --file")
	}
	tenant, to := pos[0], pos[1]
	text := strings.Join(pos[2:], " ")
	if len(pos) == 3 && pos[2] == "-" {
		b, err := io.ReadAll(io.LimitReader(c.stdin, maxStdinText+1))
		if err != nil {
			return fmt.Errorf("reading the text from stdin: %w", err)
		}
		if len(b) > maxStdinText {
			return fmt.Errorf("the text on stdin is over %d bytes", maxStdinText)
		}
		text = string(b)
	}
	if err := c.connect("send"); err != nil {
		return err
	}
	req := &wapoolv1.SendRequest{TenantId: tenant, To: to, Text: text, IdempotencyKey: *key}
	if *file != "" {
		if req.Media, err = readMedia(*file, *asDocument); err != nil {
			return err
		}
	}
	if *noWait {
		req.Wait = wapoolv1.Wait_WAIT_ACCEPTED
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.client.Send(ctx, req)
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "send", tenant: tenant, to: to, key: *key, file: *file})
	}
	return c.showMessage(resp.GetMessage(), resp, true)
}

// readMedia reads the file of `send --file`: its base name is the name the
// recipient sees, its extension gives the type declared (the daemon sniffs
// the bytes anyway).
func readMedia(path string, asDocument bool) (*wapoolv1.Media, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	switch {
	case err != nil:
		return nil, fmt.Errorf("--file: %w", err)
	case !info.Mode().IsRegular():
		return nil, fmt.Errorf("--file %s: not a regular file", path)
	case info.Size() > maxFileBytes:
		return nil, fmt.Errorf("--file %s: %d bytes, more than any wapoold takes (1 GiB)", path, info.Size())
	}
	data := make([]byte, info.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("--file %s: %w", path, err)
	}
	name := filepath.Base(path)
	return &wapoolv1.Media{Filename: name, MimeType: mime.TypeByExtension(filepath.Ext(name)), Data: data, AsDocument: asDocument}, nil
}

func (c *cli) cmdGet(args []string) error {
	fs := c.flagSet("get")
	c.g.register(fs, true)
	pos, err := c.parseCommand("get", fs, args, 2, 2)
	if err != nil {
		return err
	}
	if err := c.connect("get"); err != nil {
		return err
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.client.GetMessage(ctx, &wapoolv1.GetMessageRequest{TenantId: pos[0], MessageId: pos[1]})
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "get", tenant: pos[0], messageID: pos[1]})
	}
	return c.showMessage(resp.GetMessage(), resp, false)
}

// showMessage prints a message (brief after send, in full after get). A
// FAILED message exits 1.
func (c *cli) showMessage(m *wapoolv1.Message, resp proto.Message, brief bool) error {
	if c.g.output == outputJSON {
		if err := c.printProto(resp); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
		row("id", m.GetId())
		if !brief {
			row("tenant", m.GetTenantId())
			row("to", phoneText(m.GetTo()))
		}
		if md := m.GetMedia(); md != nil {
			kind := "picture"
			if md.GetAsDocument() {
				kind = "document"
			}
			row("file", fmt.Sprintf("%s (%s, %s, %s)", md.GetFilename(), fileSize(md.GetSize()), md.GetMimeType(), kind))
		}
		row("state", messageStateName(m.GetState()))
		row("wa id", dash(m.GetWaMessageId()))
		if m.GetError() != "" {
			row("error", oneLine(m.GetError(), 0))
		}
		if m.GetErrorReason() != "" {
			row("reason", m.GetErrorReason())
		}
		if !brief {
			row("attempts", fmt.Sprint(m.GetAttempts()))
			row("key", dash(m.GetIdempotencyKey()))
			row("created", c.timeText(m.GetCreatedAt()))
			row("sent", c.timeText(m.GetSentAt()))
		}
		tw.Flush()
		switch m.GetState() {
		case wapoolv1.MessageState_MESSAGE_STATE_QUEUED, wapoolv1.MessageState_MESSAGE_STATE_SENDING:
			fmt.Fprintf(c.stdout, "not sent yet: follow it with `wapoolctl get %s %s`\n", m.GetTenantId(), m.GetId())
		}
	}
	if m.GetState() == wapoolv1.MessageState_MESSAGE_STATE_FAILED {
		if c.g.output == outputText {
			fmt.Fprintf(c.stderr, "wapoolctl: the message failed: %s\n", dash(oneLine(m.GetError(), 0)))
		}
		return errReported
	}
	return nil
}

// fileSize shows a file's size: "840 bytes", "12.3 KiB", "2.0 MiB".
func fileSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
