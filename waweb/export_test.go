package waweb

import "context"

// BubbleView is what the driver reads of one bubble of the open chat.
type BubbleView struct {
	ID    string  `json:"id"`
	Out   bool    `json:"out"`   // outgoing (a true_ id, or a status element)
	Ack   int     `json:"ack"`   // -1 no status, 0 pending, 1 sent, 2 delivered or read
	Text  *string `json:"text"`  // rebuilt (fact 18); nil without a text element
	Match bool    `json:"match"` // sameText against the text the test passes
}

// ReadBubbles gives, for tests on DOM fixtures, the driver's reading of
// every bubble of the page's open chat, matched against want[i] (or "" when
// want is short).
func ReadBubbles(ctx context.Context, p *Page, want []string) ([]BubbleView, error) {
	ctx, cancel := p.with(ctx)
	defer cancel()
	return eval[[]BubbleView](ctx, p, `(A) => chatBubbles().map((b, i) => ({
		id: bubbleId(b), out: outgoing(b), ack: ackOf(b), text: bubbleText(b), match: sameText(b, (A || [])[i] || '') === true}))`, want)
}

// Foreign tells whether the open chat is another than the one with digits.
func Foreign(ctx context.Context, p *Page, digits string) (bool, error) {
	ctx, cancel := p.with(ctx)
	defer cancel()
	return eval[bool](ctx, p, `(A) => foreign(A)`, digits)
}

// NewBubble gives what WaitAck would take as the new bubble after a click
// whose noted list was before (nil when none shows).
func NewBubble(ctx context.Context, p *Page, text string, before []string) (*Bubble, error) {
	ctx, cancel := p.with(ctx)
	defer cancel()
	return eval[*Bubble](ctx, p, jsOutgoing, map[string]any{"text": text, "before": before, "any": true})
}
