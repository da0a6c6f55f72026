package main

import (
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

func (c *cli) cmdStatus(args []string) error {
	fs := c.flagSet("status")
	c.g.register(fs, true)
	pos, err := c.parseCommand("status", fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := c.connect("status"); err != nil {
		return err
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.client.Status(ctx, &wapoolv1.StatusRequest{TenantId: pos[0]})
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "status", tenant: pos[0]})
	}
	if c.g.output == outputJSON {
		return c.printProto(resp)
	}
	s := resp.GetSession()
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("tenant", s.GetTenantId())
	row("state", stateName(s.GetState()))
	row("phone", phoneText(s.GetPhone()))
	row("linked", yesNo(s.GetLinked()))
	row("queued", fmt.Sprint(s.GetQueued()))
	b := s.GetBrowser()
	if b.GetRunning() {
		row("browser", fmt.Sprintf("running, pid %d, started %s", b.GetPid(), c.timeText(b.GetStartedAt())))
	} else {
		row("browser", "not running")
	}
	row("restarts", fmt.Sprint(b.GetRestarts()))
	row("last exit", dash(oneLine(b.GetLastExit(), 0)))
	row("last active", c.timeText(s.GetLastActive()))
	row("last error", dash(oneLine(s.GetLastError(), 0)))
	row("profile", bytesText(s.GetProfileBytes()))
	if s.GetNode() != "" || s.GetSnapshotAt().IsValid() { // cluster mode
		row("node", dash(s.GetNode()))
		row("snapshot", c.timeText(s.GetSnapshotAt()))
		if r := s.GetStaleRestore(); r != nil {
			row("stale restore", fmt.Sprintf("restored %s from a snapshot %s behind the last activity: peers may see \"Waiting for this message\"",
				c.timeText(r.GetRestoredAt()), r.GetBehind().AsDuration().Round(time.Second)))
		}
	}
	tw.Flush()
	if h := stateHint(s); h != "" {
		fmt.Fprintf(c.stdout, "hint: %s\n", h)
	}
	return nil
}

// stateHint says what an operator does about a state; "" when nothing.
func stateHint(s *wapoolv1.Session) string {
	t := s.GetTenantId()
	switch s.GetState() {
	case wapoolv1.SessionState_SESSION_STATE_UNLINKED:
		return fmt.Sprintf("not linked: run `wapoolctl link %s`", t)
	case wapoolv1.SessionState_SESSION_STATE_FAILED:
		return fmt.Sprintf("the daemon gave up on this session (see last error): `wapoolctl link %s` starts it again", t)
	case wapoolv1.SessionState_SESSION_STATE_RESTARTING:
		return "the browser died and restarts by itself; sends wait for it"
	case wapoolv1.SessionState_SESSION_STATE_HIBERNATED:
		return "the browser sleeps to save memory; the next send wakes it"
	case wapoolv1.SessionState_SESSION_STATE_LINKING:
		return "a link is in progress"
	}
	return ""
}

// lastErrorWidth cuts the last error in the list table.
const lastErrorWidth = 60

func (c *cli) cmdList(args []string) error {
	fs := c.flagSet("list")
	c.g.register(fs, true)
	if _, err := c.parseCommand("list", fs, args, 0, 0); err != nil {
		return err
	}
	if err := c.connect("list"); err != nil {
		return err
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.client.ListSessions(ctx, &wapoolv1.ListSessionsRequest{})
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "list"})
	}
	if c.g.output == outputJSON {
		return c.printProto(resp)
	}
	if len(resp.GetSessions()) == 0 {
		fmt.Fprintln(c.stdout, "no tenants yet: `wapoolctl link <tenant>` creates one")
		return nil
	}
	// A NODE column in cluster mode, where some tenant runs on a node.
	cluster := slices.ContainsFunc(resp.GetSessions(), func(s *wapoolv1.Session) bool { return s.GetNode() != "" })
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	head := "TENANT\tSTATE\tPHONE\tLINKED\tQUEUED\tRESTARTS\tLAST ACTIVE\tLAST ERROR"
	if cluster {
		head += "\tNODE"
	}
	fmt.Fprintln(tw, head)
	for _, s := range resp.GetSessions() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s",
			s.GetTenantId(), stateName(s.GetState()), phoneText(s.GetPhone()), yesNo(s.GetLinked()),
			s.GetQueued(), s.GetBrowser().GetRestarts(), c.agoText(s.GetLastActive()),
			dash(oneLine(s.GetLastError(), lastErrorWidth)))
		if cluster {
			fmt.Fprintf(tw, "\t%s", dash(s.GetNode()))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func (c *cli) cmdLogout(args []string) error {
	fs := c.flagSet("logout")
	c.g.register(fs, true)
	pos, err := c.parseCommand("logout", fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := c.connect("logout"); err != nil {
		return err
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.client.Logout(ctx, &wapoolv1.LogoutRequest{TenantId: pos[0]})
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "logout", tenant: pos[0]})
	}
	if c.g.output == outputJSON {
		return c.printProto(resp)
	}
	fmt.Fprintf(c.stdout, "done: tenant %q is logged out and deleted (the phone lists the device until it is removed there)\n", pos[0])
	return nil
}
