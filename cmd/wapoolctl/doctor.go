package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// cmdDoctor runs the page contract's probes on a tenant's live page
// (Diagnose) and prints a table; it exits 1 when a check fails.
func (c *cli) cmdDoctor(args []string) error {
	fs := c.flagSet("doctor")
	c.g.register(fs, true)
	var deep bool
	fs.BoolVar(&deep, "deep", false, "")
	pos, err := c.parseCommand("doctor", fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := c.connect("doctor"); err != nil {
		return err
	}
	if deep && c.g.timeout == defaultTimeout {
		c.g.timeout = 90 * time.Second // the daemon bounds a deep check at 60 s
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.client.Diagnose(ctx, &wapoolv1.DiagnoseRequest{TenantId: pos[0], Deep: deep})
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "doctor", tenant: pos[0]})
	}
	failed := 0
	for _, ch := range resp.GetChecks() {
		if !ch.GetOk() {
			failed++
		}
	}
	if c.g.output == outputJSON {
		if err := c.printProto(resp); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tOK\tSELECTOR\tDETAIL")
		for _, ch := range resp.GetChecks() {
			ok := "ok"
			if !ch.GetOk() {
				ok = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ch.GetName(), ok, dash(oneLine(ch.GetSelector(), 60)), dash(oneLine(ch.GetDetail(), 0)))
		}
		tw.Flush()
		if d := resp.GetDrawing(); d != "" {
			fmt.Fprintf(c.stdout, "drawing: %s\n", d)
		}
		if failed > 0 {
			fmt.Fprintf(c.stdout, "%d of %d checks failed: see docs/operations.md, \"WhatsApp Web changed\"\n", failed, len(resp.GetChecks()))
		}
	}
	if failed > 0 {
		return errReported
	}
	return nil
}
