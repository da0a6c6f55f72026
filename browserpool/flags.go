package browserpool

import (
	"fmt"
	"slices"
	"strconv"
)

// flag is one Chrome command-line switch: a string value gives --name=value,
// true gives --name, false leaves it out.
type flag struct {
	name  string
	value any
}

// DefaultDisabledFeatures is the --disable-features value of every browser:
//   - Translate: no translate bar or language model.
//   - WebUIOmniboxPopup, WebUIOmniboxAimPopup, WebUIOmniboxFullPopup: Chrome
//     156 preloads its address-bar popup as a WebUI page in a renderer of its
//     own, also in headless mode where there is no address bar: about 75 MB
//     PSS per browser for nothing (measured, see memory_test.go).
//
// To disable more features through Config.ExtraFlags, repeat this list.
const DefaultDisabledFeatures = "Translate,WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup"

// baseFlags are the switches of every browser, before Lean and ExtraFlags.
//
// The list starts from nothing rather than from
// chromedp.DefaultExecAllocatorOptions. Of chromedp's defaults (Puppeteer's
// list) it keeps those that suit a long-lived browser on one app, and leaves
// out:
//   - enable-automation: sets navigator.webdriver and shows the automation
//     infobar; WhatsApp Web has no reason to see either.
//   - enable-features=NetworkService,NetworkServiceInProcess: NetworkService
//     is always on, and Chrome 156 ignores NetworkServiceInProcess (measured:
//     the network service stays a process of its own).
//   - disable-popup-blocking, disable-ipc-flooding-protection: test-driver
//     conveniences that make the browser behave less like a user's.
//   - force-color-profile=srgb, hide-scrollbars: screenshot determinism for
//     test suites; ops screenshots should show what a user sees.
//   - use-mock-keychain: macOS only.
//   - disable-features=BlinkGenPropertyTrees: the feature no longer exists.
//
// The ones kept, and DESIGN's own list, each say why below.
func baseFlags(cfg Config, spec Spec) []flag {
	w, h := cfg.windowSize()
	fl := []flag{
		// New headless mode (old headless is a separate binary since 132).
		{"headless", true},
		// No GPU acceleration (a GPU process still runs, for software
		// compositing); the app draws its QR on a 2D canvas.
		{"disable-gpu", true},
		// Shared memory in TMPDIR instead of /dev/shm, which is 64 MB in
		// many containers and makes Chrome crash when full.
		{"disable-dev-shm-usage", true},
		// No background requests to Google services (and no traffic leaving
		// loopback in tests).
		{"disable-background-networking", true},
		// No component downloads; they also pile scratch files in TMPDIR.
		{"disable-component-update", true},
		{"no-first-run", true},
		{"no-default-browser-check", true},
		{"mute-audio", true},
		{"disable-extensions", true},
		// The app's language; fact 13 of the page contract.
		{"lang", "en-US"},
		{"window-size", fmt.Sprintf("%d,%d", w, h)},
		{"user-agent", cfg.userAgent()},
		// Kept from chromedp's defaults: a page that stays at full speed
		// although nobody looks at it (timers of the app's keep-alive, the
		// supervisor's probes), no "page unresponsive" handling, no dialog
		// on a reload after POST.
		{"disable-background-timer-throttling", true},
		{"disable-backgrounding-occluded-windows", true},
		{"disable-renderer-backgrounding", true},
		{"disable-hang-monitor", true},
		{"disable-prompt-on-repost", true},
		// Kept: no crash dumps in the profile, no sync, no phishing model,
		// no default apps, no metrics upload, no Safe Browsing list
		// downloads, no translate bar.
		{"disable-breakpad", true},
		{"disable-sync", true},
		{"disable-client-side-phishing-detection", true},
		{"disable-default-apps", true},
		{"metrics-recording-only", true},
		{"safebrowsing-disable-auto-update", true},
		{"disable-features", DefaultDisabledFeatures},
		// navigator.webdriver stays false: headless mode and the DevTools
		// pipe would set it, and a page may treat such a browser apart.
		{"disable-blink-features", "AutomationControlled"},
		// Cookies are encrypted with a fixed key instead of one from the
		// desktop keyring, which a daemon does not have (without it Chrome
		// can block on a keyring, or lose its cookies when the key changes).
		{"password-store", "basic"},
		{"no-sandbox", cfg.noSandbox()},
		{"user-data-dir", spec.ProfileDir},
	}
	if spec.CacheDir != "" {
		fl = append(fl, flag{"disk-cache-dir", spec.CacheDir})
	}
	return fl
}

// LeanEnabledFeatures is the --enable-features value of the Lean set. To
// enable more features through Config.ExtraFlags, repeat it.
const LeanEnabledFeatures = "NetworkServiceInProcess2"

