package fakewa

import (
	"embed"
	"net/http"
	"strings"
)

//go:embed web
var web embed.FS

// handlePage serves the app for / and /send, or the "update Chrome" page to
// a user agent that says HeadlessChrome (fact 13). The script checks
// navigator.userAgent too.
func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	name := "web/index.html"
	if strings.Contains(r.UserAgent(), "HeadlessChrome") {
		name = "web/update.html"
	}
	b, err := web.ReadFile(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

// handleAsset serves the scripts and the style sheet.
func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	types := map[string]string{"app.js": "text/javascript; charset=utf-8", "draw.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
	file := r.PathValue("file")
	ct, ok := types[file]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := web.ReadFile("web/" + file)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Write(b)
}
