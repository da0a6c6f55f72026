package snapshot

import (
	"path"
	"strings"
)

// lockFileName is the daemon's profile lock file inside each profile dir
// (sessionstore.LockFileName, repeated so that this package does not depend
// on the session store).
const lockFileName = ".wapool.lock"

// exclusion is one rule of what a snapshot leaves out.
type exclusion struct {
	// pattern is a path.Match pattern. Without a '/' it matches the name of
	// a file or dir at any depth; with one it matches that many trailing
	// path components ("Service Worker/CacheStorage" matches
	// Default/Service Worker/CacheStorage). A matching dir is left out with
	// everything below it.
	pattern string
	// why it may go: Chrome rebuilds it, or it is garbage after a graceful
	// close.
	why string
}

// exclusions is the one table of what a snapshot leaves out. Checked against
// the tree of a real profile (Chromium 156, headless, after a graceful close)
// and Chromium's docs/user_data_dir.md. Besides these names, a snapshot holds
// only directories and regular files: symlinks, sockets, FIFOs and devices
// are left out wherever they are.
//
// Kept on purpose (they look like junk but are state): SQLite "-journal" and
// "-wal" files (a WAL can hold committed rows), LevelDB LOCK/LOG files (tiny),
// and the IndexedDB "*.indexeddb.blob" dirs (the app's stored blobs).
var exclusions = []exclusion{
	// Caches: Chrome refills them from the network or the GPU.
	{"Cache", "HTTP disk cache (Default/Cache)"},
	{"Code Cache", "V8's compiled JavaScript and WebAssembly"},
	{"GPUCache", "GPU program cache (per profile, and top level)"},
	{"GPUPersistentCache", "GPU persistent cache (top level, Chromium 15x)"},
	{"DawnCache", "WebGPU (Dawn) shader cache"},
	{"DawnGraphiteCache", "Dawn/Graphite shader cache"},
	{"DawnWebGPUCache", "Dawn WebGPU pipeline cache"},
	{"GraphiteDawnCache", "Graphite/Dawn shader cache"},
	{"GrShaderCache", "Skia (Ganesh) shader cache"},
	{"ShaderCache", "shader cache"},
	{"Service Worker/CacheStorage", "the Cache API's responses; the app downloads its shell again"},
	{"Service Worker/ScriptCache", "service worker scripts; a worker whose script is gone is fetched again"},
	{"Shared Dictionary/cache", "compression dictionaries fetched over HTTP"},
	{"component_crx_cache", "downloaded component packages"},
	{"extensions_crx_cache", "downloaded extension packages"},
	{"optimization_guide_*", "optimization guide hints and models (downloaded)"},
	{"Safe Browsing", "Safe Browsing lists (downloaded)"},
	// Junk of a run: meaningless to the next one, or wrong.
	{"Crashpad", "crash reports and their database"},
	{"BrowserMetrics*", "UMA metrics files (BrowserMetrics/, BrowserMetrics-spare.pma)"},
	{"blob_storage", "Blob API spill files of the last run; Chrome deletes them at start"},
	{"Singleton*", "SingletonLock/Socket/Cookie: the running browser's marks; restored, they would make Chrome think the profile is in use on another host"},
	{"*.tmp", "temporary files"},
	{".org.chromium.Chromium.*", "ImportantFileWriter's temporary files (Chromium): a state file half written when Chrome was killed"},
	{".com.google.Chrome.*", "ImportantFileWriter's temporary files (Google Chrome)"},
	{lockFileName, "the daemon's profile lock; Restore keeps the one in the dir it replaces"},
	{manifestName, "reserved for the snapshot's own manifest"},
}

// excluded reports whether the slash-separated path rel (relative to the
// profile dir, "." for the dir itself) is left out of a snapshot, by a rule
// matching it or any dir above it.
func excluded(rel string) bool {
	if rel == "." || rel == "" {
		return false
	}
	parts := strings.Split(rel, "/")
	for i := range parts {
		for _, e := range exclusions {
			if matchTail(e.pattern, parts[:i+1]) {
				return true
			}
		}
	}
	return false
}

// matchTail reports whether pattern matches the last components of parts,
// one pattern element per component.
func matchTail(pattern string, parts []string) bool {
	elems := strings.Split(pattern, "/")
	if len(elems) > len(parts) {
		return false
	}
	tail := parts[len(parts)-len(elems):]
	for i, el := range elems {
		if ok, _ := path.Match(el, tail[i]); !ok {
			return false
		}
	}
	return true
}
