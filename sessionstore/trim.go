package sessionstore

import (
	"os"
	"path/filepath"
)

// regenerableDirs are the parts of a Chrome profile that Chrome rebuilds by
// itself: HTTP and code caches, GPU shader caches, the service workers'
// Cache Storage (WhatsApp Web downloads its bundle again) and crash
// reports. The login lives elsewhere (Local Storage, IndexedDB, Cookies)
// and is never touched. Paths are relative to the profile dir; "*" stands
// for every Chrome profile inside it (Default, Profile 1, ...).
var regenerableDirs = []string{
	"*/Cache",
	"*/Code Cache",
	"*/GPUCache",
	"*/DawnGraphiteCache",
	"*/DawnWebGPUCache",
	"*/Service Worker/CacheStorage",
	"*/Service Worker/ScriptCache",
	"GrShaderCache",
	"GraphiteDawnCache",
	"ShaderCache",
	"Crashpad/completed",
	"Crashpad/pending",
	"component_crx_cache",
}

// TrimProfile deletes the regenerable caches of a tenant's profile and
// returns the bytes freed. Call it only while no browser runs on the
// profile (the daemon trims before each start, under the profile lock).
func (s *Store) TrimProfile(id string) (int64, error) {
	profile, err := s.ProfileDir(id)
	if err != nil {
		return 0, err
	}
	var freed int64
	for _, pattern := range regenerableDirs {
		matches, err := filepath.Glob(filepath.Join(profile, pattern))
		if err != nil {
			return freed, err
		}
		for _, dir := range matches {
			n, _ := diskUsage(dir)
			if err := os.RemoveAll(dir); err != nil {
				return freed, err
			}
			freed += n
		}
	}
	return freed, nil
}
