package wapooldtest

import (
	"context"
	"fmt"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// Link runs Link for tenant and calls scan with the first QR code streamed,
// as the phone that scans it would (fakewa's Scan, for instance), until the
// stream says linked. It returns the events seen, the linked one last; on
// an error, the events so far.
func (d *Daemon) Link(ctx context.Context, tenant string, scan func(code string) error) ([]*wapoolv1.LinkResponse, error) {
	stream, err := d.Client().Link(ctx, &wapoolv1.LinkRequest{TenantId: tenant})
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", tenant, err)
	}
	var events []*wapoolv1.LinkResponse
	scanned := false
	for {
		ev, err := stream.Recv()
		if err != nil {
			return events, fmt.Errorf("link %s: %w (after %d events)", tenant, err, len(events))
		}
		events = append(events, ev)
		if qr := ev.GetQr(); qr != nil && !scanned {
			if err := scan(qr.Code); err != nil {
				return events, fmt.Errorf("link %s: scan %q: %w", tenant, qr.Code, err)
			}
			scanned = true
		}
		if ev.GetLinked() != nil {
			return events, nil
		}
	}
}
