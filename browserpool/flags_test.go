package browserpool

import (
	"slices"
	"strings"
	"testing"
)

func TestBuildFlagsDefaults(t *testing.T) {
	fl, err := buildFlags(Config{NoSandbox: true}, Spec{ProfileDir: "/p", CacheDir: "/c", TmpDir: "/t"})
	if err != nil {
		t.Fatal(err)
	}
	a := args(fl)
	for _, want := range []string{
		"--headless", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
		"--disable-component-update", "--no-first-run", "--no-default-browser-check", "--mute-audio",
		"--disable-extensions", "--lang=en-US", "--window-size=1280,900", "--user-agent=" + DefaultUserAgent,
		"--user-data-dir=/p", "--disk-cache-dir=/c", "--no-sandbox",
	} {
		if !slices.Contains(a, want) {
			t.Errorf("missing %s in %v", want, a)
		}
	}
	for _, arg := range a {
		for _, never := range []string{"--incognito", "--enable-automation", "--remote-debugging-port"} {
			if strings.HasPrefix(arg, never) {
				t.Errorf("flag %s must never be set", arg)
			}
		}
	}
	// Without a cache dir Chrome keeps its default.
	fl, _ = buildFlags(Config{}, Spec{ProfileDir: "/p"})
	if slices.ContainsFunc(args(fl), func(s string) bool { return strings.HasPrefix(s, "--disk-cache-dir") }) {
		t.Error("disk-cache-dir set without Spec.CacheDir")
	}
}

func TestBuildFlagsOverrides(t *testing.T) {
	cfg := Config{
		WindowW: 800, UserAgent: "UA/1", Lean: true,
		ExtraFlags: map[string]any{"mute-audio": false, "lang": "de-DE", "js-flags": "--max-old-space-size=256", "renderer-process-limit": 2},
	}
	fl, err := buildFlags(cfg, Spec{ProfileDir: "/p"})
	if err != nil {
		t.Fatal(err)
	}
	a := args(fl)
	for _, want := range []string{"--window-size=800,900", "--user-agent=UA/1", "--lang=de-DE",
		"--js-flags=--max-old-space-size=256", "--renderer-process-limit=2", "--disable-site-isolation-trials",
		"--disable-software-rasterizer"} {
		if !slices.Contains(a, want) {
			t.Errorf("missing %s in %v", want, a)
		}
	}
	if slices.Contains(a, "--mute-audio") {
		t.Error("false did not remove --mute-audio")
	}
	if n := len(slices.DeleteFunc(slices.Clone(a), func(s string) bool { return !strings.HasPrefix(s, "--lang=") })); n != 1 {
		t.Errorf("%d --lang flags", n)
	}
	// The same config gives the same command line every time.
	fl2, _ := buildFlags(cfg, Spec{ProfileDir: "/p"})
	if !slices.Equal(a, args(fl2)) {
		t.Error("flag order not stable")
	}

	for _, bad := range []map[string]any{
		{"user-data-dir": "/x"}, {"disk-cache-dir": "/x"}, {"remote-debugging-port": "9222"}, {"lang": 1.5},
	} {
		if _, err := buildFlags(Config{ExtraFlags: bad}, Spec{ProfileDir: "/p"}); err == nil {
			t.Errorf("ExtraFlags %v accepted", bad)
		}
	}
}

func TestLeanFlags(t *testing.T) {
	fl, err := buildFlags(Config{Lean: true}, Spec{ProfileDir: "/p"})
	if err != nil {
		t.Fatal(err)
	}
	a := args(fl)
	for _, want := range []string{
		"--renderer-process-limit=1", "--disable-site-isolation-trials", "--disable-software-rasterizer",
		"--disable-features=" + DefaultDisabledFeatures + ",site-per-process,IsolateOrigins,SpareRendererForSitePerProcess",
		"--enable-features=NetworkServiceInProcess2", "--in-process-gpu", "--no-unsandboxed-zygote",
	} {
		if !slices.Contains(a, want) {
			t.Errorf("missing %s in %v", want, a)
		}
	}
	// Without Lean none of them; ExtraFlags can take one back or replace
	// the features.
	fl, _ = buildFlags(Config{}, Spec{ProfileDir: "/p"})
	for _, arg := range args(fl) {
		if strings.HasPrefix(arg, "--enable-features") || arg == "--in-process-gpu" || arg == "--no-unsandboxed-zygote" {
			t.Errorf("%s without Lean", arg)
		}
	}
	fl, _ = buildFlags(Config{Lean: true, ExtraFlags: map[string]any{"in-process-gpu": false, "enable-features": LeanEnabledFeatures + ",Foo"}}, Spec{ProfileDir: "/p"})
	a = args(fl)
	if slices.Contains(a, "--in-process-gpu") || !slices.Contains(a, "--enable-features=NetworkServiceInProcess2,Foo") {
		t.Errorf("ExtraFlags over Lean: %v", a)
	}
}
