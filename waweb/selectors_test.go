package waweb

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultSelectorsValid(t *testing.T) {
	if err := DefaultSelectors().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadSelectors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	s, err := LoadSelectors(write("ok.json", `{"compose": "footer .box", "invalid_texts": ["not here"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultSelectors()
	want.Compose = "footer .box"
	want.InvalidTexts = []string{"not here"}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("override: got %+v\nwant %+v", s, want)
	}

	s, err = LoadSelectors(write("nolink.json", `{"chat_link": ""}`))
	if err != nil || s.ChatLink != "" {
		t.Fatalf("empty chat_link must be allowed (turns in-app opening off): %v %q", err, s.ChatLink)
	}

	for name, body := range map[string]string{
		"unknown field":      `{"compose_box": "x"}`,
		"trailing data":      `{"compose": "x"} {}`,
		"empty selector":     `{"pane_side": " "}`,
		"empty list":         `{"phone_login_texts": []}`,
		"empty list entry":   `{"invalid_texts": ["a", ""]}`,
		"bad pattern":        `{"update_browser_pattern": "(unclosed"}`,
		"link without phone": `{"deep_link": "{base}/send"}`,
		"wrong type":         `{"compose": 3}`,
		"not json":           `compose: x`,
	} {
		p := write(strings.ReplaceAll(name, " ", "_")+".json", body)
		if _, err := LoadSelectors(p); err == nil {
			t.Errorf("%s: no error for %s", name, body)
		}
	}
	if _, err := LoadSelectors(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestPhoneFromWID(t *testing.T) {
	for in, want := range map[string]string{
		"15550001111:12@c.us":        "15550001111",
		`"15550001111:3@c.us"`:       "15550001111",
		"15550001111@c.us":           "15550001111",
		"15550001111.0:5@c.us":       "15550001111",
		"15550001111@s.whatsapp.net": "15550001111",
		"":                           "",
		"abc@c.us":                   "",
		"15550001111@g.us":           "",
		"1234@lid":                   "",
		"@c.us":                      "",
	} {
		if got := phoneFromWID(in); got != want {
			t.Errorf("phoneFromWID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStateString(t *testing.T) {
	seen := map[string]bool{}
	for s := StateUnknown; s <= StateUpdateBrowser; s++ {
		name := s.String()
		if seen[name] {
			t.Errorf("state %d: duplicate name %q", s, name)
		}
		seen[name] = true
		if s != StateUnknown && parseState(Snapshot{State: s}.js().State) != s {
			t.Errorf("state %s does not survive the page round trip", s)
		}
	}
}

func TestCheckDigits(t *testing.T) {
	for _, bad := range []string{"", "+1555", "1555 000", "123456789012345678901", "١٢٣"} {
		if checkDigits(bad) == nil {
			t.Errorf("checkDigits(%q) accepted", bad)
		}
	}
	if err := checkDigits("15550002222"); err != nil {
		t.Error(err)
	}
}
