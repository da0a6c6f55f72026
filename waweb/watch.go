package waweb

import (
	"context"
	"strings"
	"time"

	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// EventKind is the kind of an Event.
type EventKind int

const (
	// EventNavigated: the main frame loaded another document (a reload, a
	// deep link, a navigation by the app). The open chat is forgotten.
	EventNavigated EventKind = iota + 1
	// EventLoggedOut: the main frame went to a URL with LogoutURLMarker
	// (fact 5): the phone or WhatsApp logged this device out.
	EventLoggedOut
	// EventCrashed: the renderer died (Inspector.targetCrashed). The tab
	// stays; navigating again revives it.
	EventCrashed
	// EventDialog: a JavaScript dialog opened and Watch accepted it.
	EventDialog
)

func (k EventKind) String() string {
	switch k {
	case EventNavigated:
		return "navigated"
	case EventLoggedOut:
		return "logged-out"
	case EventCrashed:
		return "crashed"
	case EventDialog:
		return "dialog"
	}
	return "unknown"
}

// Event is something Watch saw happen to the page.
type Event struct {
	Kind EventKind
	// URL is the new URL (EventNavigated, EventLoggedOut) or the dialog's
	// page (EventDialog).
	URL string
	// Dialog is the dialog's type, "beforeunload", "alert", "confirm" or
	// "prompt" (EventDialog only).
	Dialog string
}

// maxQueued bounds the events Watch holds for a slow reader; past it,
// EventNavigated and EventDialog are dropped, never EventLoggedOut or EventCrashed.
const maxQueued = 256

// Watch runs until ctx ends, then returns nil; it returns an error wrapping
// ErrPageClosed when the tab or the browser goes first. Meanwhile it accepts
// every JavaScript dialog (beforeunload and others) so that no page operation
// hangs on one, forgets the open chat on any main-frame navigation or crash,
// and reports events on ch. A slow reader never blocks the dialog handling:
// events queue inside Watch (see maxQueued). The caller owns the goroutine
// that runs Watch; run one Watch per Page.
func (p *Page) Watch(ctx context.Context, ch chan<- Event) error {
	wctx, cancel := p.with(ctx)
	defer cancel()
	in := make(chan any, 512)
	err := chromedp.Listen(wctx, func(ev any) {
		switch ev.(type) {
		case *page.EventJavascriptDialogOpening, *inspector.EventTargetCrashed,
			*page.EventFrameNavigated, *page.EventNavigatedWithinDocument:
			select {
			case in <- ev:
			default: // 512 events waiting: the loop is stuck answering a dialog; drop
			}
		}
	})
	if err != nil {
		return p.wrap(err)
	}
	detached, err := chromedp.Detached(wctx)
	if err != nil {
		return p.wrap(err)
	}
	var queue []Event
	push := func(e Event) {
		if len(queue) >= maxQueued && (e.Kind == EventNavigated || e.Kind == EventDialog) {
			return
		}
		queue = append(queue, e)
	}
	for {
		var out chan<- Event
		var head Event
		if len(queue) > 0 {
			out, head = ch, queue[0]
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil
			}
			return p.wrap(wctx.Err())
		case <-detached:
			p.forget()
			return ErrPageClosed
		case out <- head:
			queue = queue[1:]
		case ev := <-in:
			switch ev := ev.(type) {
			case *page.EventJavascriptDialogOpening:
				dctx, dcancel := context.WithTimeout(wctx, 5*time.Second)
				// navigate() may have answered it already: ignore the error then.
				_, _ = chromedp.Call(dctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
				dcancel()
				push(Event{Kind: EventDialog, URL: ev.URL, Dialog: string(ev.Type)})
			case *inspector.EventTargetCrashed:
				p.forget()
				push(Event{Kind: EventCrashed})
			case *page.EventFrameNavigated:
				if ev.Frame.ParentID != "" {
					continue
				}
				p.forget()
				u := ev.Frame.URL + ev.Frame.URLFragment
				if strings.Contains(u, p.sel().LogoutURLMarker) {
					push(Event{Kind: EventLoggedOut, URL: u})
				} else {
					push(Event{Kind: EventNavigated, URL: u})
				}
			case *page.EventNavigatedWithinDocument:
				if strings.Contains(ev.URL, p.sel().LogoutURLMarker) {
					push(Event{Kind: EventLoggedOut, URL: ev.URL})
				}
			}
		}
	}
}
