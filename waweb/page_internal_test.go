package waweb

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWithContext(t *testing.T) {
	tab, closeTab := context.WithCancel(context.Background())
	defer closeTab()
	p := New(tab, "http://127.0.0.1:1", Selectors{})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	c, done := p.with(ctx)
	<-c.Done()
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("caller's deadline passed: %v, want DeadlineExceeded", c.Err())
	}
	done()

	ctx, cancel = context.WithCancel(context.Background())
	c, done = p.with(ctx)
	cancel()
	<-c.Done()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("caller canceled: %v", c.Err())
	}
	done()

	c, done = p.with(context.Background())
	defer done()
	closeTab()
	<-c.Done()
	if err := p.wrap(c.Err()); !errors.Is(err, ErrPageClosed) {
		t.Errorf("tab closed: %v, want ErrPageClosed", err)
	}
}

func TestNewDefaultsAndLinks(t *testing.T) {
	p := New(context.Background(), "https://web.whatsapp.com/", Selectors{})
	if p.Selectors().Compose != DefaultSelectors().Compose {
		t.Error("zero Selectors did not take the defaults")
	}
	if p.base != "https://web.whatsapp.com" || p.origin != "https://web.whatsapp.com" {
		t.Errorf("base %q origin %q", p.base, p.origin)
	}
	p = New(context.Background(), "http://127.0.0.1:7480/app", Selectors{})
	if p.base != "http://127.0.0.1:7480/app" || p.origin != "http://127.0.0.1:7480" {
		t.Errorf("base %q origin %q", p.base, p.origin)
	}
	if l := (Limits{InAppOpen: time.Second}).withDefaults(); l.InAppOpen != time.Second || l.Boot != DefaultLimits().Boot {
		t.Errorf("limits %+v", l)
	}
}
