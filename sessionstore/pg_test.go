package sessionstore_test

// What only the PostgreSQL backend has: schema migrations, one event log
// shared by the nodes (LISTEN/NOTIFY, polling), and the cursors' log id.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/wapool/wapool/internal/pgtest"
	"github.com/wapool/wapool/sessionstore"
)

// pgNodes opens n Stores (node-0 …) on one fresh database.
func pgNodes(t *testing.T, n int) (url string, nodes []*sessionstore.Store) {
	t.Helper()
	url = pgtest.Start(t).NewDatabase(t)
	for i := range n {
		nodes = append(nodes, openStore(t, nil, sessionstore.Options{
			URL: url, DataDir: filepath.Join(t.TempDir(), "data"), NodeID: fmt.Sprint("node-", i),
		}))
	}
	return url, nodes
}

// sql runs one statement on the database and scans its row into dst.
func sql(t *testing.T, url, query string, dst ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if len(dst) == 0 {
		_, err = conn.Exec(ctx, query)
	} else {
		err = conn.QueryRow(ctx, query).Scan(dst...)
	}
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// Nodes starting together on an empty database: the schema is made once,
// and all of them share one event log id.
func TestPGMigrationsOnceWithConcurrentOpens(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	const n = 4
	stores := make([]*sessionstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = sessionstore.Open(sessionstore.Options{URL: url, DataDir: t.TempDir()})
		})
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		t.Cleanup(func() { s.Close() })
		if s.Cursor(0) != stores[0].Cursor(0) {
			t.Errorf("node %d's log id differs: %s vs %s", i, s.Cursor(0), stores[0].Cursor(0))
		}
	}
	var versions, metaRows int
	sql(t, url, `SELECT count(*) FROM schema_migrations`, &versions)
	sql(t, url, `SELECT count(*) FROM event_meta`, &metaRows)
	migrations, err := filepath.Glob("pgschema/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if versions != len(migrations) || metaRows != 1 {
		t.Fatalf("schema_migrations holds %d versions, event_meta %d rows; want %d and 1", versions, metaRows, len(migrations))
	}
	// A reopen applies nothing again and keeps the log id.
	again := openStore(t, nil, sessionstore.Options{URL: url, DataDir: t.TempDir()})
	if again.Cursor(7) != stores[0].Cursor(7) {
		t.Fatalf("log id changed at a reopen: %s vs %s", again.Cursor(7), stores[0].Cursor(7))
	}
	// A schema newer than this binary's is refused.
	sql(t, url, `INSERT INTO schema_migrations (version) VALUES (9999)`)
	if s, err := sessionstore.Open(sessionstore.Options{URL: url, DataDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "newer") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// Two nodes write at once; each one's subscriber gets every event of both,
// in seq order with no gap, and a cursor of one node reads on the other.
func TestPGEventsFromOtherNodes(t *testing.T) {
	_, nodes := pgNodes(t, 2)
	a, b := nodes[0], nodes[1]
	const perNode = 20
	subs := []*sessionstore.EventSubscription{a.SubscribeEvents(4*perNode, nil), b.SubscribeEvents(4*perNode, nil)}
	for _, sub := range subs {
		defer sub.Close()
	}
	changed := a.EventsChanged()

	// node-1's first commit wakes node-0's waiters.
	first, _, err := b.Enqueue(msg("t1", "", "first"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("another node's commit did not wake EventsChanged")
	}
	var wg sync.WaitGroup
	for i, s := range nodes {
		wg.Go(func() {
			for j := range perNode {
				tenant := fmt.Sprint("t", i)
				if _, _, err := s.Enqueue(msg(tenant, "", fmt.Sprint(j))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	const total = 1 + 2*perNode
	var logs [][]sessionstore.Event
	for i, sub := range subs {
		var got []sessionstore.Event
		timeout := time.After(10 * time.Second)
		for len(got) < total {
			select {
			case ev, ok := <-sub.Events():
				if !ok {
					t.Fatalf("node-%d's subscription closed after %d events", i, len(got))
				}
				if ev.Seq != uint64(len(got)+1) {
					t.Fatalf("node-%d's subscriber got seq %d after %d events: out of order or a gap (%s)", i, ev.Seq, len(got), describeAll(got))
				}
				got = append(got, ev)
			case <-timeout:
				t.Fatalf("node-%d's subscriber got %d of %d events", i, len(got), total)
			}
		}
		logs = append(logs, got)
	}
	if describeAll(logs[0]) != describeAll(logs[1]) {
		t.Fatalf("the nodes saw different logs:\n%s\n%s", describeAll(logs[0]), describeAll(logs[1]))
	}
	if logs[0][0].Message.ID != first.ID {
		t.Fatalf("first event %s, want %s's QUEUED", describeEvent(logs[0][0]), first.ID)
	}
	// Cursors are the database's, not the node's.
	cur := b.Cursor(logs[0][4].Seq)
	seq, err := a.ParseCursor(cur)
	if err != nil || seq != 5 {
		t.Fatalf("node-0 parsing node-1's cursor %q = %d, %v", cur, seq, err)
	}
	evs, _, err := a.EventsAfter(seq, 1, nil)
	if err != nil || len(evs) != 1 || evs[0].Seq != 6 || describeEvent(evs[0]) != describeEvent(logs[1][5]) {
		t.Fatalf("EventsAfter(5) on node-0 = %v, %v", evs, err)
	}
}

// Without NOTIFY (lost, or a listener reconnecting) polling still delivers
// another node's events.
func TestPGPollingFallback(t *testing.T) {
	_, nodes := pgNodes(t, 2)
	a, b := nodes[0], nodes[1]
	sessionstore.DisableNotify(b)
	sub := a.SubscribeEvents(10, nil)
	defer sub.Close()
	if _, err := b.AcquireLease("t1", time.Minute); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := b.AppendSessionEvent("t1", sessionstore.SessionEvent{From: "STARTING", To: "READY"}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-sub.Events():
		if ev.Session == nil || ev.Session.To != "READY" || ev.Seq != 1 {
			t.Fatalf("polled event %+v", ev)
		}
		t.Logf("polled after %v", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("no event without NOTIFY after 5s")
	}
}

// The listener's connection dies (a restarted PostgreSQL, a proxy cutting
// idle connections): it reconnects, and events keep coming meanwhile.
func TestPGListenerReconnects(t *testing.T) {
	url, nodes := pgNodes(t, 2)
	a, b := nodes[0], nodes[1]
	sub := a.SubscribeEvents(10, nil)
	defer sub.Close()
	listeners := func() int {
		var n int
		sql(t, url, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`, &n)
		return n
	}
	waitFor(t, "both listeners are connected", func() bool { return listeners() == 2 })
	var killed int
	sql(t, url, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`, &killed)
	if killed != 2 {
		t.Fatalf("terminated %d listeners, want 2", killed)
	}
	for i := range 3 {
		if _, _, err := b.Enqueue(msg("t1", "", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-sub.Events():
			if ev.Seq != uint64(i+1) {
				t.Fatalf("event %d has seq %d", i, ev.Seq)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d did not arrive after the listener's connection died", i)
		}
	}
	waitFor(t, "both listeners are back", func() bool { return listeners() == 2 })
}

// The messages table keeps the epoch of the last fenced writer.
func TestPGMessageRowKeepsTheWritersEpoch(t *testing.T) {
	url, nodes := pgNodes(t, 1)
	s := nodes[0]
	m, _, err := s.Enqueue(msg("t1", "", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	var epoch int64
	sql(t, url, `SELECT epoch FROM messages`, &epoch)
	if epoch != 0 {
		t.Fatalf("enqueued message has epoch %d, want 0 (unfenced)", epoch)
	}
	for range 2 { // epoch 1, released, epoch 2
		if _, err := s.AcquireLease("t1", time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateMessage("t1", m.ID, func(x *sessionstore.Message) { x.Attempts++ }); err != nil {
			t.Fatal(err)
		}
		sql(t, url, `SELECT epoch FROM messages`, &epoch)
		if fence, _ := s.Fence("t1"); epoch != int64(fence) {
			t.Fatalf("message row has epoch %d, the writer's fence is %d", epoch, fence)
		}
		if err := s.ReleaseLease("t1"); err != nil {
			t.Fatal(err)
		}
	}
	if epoch != 2 {
		t.Fatalf("epoch %d after two leases, want 2", epoch)
	}
}
