package snapshot

import (
	"path"
	"strings"
	"testing"
)

func TestExcluded(t *testing.T) {
	for rel, want := range map[string]bool{
		".":                                false,
		"Local State":                      false,
		"Last Version":                     false,
		"Variations":                       false,
		"Default":                          false,
		"Default/Cookies":                  false,
		"Default/Cookies-journal":          false,
		"Default/DIPS-wal":                 false,
		"Default/Preferences":              false,
		"Default/Secure Preferences":       false,
		"Default/Network Persistent State": false,
		"Default/IndexedDB":                false,
		"Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/000003.log": false,
		"Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/1/00/3":        false,
		"Default/Local Storage/leveldb/LOCK":                                      false,
		"Default/Service Worker/Database/CURRENT":                                 false,
		"Default/Shared Dictionary/db":                                            false,
		"Profile 1/Cookies":                                                       false,
		"Default/CacheStorage":                                                    false, // only under Service Worker
		"Default/My Cache":                                                        false,

		"Default/Cache":                                       true,
		"Default/Cache/Cache_Data/index":                      true,
		"Profile 1/Cache":                                     true,
		"Default/Code Cache/js/index":                         true,
		"Default/GPUCache":                                    true,
		"GPUCache":                                            true,
		"GPUPersistentCache/GPUCache/X/cache.db-wal":          true,
		"Default/DawnCache":                                   true,
		"Default/DawnGraphiteCache/data_1":                    true,
		"Default/DawnWebGPUCache/index":                       true,
		"GraphiteDawnCache":                                   true,
		"GrShaderCache/data_0":                                true,
		"ShaderCache":                                         true,
		"Default/Service Worker/CacheStorage":                 true,
		"Default/Service Worker/CacheStorage/a/b/index":       true,
		"Default/Service Worker/ScriptCache/index":            true,
		"Default/Shared Dictionary/cache/index":               true,
		"Crashpad/settings.dat":                               true,
		"component_crx_cache":                                 true,
		"extensions_crx_cache":                                true,
		"BrowserMetrics":                                      true,
		"BrowserMetrics-spare.pma":                            true,
		"Safe Browsing":                                       true,
		"Default/optimization_guide_hint_cache_store":         true,
		"Default/optimization_guide_model_metadata_store/LOG": true,
		"Default/blob_storage/1f9d6ec3/0":                     true,
		"SingletonLock":                                       true,
		"SingletonSocket":                                     true,
		"SingletonCookie":                                     true,
		".wapool.lock":                                        true,
		"Default/Preferences.tmp":                             true,
		"Default/.org.chromium.Chromium.Network Persistent State.V5ccea": true,
		".com.google.Chrome.abc123":                                      true,
		manifestName:                                                     true,
	} {
		if got := excluded(rel); got != want {
			t.Errorf("excluded(%q) = %v, want %v", rel, got, want)
		}
	}
}

// TestExclusionPatterns: every pattern of the table is well-formed and says
// why.
func TestExclusionPatterns(t *testing.T) {
	for _, e := range exclusions {
		if e.why == "" {
			t.Errorf("%q: no reason", e.pattern)
		}
		for _, el := range strings.Split(e.pattern, "/") {
			if _, err := path.Match(el, "x"); err != nil || el == "" {
				t.Errorf("%q: bad element %q: %v", e.pattern, el, err)
			}
		}
	}
}
