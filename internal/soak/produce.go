package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc/status"

	"github.com/wapool/wapool/internal/wait"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

const (
	rpcTimeout = 10 * time.Second       // one Send or Status call
	retryPause = 100 * time.Millisecond // before the next attempt with the same key
)

// accepted is a message some Send attempt returned OK for.
type accepted struct {
	key  string
	to   string
	text string    // a file's caption
	file *soakFile // nil: a text message
	id   string    // wapool's message id
}

// endpoint hands out the daemon a call goes to: the one wapoold of the
// single-node soak (daemon), or a random live node of the cluster
// (cluster). Its methods are safe for concurrent use.
type endpoint interface {
	// pick returns the client of a daemon that serves now and its name
	// ("" for the single daemon), preferring one not named avoid; a nil
	// client while none serves. rng makes the choice; a single daemon
	// draws nothing from it.
	pick(rng *rand.Rand, avoid string) (string, wapoolv1.SessionServiceClient)
}

// producer sends one tenant's messages, one after the other: the next only
// once the previous was accepted. It is owned by the goroutine that runs it;
// the main goroutine reads its fields after that goroutine ended.
type producer struct {
	tenant string
	n      int           // messages to have accepted
	gap    time.Duration // mean pause between two messages
	rng    *rand.Rand
	via    endpoint
	// until, when set, keeps the producer sending past n messages until it
	// is closed (the cluster soak: load until the chaos loop ends). Nil:
	// exactly n.
	until <-chan struct{}

	done     []accepted     // in acceptance order
	attempts int            // Send calls made
	errs     map[string]int // failed Send calls by gRPC code
	// elsewhere counts messages accepted by another daemon than the one
	// whose call failed before (the cluster soak's retries on another
	// node with the same key).
	elsewhere int
}

// more says whether the producer sends its i-th message (from 0).
func (p *producer) more(i int) bool {
	if i < p.n {
		return true
	}
	if p.until == nil {
		return false
	}
	select {
	case <-p.until:
		return false
	default:
		return true
	}
}

// run sends until n messages are accepted (and until is closed, when set)
// or ctx ends.
func (p *producer) run(ctx context.Context) error {
	p.errs = map[string]int{}
	for i := 0; p.more(i); i++ {
		m := accepted{key: fmt.Sprintf("soak-%s-%04d", p.tenant, i)}
		m.to, m.text = soakMessage(p.tenant, i)
		var media *wapoolv1.Media
		if i%mediaEvery == mediaEvery-1 {
			var f soakFile
			var err error
			if media, f, err = makeMedia(p.rng, p.tenant, i); err != nil {
				return err
			}
			m.file = &f
			m.text = fmt.Sprintf("%s file *#%04d* %s", p.tenant, i, f.filename)
		}
		id, err := p.sendUntilAccepted(ctx, m, media)
		if err != nil {
			return fmt.Errorf("producer %s, message %q: %w", p.tenant, m.text, err)
		}
		m.id = id
		p.done = append(p.done, m)
		if p.gap > 0 {
			if err := pause(ctx, time.Duration(p.rng.Int64N(int64(2*p.gap)+1))); err != nil {
				return err
			}
		}
	}
	return nil
}

// repeatedText is the text every other message of the soak carries: the
// same text to the same recipient again and again, in the same minute, is
// what a lookup after a kill must not mistake for an earlier message. Half
// of the texts are formatted: the page draws their markers, emoji and links
// as elements (fact 18), so a bubble's text is not the text sent.
const (
	repeatedText          = "Your code is 1234"
	repeatedFormattedText = "Your code is *1234* 🔐"
)

// soakMessage is a tenant's i-th message: a repeated text to the first
// recipient for even i, a text of its own to the second for odd i; formatted
// for i%4 in {0, 1}, plain for the others.
func soakMessage(tenant string, i int) (to, text string) {
	switch i % 4 {
	case 0:
		return recipients[0], repeatedFormattedText
	case 2:
		return recipients[0], repeatedText
	case 1:
		return recipients[1], fmt.Sprintf("%s order *#%04d* ships _today_ 📦 https://shop.example/o/%d", tenant, i, i)
	}
	return recipients[1], fmt.Sprintf("%s #%04d", tenant, i)
}

// sendUntilAccepted retries Send with the same idempotency key (and the
// same file, when media is set) on any error (the daemon down, restarting
// or slow) until an attempt returns OK. In a cluster the retry goes to
// another node than the one that failed.
func (p *producer) sendUntilAccepted(ctx context.Context, m accepted, media *wapoolv1.Media) (string, error) {
	failedOn := ""
	for {
		if name, c := p.via.pick(p.rng, failedOn); c != nil {
			p.attempts++
			rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
			resp, err := c.Send(rctx, &wapoolv1.SendRequest{
				TenantId: p.tenant, To: m.to, Text: m.text, Media: media, IdempotencyKey: m.key, Wait: wapoolv1.Wait_WAIT_ACCEPTED,
			})
			cancel()
			if err == nil {
				if got := resp.Message; got.IdempotencyKey != m.key || got.TenantId != p.tenant {
					return "", fmt.Errorf("Send answered with message %v", got)
				}
				if got := resp.Message.GetMedia(); media != nil && (got.GetFilename() != m.file.filename || got.GetSha256() != m.file.sha256) {
					return "", fmt.Errorf("Send answered with the file %v, want %s (sha256 %s)", got, m.file.filename, m.file.sha256)
				}
				if failedOn != "" && failedOn != name {
					p.elsewhere++
				}
				return resp.Message.Id, nil
			}
			p.errs[status.Code(err).String()]++
			failedOn = name
		}
		if err := pause(ctx, retryPause); err != nil {
			return "", err
		}
	}
}

// produceWith runs the producers and chaos together and returns once all
// of them have ended. The first of them that fails ends the others, and
// its error is returned; past timeout they all end, and the error is
// "<what> took longer than <timeout>". Nil when all ended well.
func produceWith(ctx context.Context, timeout time.Duration, what string, producers []*producer, chaos func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, cancelT := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%s took longer than %v", what, timeout))
	defer cancelT()
	var wg sync.WaitGroup
	for _, p := range producers {
		wg.Go(func() {
			if err := p.run(ctx); err != nil {
				cancel(err)
			}
		})
	}
	wg.Go(func() {
		if err := chaos(ctx); err != nil {
			cancel(err)
		}
	})
	wg.Wait()
	return context.Cause(ctx)
}

// pause waits d or until ctx ends (then it returns ctx.Err()).
var pause = wait.Sleep
