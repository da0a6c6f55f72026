package main

import (
	"fmt"
	"text/tabwriter"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// deadPage is how many entries one ListDeadEvents call asks for.
const deadPage = 500

// cmdEvents runs the commands of the webhook's dead-letter list: `events
// dead` lists it (ListDeadEvents, every page), `events redeliver` asks the
// daemon to POST entries again (RedeliverDeadEvents).
func (c *cli) cmdEvents(args []string) error {
	if len(args) == 0 {
		return usagef("events", "events needs a command: dead or redeliver")
	}
	switch args[0] {
	case "dead":
		return c.eventsDead(args[1:])
	case "redeliver":
		return c.eventsRedeliver(args[1:])
	case "-h", "-help", "--help", "help":
		c.printCommandHelp(c.stdout, findCommand("events"))
		return nil
	}
	return usagef("events", "unknown events command %q: want dead or redeliver", args[0])
}

// eventsDead prints the dead-letter list, oldest event first: a table for
// people (phone numbers masked), or one protojson DeadEvent per line.
func (c *cli) eventsDead(args []string) error {
	fs := c.flagSet("events")
	c.g.register(fs, true)
	if _, err := c.parseCommand("events", fs, args, 0, 0); err != nil {
		return err
	}
	if err := c.connect("events dead"); err != nil {
		return err
	}
	var all []*wapoolv1.DeadEvent
	after := ""
	for {
		ctx, cancel := c.callCtx()
		resp, err := c.client.ListDeadEvents(ctx, &wapoolv1.ListDeadEventsRequest{After: after, Limit: deadPage})
		if err != nil {
			err = c.fail(ctx, err, callFailure{op: "events dead"})
			cancel()
			return err
		}
		cancel()
		if c.g.output == outputJSON {
			for _, d := range resp.GetDeadEvents() {
				if err := c.printProto(d); err != nil {
					return err
				}
			}
		}
		all = append(all, resp.GetDeadEvents()...)
		if after = resp.GetNextAfter(); after == "" {
			break
		}
	}
	if c.g.output == outputJSON {
		return nil
	}
	if len(all) == 0 {
		fmt.Fprintln(c.stdout, "the dead-letter list is empty: every event was delivered")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CURSOR\tPARKED\tATTEMPTS\tLAST ERROR\tTENANT\tEVENT")
	for _, d := range all {
		what := "(unreadable event)"
		if ev := d.GetEvent(); ev != nil {
			what = eventWhat(ev)
		}
		if d.GetRedeliveryPending() {
			what += " (redelivery pending)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", d.GetCursor(), c.agoText(d.GetParkedAt()), d.GetAttempts(),
			dash(oneLine(d.GetLastError(), lastErrorWidth)), dash(d.GetEvent().GetTenantId()), what)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%d event(s) in the dead-letter list; `wapoolctl events redeliver --all` (or <cursor>...) POSTs them again\n", len(all))
	return nil
}

// eventsRedeliver asks for the redelivery of every entry (--all) or of the
// cursors given; never of all by default.
func (c *cli) eventsRedeliver(args []string) error {
	fs := c.flagSet("events")
	c.g.register(fs, true)
	all := fs.Bool("all", false, "")
	cursors, err := c.parseCommand("events", fs, args, 0, -1)
	if err != nil {
		return err
	}
	if *all == (len(cursors) > 0) {
		return usagef("events", "events redeliver takes --all or the cursors of the events to POST again (see `wapoolctl events dead`), not both")
	}
	if err := c.connect("events redeliver"); err != nil {
		return err
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.client.RedeliverDeadEvents(ctx, &wapoolv1.RedeliverDeadEventsRequest{Cursors: cursors})
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "events redeliver"})
	}
	if c.g.output == outputJSON {
		c.writeJSONLine(struct {
			Count int32 `json:"count"`
		}{resp.GetCount()})
		return nil
	}
	fmt.Fprintf(c.stdout, "%d event(s) will be POSTed again within seconds; those delivered leave the dead-letter list (`wapoolctl events dead`)\n", resp.GetCount())
	return nil
}
