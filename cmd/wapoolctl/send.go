package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// maxStdinText bounds what `send … -` reads: far above the daemon's limit
// of 65,536 characters, so the daemon is the one to refuse.
const maxStdinText = 1 << 20

// maxFileBytes bounds what `send --file` sends: the most any daemon takes
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
	if *noWait {
		req.Wait = wapoolv1.Wait_WAIT_ACCEPTED
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	var m *wapoolv1.Message
	var resp proto.Message
	if *file != "" {
		m, resp, err = c.sendFile(ctx, req, *file, *asDocument)
	} else {
		var r *wapoolv1.SendResponse
		r, err = c.client.Send(ctx, req)
		m, resp = r.GetMessage(), r
	}
	var local *localError
	if errors.As(err, &local) {
		return local.err
	}
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "send", tenant: tenant, to: to, key: *key, file: *file})
	}
	return c.showMessage(m, resp, true)
}

// sendChunkBytes is the size of the chunks `send --file` streams: a
// quarter of the most SendFile takes (1 MiB).
const sendChunkBytes = 256 << 10

// localError is a failure on this side during a call (the file could not
// be read): shown as it is, not as the daemon's answer.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }

// sendFile sends the file at path with req as its header through SendFile,
// read and streamed a chunk at a time (never held whole): its base name is
// the name the recipient sees, its extension gives the type declared (the
// daemon sniffs the bytes anyway). A daemon without SendFile (before it
// existed) gets the file through Send, read whole. A file that cannot be
// read is a *localError; the stream is then cancelled, and the daemon
// keeps nothing.
func (c *cli) sendFile(ctx context.Context, req *wapoolv1.SendRequest, path string, asDocument bool) (*wapoolv1.Message, proto.Message, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, nil, &localError{err}
	}
	defer f.Close()
	name := filepath.Base(path)
	req.Media = &wapoolv1.Media{Filename: name, MimeType: mime.TypeByExtension(filepath.Ext(name)), AsDocument: asDocument}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel() // a failed read ends the stream: the daemon keeps nothing
	stream, err := c.client.SendFile(sctx)
	if err != nil {
		return nil, nil, err
	}
	err = stream.Send(&wapoolv1.SendFileRequest{Part: &wapoolv1.SendFileRequest_Header{Header: req}})
	for err == nil {
		buf := make([]byte, sendChunkBytes) // a message is not to be changed once sent
		n, rerr := io.ReadFull(f, buf)
		if n > 0 {
			err = stream.Send(&wapoolv1.SendFileRequest{Part: &wapoolv1.SendFileRequest_Chunk{Chunk: buf[:n]}})
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return nil, nil, &localError{fmt.Errorf("--file %s: %w", path, rerr)}
		}
	}
	if err != nil && !errors.Is(err, io.EOF) { // io.EOF: the daemon ended the call; its status follows
		return nil, nil, err
	}
	resp, err := stream.CloseAndRecv()
	if status.Code(err) == codes.Unimplemented {
		return c.sendWhole(ctx, req, f, path)
	}
	if err != nil {
		return nil, nil, err
	}
	return resp.GetMessage(), resp, nil
}

// sendWhole sends the file through Send, read whole: for a daemon older
// than SendFile.
func (c *cli) sendWhole(ctx context.Context, req *wapoolv1.SendRequest, f *os.File, path string) (*wapoolv1.Message, proto.Message, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, &localError{fmt.Errorf("--file %s: %w", path, err)}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, &localError{fmt.Errorf("--file %s: %w", path, err)}
	}
	req.Media.Data = data
	resp, err := c.client.Send(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	return resp.GetMessage(), resp, nil
}

// openFile opens the file of `send --file`: a regular file of at most
// maxFileBytes.
func openFile(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	info, err := f.Stat()
	switch {
	case err != nil:
		err = fmt.Errorf("--file: %w", err)
	case !info.Mode().IsRegular():
		err = fmt.Errorf("--file %s: not a regular file", path)
	case info.Size() > maxFileBytes:
		err = fmt.Errorf("--file %s: %d bytes, more than any wapoold takes (1 GiB)", path, info.Size())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
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