// LeanFlags are the switches that Config.Lean adds. They trade isolation for
// memory on a browser that only ever shows one app from one origin for one
// tenant:
//   - renderer-process-limit=1: one renderer for the tab and everything it
//     embeds (the app has no cross-site frames to protect).
//   - disable-site-isolation-trials and site-per-process/IsolateOrigins
//     off: no separate process per site for iframes and workers.
//   - SpareRendererForSitePerProcess off: no renderer started ahead of the
//     next navigation.
//   - disable-software-rasterizer: no SwiftShader in the GPU process (which
//     --disable-gpu keeps for compositing); no WebGL, which the app does not
//     use; canvas 2D and screenshots still work.
//
// Those four took a browser from 8 processes to 7 (BenchmarkWarmMemory);
// that set, "lean-v1", took 119 MiB of MemAvailable per warm idle tenant
// (10 tenants linked on fakewa, each after one send and 20 s at rest;
// BenchmarkMemAvailable, docs/memory.md). Issue 13 added three, which
// together bring it to 85 MiB (−35 MiB, −29 %; the same at 20 tenants) and
// 4 processes (browser, zygote, storage service, renderer):
//   - enable-features=NetworkServiceInProcess2: the network service runs as
//     a thread of the browser process instead of a process of its own.
//     Alone: −18 MiB per tenant. (The NetworkServiceInProcess of chromedp's
//     defaults is ignored by Chrome 156; this one is not.) Cost: a crash of
//     the network service ends the browser, which the supervisor restarts,
//     where Chrome used to restart the service alone.
//   - in-process-gpu: the GPU process (with --disable-gpu only the software
//     compositor) runs as a thread of the browser process. Alone: within
//     the noise (−3 MiB of the tenant's own memory: what the GPU process
//     shared with the zygote that forked it stays with that idle zygote).
//     Cost: a compositor crash ends the browser, and the compositor, which
//     reads what the renderer draws, is no longer behind a process
//     boundary.
//   - no-unsandboxed-zygote: with the two above, Chrome's second zygote
//     (the one that forks the unsandboxed GPU and network processes) has
//     nothing left to start, yet holds ~15 MiB of its own; this removes
//     it. Renderers still fork from the other zygote. Alone: within the
//     noise (the GPU and network processes then start without a zygote).
//
// Measured and left out, each on top of this set (within ±2 MiB of it at
// rest on this page, or a cost): more disabled features (BackForwardCache;
// MediaRouter, OptimizationHints, AutofillServerCommunication,
// CalculateNativeWinOcclusion and 10 more), V8 heap flags
// (--js-flags=--max-semi-space-size=1, --optimize-for-size,
// --max-old-space-size=64: a ceiling that turns a growing app into an
// out-of-memory crash), --js-flags=--lite-mode (no WebAssembly, which
// WhatsApp Web needs), --enable-low-end-device-mode, --process-per-site,
// PartitionAlloc without BackupRefPtr (−2 MiB for a use-after-free guard),
// a critical memory-pressure signal after each send, --no-zygote (more
// private memory per browser), and --single-process (−10 MiB, but a hung
// page was no longer noticed and a renderer could not be restarted alone).
// An 800x600 window saves 5 MiB: Config.WindowW/H, not a flag of this set.
// See memavail_test.go and memory_test.go.
func LeanFlags() map[string]any {
	return map[string]any{
		"renderer-process-limit":        "1",
		"disable-site-isolation-trials": true,
		"disable-features":              DefaultDisabledFeatures + ",site-per-process,IsolateOrigins,SpareRendererForSitePerProcess",
		"disable-software-rasterizer":   true,
		"enable-features":               LeanEnabledFeatures,
		"in-process-gpu":                true,
		"no-unsandboxed-zygote":         true,
	}
}

// reservedFlags are set by browserpool (or by chromedp's allocator) and
// cannot be changed through ExtraFlags.
var reservedFlags = []string{"user-data-dir", "disk-cache-dir", "remote-debugging-pipe", "remote-debugging-port", "remote-debugging-address"}

// buildFlags returns the switches of one browser in order: baseFlags, then
// LeanFlags when cfg.Lean, then cfg.ExtraFlags (sorted by name, so that the
// command line is the same on every launch). A flag set again keeps its
// place and takes the new value; false removes it.
func buildFlags(cfg Config, spec Spec) ([]flag, error) {
	fl := baseFlags(cfg, spec)
	set := func(name string, value any) error {
		switch value.(type) {
		case string, bool:
		case int:
			value = strconv.Itoa(value.(int))
		default:
			return fmt.Errorf("browserpool: flag %q: value of type %T, want string, bool or int", name, value)
		}
		if i := slices.IndexFunc(fl, func(f flag) bool { return f.name == name }); i >= 0 {
			fl[i].value = value
		} else {
			fl = append(fl, flag{name, value})
		}
		return nil
	}
	apply := func(m map[string]any) error {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if slices.Contains(reservedFlags, n) {
				return fmt.Errorf("browserpool: flag %q is set by browserpool and cannot be overridden", n)
			}
			if err := set(n, m[n]); err != nil {
				return err
			}
		}
		return nil
	}
	if cfg.Lean {
		if err := apply(LeanFlags()); err != nil {
			return nil, err
		}
	}
	if err := apply(cfg.ExtraFlags); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(fl, func(f flag) bool { return f.value == false }), nil
}

// args renders flags the way Chrome reads them (for tests and logs).
func args(fl []flag) []string {
	out := make([]string, 0, len(fl))
	for _, f := range fl {
		switch v := f.value.(type) {
		case string:
			out = append(out, "--"+f.name+"="+v)
		case bool:
			if v {
				out = append(out, "--"+f.name)
			}
		}
	}
	return out
}
