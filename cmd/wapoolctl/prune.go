package main

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/types/known/durationpb"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// cmdPrune deletes the tenants inactive for longer than --inactive. The
// daemon decides which, by its own rule (PruneSessions, the rule of
// wapoold --prune-inactive). --dry-run lists them only.
func (c *cli) cmdPrune(args []string) error {
	fs := c.flagSet("prune")
	c.g.register(fs, true)
	inactive := fs.Duration("inactive", 0, "")
	dryRun := fs.Bool("dry-run", false, "")
	if _, err := c.parseCommand("prune", fs, args, 0, 0); err != nil {
		return err
	}
	if *inactive <= 0 {
		return usagef("prune", "--inactive is required: how long a tenant must have been inactive, e.g. 720h")
	}
	if err := c.connect("prune"); err != nil {
		return err
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.client.PruneSessions(ctx, &wapoolv1.PruneSessionsRequest{InactiveFor: durationpb.New(*inactive), DryRun: *dryRun})
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "prune"})
	}
	tenants := resp.GetTenantIds()
	if c.g.output == outputJSON {
		b, _ := json.Marshal(struct {
			DryRun  bool     `json:"dryRun"`
			Tenants []string `json:"tenants"`
		}{*dryRun, tenants})
		fmt.Fprintln(c.stdout, string(b))
		return nil
	}
	verb := "deleted"
	if *dryRun {
		verb = "would delete"
	}
	for _, id := range tenants {
		fmt.Fprintf(c.stdout, "%s %s\n", verb, id)
	}
	fmt.Fprintf(c.stdout, "%d tenant(s) inactive for more than %v\n", len(tenants), *inactive)
	return nil
}
