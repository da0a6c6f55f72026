package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// finished says whether a message has reached its end state.
func finished(m *wapoolv1.Message) bool {
	return m.State == wapoolv1.MessageState_MESSAGE_STATE_SENT || m.State == wapoolv1.MessageState_MESSAGE_STATE_FAILED
}

// drain waits, at most s.o.drain, until GetMessage (through via: any node
// of a cluster answers it from the shared store) calls every accepted
// message SENT or FAILED, and returns the last state seen of each message
// by id. Per tenant it follows the acceptance order, which is the queue's.
// On timeout it prints the messages still waiting and their tenants' state.
func (s *soak) drain(ctx context.Context, via endpoint, producers []*producer) (map[string]*wapoolv1.Message, error) {
	rng := rand.New(rand.NewPCG(s.o.seed, uint64(len(producers)+1)))
	client := func() wapoolv1.SessionServiceClient {
		_, c := via.pick(rng, "")
		return c
	}
	final := map[string]*wapoolv1.Message{}
	next := make([]int, len(producers)) // per producer, the first message not seen finished
	get := func(cl wapoolv1.SessionServiceClient, tenant, id string) (*wapoolv1.Message, error) {
		rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		defer cancel()
		resp, err := cl.GetMessage(rctx, &wapoolv1.GetMessageRequest{TenantId: tenant, MessageId: id})
		if err != nil {
			return nil, err
		}
		return resp.Message, nil
	}
	err := waitCond(ctx, s.o.drain, func() bool {
		cl := client()
		if cl == nil {
			return false
		}
		all := true
		for i, p := range producers {
			for next[i] < len(p.done) {
				m := p.done[next[i]]
				got, err := get(cl, p.tenant, m.id)
				if err != nil {
					all = false
					break
				}
				final[m.id] = got
				if !finished(got) {
					all = false
					break
				}
				next[i]++
			}
		}
		return all
	})
	if err == nil {
		return final, nil
	}
	// Say what is stuck: every message not finished, and its tenant.
	cl := client()
	stuck := 0
	for i, p := range producers {
		for _, m := range p.done[next[i]:] {
			if cl != nil {
				if got, gerr := get(cl, p.tenant, m.id); gerr == nil {
					final[m.id] = got
				}
			}
			if f := final[m.id]; f == nil || !finished(f) {
				stuck++
				if stuck <= 10 {
					s.printf("not finished: %s %q id %s: %v", p.tenant, m.text, m.id, f)
				}
			}
		}
		if cl != nil && next[i] < len(p.done) {
			rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
			resp, serr := cl.Status(rctx, &wapoolv1.StatusRequest{TenantId: p.tenant})
			cancel()
			if serr == nil {
				s.printf("status of %s: %v", p.tenant, resp.Session)
			}
		}
	}
	return final, fmt.Errorf("%d accepted messages not SENT or FAILED within %v of the last accept: %w", stuck, s.o.drain, err)
}
