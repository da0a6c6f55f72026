package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// Run joins the cluster and keeps this node's part in it until ctx ends:
// the heartbeat and placement loop, lease renewal, and the relay of other
// nodes' outbox changes to the supervisor. Leave first for a planned stop.
func (n *Node) Run(ctx context.Context, sup Runner) error {
	n.sup = sup
	if err := n.CheckAdvertise(); err != nil {
		return err
	}
	if err := n.cfg.Store.RegisterNode(n.cfg.AdvertiseAddr); err != nil {
		return fmt.Errorf("cluster: registering node %s: %w", n.cfg.NodeID, err)
	}
	n.log.Info("joined the cluster", zap.String("advertise_addr", n.cfg.AdvertiseAddr), zap.Duration("lease_ttl", n.cfg.LeaseTTL))
	// At the end, the loops first, then the moves, takes and stops they
	// started.
	defer n.tasks.Wait()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { n.every(ctx, n.cfg.LeaseTTL/3, n.renew) })
	wg.Go(func() { n.every(ctx, n.cfg.LeaseTTL/12, n.watchdog) })
	if n.cfg.Events != nil {
		wg.Go(func() { n.relay(ctx) })
	}
	n.tick(ctx)
	n.every(ctx, n.cfg.Tick, n.tick)
	return nil
}

// ErrUnreachableAddr: this node advertises a loopback address while other
// live nodes of the cluster are on other hosts: they could not forward a
// call to it.
var ErrUnreachableAddr = errors.New("cluster: the advertised address is loopback, other nodes are not on this host")

// CheckAdvertise refuses (ErrUnreachableAddr) a loopback --advertise-addr
// while a live node of the cluster advertises an address that is not
// loopback, so is on another host. Nodes that all advertise loopback run
// on one host (tests, a demo) and are fine.
func (n *Node) CheckAdvertise() error {
	if !isLoopback(n.cfg.AdvertiseAddr) {
		return nil
	}
	live, err := n.cfg.Store.Nodes(n.cfg.LeaseTTL)
	if err != nil {
		return fmt.Errorf("cluster: listing the nodes: %w", err)
	}
	for _, x := range live {
		if x.ID != n.cfg.NodeID && !isLoopback(x.Addr) {
			return fmt.Errorf("--advertise-addr %s: node %s advertises %s, on another host, and could not reach this node: advertise an address the other nodes reach: %w",
				n.cfg.AdvertiseAddr, x.ID, x.Addr, ErrUnreachableAddr)
		}
	}
	return nil
}

