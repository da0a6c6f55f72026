package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/proto"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// maxStdinText bounds what `send … -` reads: far above the daemon's limit
// of 65,536 characters, so the daemon is the one to refuse.
const maxStdinText = 1 << 20

func (c *cli) cmdSend(args []string) error {
	fs := c.flagSet("send")
	c.g.register(fs, true)
	key := fs.String("key", "", "")
	noWait := fs.Bool("no-wait", false, "")
	pos, err := c.parseCommand("send", fs, args, 3, -1)
	if err != nil {
		return err
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
	if *noWait {
		req.Wait = wapoolv1.Wait_WAIT_ACCEPTED
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.client.Send(ctx, req)
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "send", tenant: tenant, to: to, key: *key})
	}
	return c.showMessage(resp.GetMessage(), resp, true)
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
