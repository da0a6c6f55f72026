package console

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/wapool/wapool/supervisor"
)

// fakeSup is a hand-written Supervisor for the unit tests: sessions and
// messages as set, Link emits the events given and then ends with linkErr
// (or waits for ctx when linkBlock).
type fakeSup struct {
	mu        sync.Mutex // mu guards the fields that follow
	sessions  []supervisor.Session
	messages  map[string][]supervisor.Message
	link      []supervisor.LinkEvent
	linkErr   error
	linkBlock bool
	linked    []string // "id phone" of every Link call
	loggedOut []string
	png       []byte
}

var _ Supervisor = (*fakeSup)(nil)

func (f *fakeSup) ListSessions(context.Context) ([]supervisor.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sessions), nil
}

func (f *fakeSup) Status(_ context.Context, id string) (supervisor.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sessions {
		if s.TenantID == id {
			return s, nil
		}
	}
	return supervisor.Session{}, fmt.Errorf("tenant %q: %w", id, supervisor.ErrNotFound)
}

func (f *fakeSup) Link(ctx context.Context, id, phone string, emit func(supervisor.LinkEvent) error) error {
	f.mu.Lock()
	f.linked = append(f.linked, id+" "+phone)
	evs, err, block := slices.Clone(f.link), f.linkErr, f.linkBlock
	f.mu.Unlock()
	for _, ev := range evs {
		if err := emit(ev); err != nil {
			return err
		}
	}
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fakeSup) Screenshot(_ context.Context, id string) ([]byte, error) {
	if _, err := f.Status(context.Background(), id); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.png == nil {
		return nil, fmt.Errorf("tenant %q has no running browser: %w", id, supervisor.ErrNotRunning)
	}
	return f.png, nil
}

func (f *fakeSup) Logout(_ context.Context, id string) error {
	if _, err := f.Status(context.Background(), id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loggedOut = append(f.loggedOut, id)
	f.sessions = slices.DeleteFunc(f.sessions, func(s supervisor.Session) bool { return s.TenantID == id })
	return nil
}

func (f *fakeSup) RecentMessages(_ context.Context, id string, limit int) ([]supervisor.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ms := f.messages[id]
	return slices.Clone(ms[:min(limit, len(ms))]), nil
}

func (f *fakeSup) logouts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.loggedOut)
}

func (f *fakeSup) links() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.linked)
}
