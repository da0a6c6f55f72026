package fakewa

import (
	"bytes"
	"os"
	"path/filepath"
)

// tokenKey is the localStorage key under which the page keeps its device
// token (see web/app.js).
const tokenKey = "WAToken1"

// LoginPersisted says whether Chrome has written the page's login token
// into the profile at profileDir. Chrome commits localStorage a few seconds
// after a write, so a browser SIGKILLed right after a link loses it — as on
// the real page. Tests that kill browsers wait for this first.
func LoginPersisted(profileDir string) bool {
	dir := filepath.Join(profileDir, "Default", "Local Storage", "leveldb")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil && bytes.Contains(b, []byte(tokenKey)) {
			return true
		}
	}
	return false
}
