package fakewa

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestVariantKnob checks the Variant knob on the server side: its default,
// Validate, the control API (which refuses unknown values), what a chat
// open learns, and that VariantSelectors holds a well-formed override for
// each variant.
func TestVariantKnob(t *testing.T) {
	if o := New(Options{Variant: "odd"}).Options(); o.Variant != VariantNone {
		t.Fatalf("an unknown variant through New: %+v", o)
	}
	if err := (Options{Variant: "odd"}).Validate(); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Validate of variant odd: %v", err)
	}
	for _, v := range append([]string{VariantNone}, Variants...) {
		if err := (Options{Build: Build2026, Variant: v}).Validate(); err != nil {
			t.Fatalf("Validate of variant %q: %v", v, err)
		}
	}

	s, _ := newTestServer(t, Options{})
	p, _ := link(t, s, "15550001111")
	open := func() string {
		t.Helper()
		var a struct {
			Variant *string `json:"variant"`
		}
		if st := do(t, s, "GET", "/_fakeapi/open?sid="+p.sid+"&phone=15550002222", nil, &a); st != 200 || a.Variant == nil {
			t.Fatalf("open: %d, variant %v", st, a.Variant)
		}
		return *a.Variant
	}
	if v := open(); v != "" {
		t.Fatalf("a chat open learns variant %q by default", v)
	}
	var c map[string]any
	if do(t, s, "GET", "/_fake/config", nil, &c); c["variant"] != "" {
		t.Fatalf("GET config: variant %v", c["variant"])
	}
	for _, v := range Variants {
		if st := do(t, s, "POST", "/_fake/config", map[string]any{"variant": v}, &c); st != 200 || c["variant"] != v {
			t.Fatalf("POST variant %q: %d %v", v, st, c["variant"])
		}
		if got := open(); got != v {
			t.Fatalf("a chat open after variant %q learns %q", v, got)
		}
	}
	if st := do(t, s, "POST", "/_fake/config", map[string]any{"variant": "send-icon-2"}, nil); st != 400 {
		t.Fatalf("POST an unknown variant: %d, want 400", st)
	}
	if o := s.Options(); o.Variant != VariantComposeWrapper {
		t.Fatalf("a refused POST changed the variant: %q", o.Variant)
	}
	s.SetOptions(func(o *Options) { o.Variant = VariantNone })
	if v := open(); v != "" {
		t.Fatalf("after SetOptions(Variant: \"\") a chat open learns %q", v)
	}

	keys := map[string]bool{"compose": true, "send_button": true, "bubble_text": true, "attach_button": true}
	for _, v := range Variants {
		var m map[string]string
		if err := json.Unmarshal([]byte(VariantSelectors[v]), &m); err != nil || len(m) == 0 {
			t.Fatalf("VariantSelectors[%q] = %q: %v", v, VariantSelectors[v], err)
		}
		for k, sel := range m {
			if !keys[k] || sel == "" || strings.Contains(sel, "\n") {
				t.Fatalf("VariantSelectors[%q]: key %q selector %q", v, k, sel)
			}
		}
	}
	if len(VariantSelectors) != len(Variants) {
		t.Fatalf("VariantSelectors has %d entries for %d variants", len(VariantSelectors), len(Variants))
	}
}
