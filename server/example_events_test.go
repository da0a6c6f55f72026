package server_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// watchEvents is the consumer of README's "Events": it keeps its cursor in
// a file, so that after a restart (its own or the daemon's) it resumes
// after the last event it handled and misses none. handle may see an event
// again after a crash between handle and the write of the cursor: make it
// idempotent by ev.Cursor.
func watchEvents(ctx context.Context, client wapoolv1.SessionServiceClient, cursorFile string, handle func(*wapoolv1.Event) error) error {
	b, _ := os.ReadFile(cursorFile) // none yet: from now
	cursor := strings.TrimSpace(string(b))
	save := func(c string) error {
		cursor = c
		return os.WriteFile(cursorFile, []byte(c), 0o600)
	}
	for ctx.Err() == nil {
		stream, err := client.WatchEvents(ctx, &wapoolv1.WatchEventsRequest{
			TenantIds: []string{"shop-42"}, // empty: every tenant
			After:     cursor,
		})
		if err == nil {
			md, herr := stream.Header() // the stream is in place
			if c := md.Get("wapool-cursor"); herr == nil && cursor == "" && len(c) == 1 {
				err = save(c[0]) // "from now" began here
			}
		}
		for err == nil {
			var resp *wapoolv1.WatchEventsResponse
			if resp, err = stream.Recv(); err != nil {
				break
			}
			ev := resp.GetEvent()
			if err = handle(ev); err != nil {
				return err // the cursor is not saved: the event comes again
			}
			err = save(ev.GetCursor())
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.ResourceExhausted: // a daemon restart, or we read too slowly
			time.Sleep(time.Second)
		case codes.OutOfRange: // away longer than the 7 days kept: read what is kept
			cursor = errorMetadata(err)["start_cursor"]
		default:
			return err
		}
	}
	return ctx.Err()
}

// errorMetadata returns the google.rpc.ErrorInfo metadata of a status.
func errorMetadata(err error) map[string]string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetMetadata()
		}
	}
	return nil
}

// Example_watchEvents prints a tenant's message states as they change.
func Example_watchEvents() {
	conn, err := grpc.NewClient("127.0.0.1:7440", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	err = watchEvents(context.Background(), wapoolv1.NewSessionServiceClient(conn), "shop-42.cursor", func(ev *wapoolv1.Event) error {
		if m := ev.GetMessage().GetMessage(); m != nil {
			fmt.Println(ev.GetCursor(), m.GetId(), m.GetState(), m.GetError())
		}
		return nil
	})
	fmt.Println(err)
}