// isLoopback reports whether addr's host is loopback (127.0.0.0/8, ::1,
// "localhost"); an empty host means every interface and is not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// every calls f every period until ctx ends.
func (n *Node) every(ctx context.Context, period time.Duration, f func(context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// renew extends this node's leases. A tenant whose lease was not renewed
// (another node took it after it expired) or whose lease is about to lapse
// without a renewal (the store is unreachable) is stopped at once.
func (n *Node) renew(ctx context.Context) {
	asked := n.cfg.Now()
	renewed, err := n.cfg.Store.RenewLeases(n.cfg.LeaseTTL)
	var lost []string
	n.mu.Lock()
	if err == nil {
		ok := make(map[string]bool, len(renewed))
		for _, l := range renewed {
			ok[l.TenantID] = true
		}
		for id, h := range n.held {
			switch {
			case ok[id]:
				n.held[id] = hold{until: asked.Add(n.cfg.LeaseTTL), epoch: h.epoch}
			case !h.until.After(asked.Add(n.cfg.LeaseTTL)):
				// Not renewed and not taken after the renewal was asked:
				// another node holds it now.
				delete(n.held, id)
				lost = append(lost, id)
			}
		}
	}
	n.mu.Unlock()
	if err != nil {
		n.log.Warn("renewing leases", zap.Error(err))
	}
	n.stopAll(ctx, lost)
	n.watchdog(ctx)
}

// watchdog stops the tenants whose leases are about to lapse without a
// renewal. It runs on its own ticker too, so that a renewal stuck on an
// unreachable store cannot hold it up: the browsers stop before the TTL
// ends.
func (n *Node) watchdog(ctx context.Context) {
	var lost []string
	now := n.cfg.Now()
	n.mu.Lock()
	for id, h := range n.held {
		if !now.Add(n.margin()).Before(h.until) {
			delete(n.held, id)
			lost = append(lost, id)
		}
	}
	n.mu.Unlock()
	n.stopAll(ctx, lost)
}

func (n *Node) stopAll(ctx context.Context, lost []string) {
	for _, id := range lost {
		n.log.Warn("lease lost: stopping the tenant's browser", zap.String("tenant", id))
		n.tasks.Go(func() { n.stopLost(ctx, id) })
	}
}

// stopLost stops the browser of a tenant whose lease this node lost, then
// gives the lease up in the store too. No snapshot: the profile may be
// behind the new holder's. When the tenant was taken again meanwhile (a new
// lease), its new runner stays.
//
// The release matters when the watchdog gave the tenant up but the store
// still has the lease (a renewal answered late): RenewLeases renews every
// lease the store has a fence for, so without it this node would keep the
// lease alive without running the tenant, and the node the hash names
// would find it held forever. ReleaseLease drops the fence first, so even
// when the store is unreachable the lease is not renewed again and lapses.
//
// It keeps the tenant locked until the old runner has really ended (an
// in-flight send may take the supervisor's send grace; its writes are
// fenced and it clicks nothing): no take of the tenant may restore its
// profile under a Chrome still running on it. The wait is bounded by the
// supervisor's stop budget, not by a deadline here.
func (n *Node) stopLost(ctx context.Context, id string) {
	ctx = context.WithoutCancel(ctx)
	unlock, ok := n.lockTenant(ctx, id, true)
	if !ok {
		return
	}
	defer unlock()
	n.mu.Lock()
	_, again := n.held[id]
	n.mu.Unlock()
	if again {
		return
	}
	if err := n.sup.Release(ctx, id); err != nil {
		n.log.Warn("stopping a tenant whose lease was lost", zap.String("tenant", id), zap.Error(err))
	}
	if err := n.cfg.Store.ReleaseLease(id); err != nil {
		n.log.Warn("releasing a lost lease (it lapses unrenewed)", zap.String("tenant", id), zap.Error(err))
	}
}

// tick is one round of the placement loop: heartbeat, the live nodes, and
// for each tenant whether this node takes it, moves it away or snapshots
// it.
func (n *Node) tick(ctx context.Context) {
	n.mu.Lock()
	left := n.left
	n.mu.Unlock()
	if left {
		return
	}
	me, err := n.cfg.Store.Heartbeat()
	if err != nil {
		n.log.Warn("heartbeat", zap.Error(err))
		return
	}
	live, err := n.cfg.Store.Nodes(n.cfg.LeaseTTL)
	if err != nil {
		n.log.Warn("listing nodes", zap.Error(err))
		return
	}
	tenants, err := n.cfg.Store.ListTenants()
	if err != nil {
		n.log.Warn("listing tenants", zap.Error(err))
		return
	}
	n.mu.Lock()
	n.live = live
	if me.Draining && !n.draining {
		n.log.Info("draining: moving every tenant to the other nodes")
		n.draining = true
	}
	draining := n.draining
	ids := n.liveIDs()
	held := make(map[string]bool, len(n.held))
	for id := range n.held {
		held[id] = true
	}
	n.mu.Unlock()

	exists := make(map[string]bool, len(tenants))
	for _, t := range tenants {
		exists[t.ID] = true
		o := owner(t.ID, ids)
		switch {
		case held[t.ID] && (draining || (o != "" && o != n.cfg.NodeID && t.Linked)):
			// An unlinked tenant stays while its Link runs here; it moves
			// once linked. A tenant still starting here finishes first: a
			// node that just came back does not pull tenants out of their
			// start elsewhere (two moves in a row).
			if draining || n.settled(ctx, t.ID) {
				n.goBusy(ctx, t.ID, n.moveAway)
			}
		case held[t.ID]:
			if n.snapshotDue(ctx, t) {
				n.goBusy(ctx, t.ID, n.refresh)
			}
		case o == n.cfg.NodeID && t.Linked && !draining:
			n.goBusy(ctx, t.ID, n.take)
		}
	}
	for id := range held {
		if !exists[id] { // logged out: the lease and the snapshots go with it
			n.goBusy(ctx, id, n.forget)
		}
	}
}

// settled tells whether the tenant's session is past its start here (not
// STARTING, RESTARTING or LINKING), so that a rebalancing move may close it.
func (n *Node) settled(ctx context.Context, id string) bool {
	s, err := n.sup.Status(ctx, id)
	if err != nil {
		return false
	}
	switch s.State {
	case supervisor.StateStarting, supervisor.StateRestarting, supervisor.StateLinking:
		return false
	}
	return true
}

// goBusy runs f for the tenant in its own goroutine unless a move or
// snapshot of the tenant is in progress.
func (n *Node) goBusy(ctx context.Context, id string, f func(context.Context, string) error) {
	unlock, ok := n.lockTenant(ctx, id, false)
	if !ok {
		return
	}
	n.tasks.Go(func() {
		defer unlock()
		if err := f(ctx, id); err != nil && ctx.Err() == nil {
			n.log.Warn("cluster", zap.String("tenant", id), zap.Error(err))
		}
	})
}

// lockTenant marks the tenant busy (moved or snapshot): Claim and other
// moves wait until unlock. With wait, it waits for a move in progress to
// end first; without, it gives up (ok false).
func (n *Node) lockTenant(ctx context.Context, id string, wait bool) (unlock func(), ok bool) {
	for {
		n.mu.Lock()
		cur, busy := n.busy[id]
		if !busy {
			done := make(chan struct{})
			n.busy[id] = done
			n.mu.Unlock()
			return func() {
				n.mu.Lock()
				delete(n.busy, id)
				n.mu.Unlock()
				close(done)
			}, true
		}
		n.mu.Unlock()
		if !wait {
			return nil, false
		}
		select {
		case <-cur:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// take claims a tenant the hash gives this node and starts it.
func (n *Node) take(ctx context.Context, id string) error {
	if err := n.claimLocked(ctx, id); err != nil {
		return nil // held elsewhere still (a move or an expiring lease): next tick
	}
	n.log.Info("took the tenant", zap.String("tenant", id))
	return n.sup.Start(ctx, id)
}

// forget releases the lease of a tenant that was logged out and deletes its
// snapshots.
func (n *Node) forget(ctx context.Context, id string) error {
	if err := n.sup.Release(ctx, id); err != nil && !errors.Is(err, supervisor.ErrNotAtRest) {
		return err
	}
	n.giveUp(id)
	if dir, err := n.cfg.Store.ProfileDir(id); err == nil {
		_ = os.Remove(markerPath(dir))
	}
	if err := n.cfg.Snapshots.Delete(ctx, id); err != nil {
		return fmt.Errorf("deleting the snapshots of a logged-out tenant: %w", err)
	}
	return nil
}

// relayBuffer is the relay's subscription buffer, in events.
var relayBuffer = 1024

// relay hands other nodes' outbox changes to the supervisor: a message
// queued through another node wakes the tenant's runner here, and a message
// finished elsewhere ends the Send calls waiting for it here.
//
// It keeps the seq of the last event it handled. A subscription dropped for
// overflowing is replaced by a new one, and the events in between are read
// from the log after that seq (EventsAfter), so no finished message is
// missed and no waiter sleeps to its deadline. Only when the log cannot
// resume from there (purged) does it start from the head and poke every
// running tenant instead.
func (n *Node) relay(ctx context.Context) {
	match := func(ev *sessionstore.Event) bool { return ev.Message != nil }
	var last uint64 // the last event handled; 0 until the first subscription
	resume := false
	for ctx.Err() == nil {
		sub := n.cfg.Events.SubscribeEvents(relayBuffer, match)
		if !resume || last == 0 || !n.catchUp(ctx, &last, match) { // 0: the head was never read
			// From now on: the head, and whatever was queued before it.
			head, err := n.cfg.Events.EventHead()
			if err != nil {
				n.log.Warn("reading the event log's head", zap.Error(err))
			}
			last = head
			for _, id := range n.sup.Running() {
				n.sup.Poke(id)
			}
		}
		resume = func() bool {
			defer sub.Close()
			for {
				select {
				case <-ctx.Done():
					return false
				case ev, ok := <-sub.Events():
					if !ok {
						return true // overflowed: subscribe again, resume from last
					}
					if ev.Seq <= last {
						continue // read already from the log
					}
					last = ev.Seq
					n.relayEvent(ev)
				}
			}
		}()
	}
}

// catchUp hands on the events of the log after *last, advancing it; false
// when the log cannot resume from there.
func (n *Node) catchUp(ctx context.Context, last *uint64, match func(*sessionstore.Event) bool) bool {
	for ctx.Err() == nil {
		evs, next, err := n.cfg.Events.EventsAfter(*last, relayBuffer, match)
		if err != nil {
			n.log.Warn("reading the events missed after an overflow: poking every tenant instead", zap.Uint64("after", *last), zap.Error(err))
			return false
		}
		for _, ev := range evs {
			n.relayEvent(ev)
		}
		if next == *last {
			return true
		}
		*last = next
	}
	return false
}

// relayEvent hands one message event to the supervisor.
func (n *Node) relayEvent(ev sessionstore.Event) {
	m := *ev.Message
	if m.State.Finished() {
		n.sup.MessageFinished(m)
	} else {
		n.sup.Poke(ev.TenantID)
	}
}

// Leave drains this node for a planned stop (SIGTERM): it stops taking
// tenants, moves every tenant it holds to the others (graceful close,
// snapshot, lease release) and removes itself from the nodes table.
func (n *Node) Leave(ctx context.Context) error {
	if err := n.cfg.Store.SetDraining(n.cfg.NodeID, true); err != nil {
		return fmt.Errorf("cluster: marking node %s draining: %w", n.cfg.NodeID, err)
	}
	n.mu.Lock()
	n.draining = true
	ids := make([]string, 0, len(n.held))
	for id := range n.held {
		ids = append(ids, id)
	}
	n.mu.Unlock()
	n.log.Info("leaving the cluster: moving tenants", zap.Int("tenants", len(ids)))
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			unlock, ok := n.lockTenant(ctx, id, true)
			if !ok {
				return
			}
			defer unlock()
			if err := n.moveAway(ctx, id); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("tenant %q: %w", id, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	n.mu.Lock()
	n.left = true // no heartbeat brings the row back
	n.mu.Unlock()
	if err := n.cfg.Store.RemoveNode(n.cfg.NodeID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
