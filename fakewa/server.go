package fakewa

import (
	"net/http"
	"sync"
	"time"
)

// Server is the fake WhatsApp Web: an http.Handler serving the page, the
// page's own API and the control API. Create it with New; it is safe for
// concurrent use.
type Server struct {
	mux       *http.ServeMux
	done      chan struct{} // closed by Close: wakes every waiting request
	closeOnce sync.Once
	now       func() time.Time // the clock of every expiry; tests inside the package replace it
	maxUpload int64            // MaxUpload; tests inside the package lower it

	mu          sync.Mutex // guards the fields that follow
	opts        Options
	hang        bool
	hangChanged chan struct{}        // closed and replaced each time hang changes
	hangWaiters int                  // requests waiting in apiHang now
	sessions    map[string]*session  // page instances by session id
	qrCodes     map[string]*qrCode   // every QR code of a live session, by its text
	pairCodes   map[string]*pairCode // every pairing code of a live session, by its 8 characters
	accounts    map[string]*account  // by phone (digits)
	tokens      map[string]string    // valid device token → phone
}

// New returns the fake. Zero-valued fields of opts take their defaults
// (DefaultOptions; a zero EditorDelay stays zero: off). It starts no
// goroutine.
func New(opts Options) *Server {
	s := &Server{
		mux:         http.NewServeMux(),
		done:        make(chan struct{}),
		now:         time.Now,
		maxUpload:   MaxUpload,
		opts:        opts.withDefaults(),
		hangChanged: make(chan struct{}),
		sessions:    map[string]*session{},
		qrCodes:     map[string]*qrCode{},
		pairCodes:   map[string]*pairCode{},
		accounts:    map[string]*account{},
		tokens:      map[string]string{},
	}
	s.routes()
	return s
}

// ServeHTTP serves the page (/ and /send), its assets and API (/_fakeweb/,
// /_fakeapi/) and the control API (/_fake/).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// Close wakes every request that waits inside the fake (the hang switch's
// long poll, the chat lookup delay) so that an http.Server or
// httptest.Server can shut down at once. The fake owns no goroutine; after
// Close it still answers, without waiting. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
}

func (s *Server) routes() {
	m := s.mux
	// The page.
	m.HandleFunc("GET /{$}", s.handlePage)
	m.HandleFunc("GET /send", s.handlePage)
	m.HandleFunc("GET /_fakeweb/{file}", s.handleAsset)
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	// The page's own API (not part of the contract).
	m.HandleFunc("POST /_fakeapi/boot", s.apiBoot)
	m.HandleFunc("GET /_fakeapi/poll", s.apiPoll)
	m.HandleFunc("GET /_fakeapi/qr", s.apiQR)
	m.HandleFunc("POST /_fakeapi/mode", s.apiMode)
	m.HandleFunc("POST /_fakeapi/pairing", s.apiPairing)
	m.HandleFunc("POST /_fakeapi/takeover", s.apiTakeover)
	m.HandleFunc("GET /_fakeapi/chats", s.apiChats)
	m.HandleFunc("GET /_fakeapi/open", s.apiOpen)
	m.HandleFunc("POST /_fakeapi/send", s.apiSend)
	m.HandleFunc("POST /_fakeapi/upload", s.apiUpload)
	m.HandleFunc("GET /_fakeapi/hang", s.apiHang)
	m.HandleFunc("POST /_fakeapi/bye", s.apiBye)
	// The control API (the contract).
	m.HandleFunc("GET /_fake/qr", s.ctlQR)
	m.HandleFunc("POST /_fake/scan", s.ctlScan)
	m.HandleFunc("GET /_fake/messages", s.ctlMessages)
	m.HandleFunc("GET /_fake/pairing", s.ctlPairing)
	m.HandleFunc("POST /_fake/pair", s.ctlPair)
	m.HandleFunc("POST /_fake/logout", s.ctlLogout)
	m.HandleFunc("GET /_fake/config", s.ctlConfig)
	m.HandleFunc("POST /_fake/config", s.ctlConfig)
}
