package main

import (
	"encoding/json"
	"fmt"
	"time"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// cmdPrune deletes the tenants inactive for longer than --inactive, by the
// daemon's own rule (wapoold --prune-inactive): no Send, Link or start
// since, and nothing waiting in the queue. --dry-run lists them only.
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
	list, err := c.client.ListSessions(ctx, &wapoolv1.ListSessionsRequest{})
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "prune"})
	}
	cutoff := c.clock().Add(-*inactive)
	var victims []string
	for _, s := range list.GetSessions() {
		if s.GetQueued() > 0 || !s.GetLastActive().AsTime().Before(cutoff) {
			continue
		}
		victims = append(victims, s.GetTenantId())
	}
	var deleted []string
	for _, id := range victims {
		if *dryRun {
			break
		}
		if _, err := c.client.Logout(ctx, &wapoolv1.LogoutRequest{TenantId: id}); err != nil {
			return c.fail(ctx, err, callFailure{op: "prune", tenant: id})
		}
		deleted = append(deleted, id)
	}
	if c.g.output == outputJSON {
		out := struct {
			DryRun  bool     `json:"dryRun"`
			Tenants []string `json:"tenants"`
		}{*dryRun, victims}
		if !*dryRun {
			out.Tenants = deleted
		}
		b, _ := json.Marshal(out)
		fmt.Fprintln(c.stdout, string(b))
		return nil
	}
	verb := "deleted"
	if *dryRun {
		verb = "would delete"
	}
	for _, id := range victims {
		fmt.Fprintf(c.stdout, "%s %s\n", verb, id)
	}
	fmt.Fprintf(c.stdout, "%d tenant(s) inactive for more than %v\n", len(victims), *inactive)
	return nil
}

func (c *cli) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}
