package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/wapool/wapool/internal/webhook"
	"github.com/wapool/wapool/sessionstore"
)

// config is wapoold's configuration. Every flag has an environment twin:
// --data-dir ↔ WAPOOL_DATA_DIR. A flag given on the command line wins over
// its twin.
type config struct {
	Listen      string // gRPC address; loopback needs no credentials
	HTTPAddr    string // the API as HTTP/JSON, SSE and /openapi.json; "" = off
	DataDir     string // wapool.db, profiles/, cache/, tmp/, media/
	ProfilesDir string // "" = <data-dir>/profiles; may be an old chrome_data/
	TargetURL   string // the WhatsApp Web origin (fakewa's address in tests)
	Chromium    string // browser binary; "" = chromium on PATH
	Selectors   string // JSON file overriding the page selectors; "" = defaults; re-read on SIGHUP
	// ContractHoldMax: messages held by a broken page contract fail after it.
	ContractHoldMax time.Duration
	// SelfcheckEvery: period of the light doctor on idle tenants; 0 = off.
	SelfcheckEvery time.Duration
	MetricsAddr    string // Prometheus /metrics; "" = off
	ConsoleAddr    string // the web console; "" = off
	LogFormat      string // json | console
	LogLevel       string // debug | info | warn | error

	SendInterval  time.Duration // least time between two sends of one tenant; 0 = no pacing
	SendJitter    time.Duration // random extra wait added to SendInterval
	QueueLimit    int           // messages waiting per tenant before RESOURCE_EXHAUSTED
	MaxMediaBytes int64         // the largest file Send takes
	WarmParallel  int           // browsers started at once during warm-up
	StopTimeout   time.Duration // bound on the graceful stop after SIGTERM

	MaxWarm          int           // browsers running at once; default from the machine's memory
	IdleHibernate    time.Duration // idle READY tenants hibernate after this; 0 = never
	MaxBrowserMemory int64         // bytes of PSS past which a browser is recycled when idle; 0 = no bound
	LeanChrome       bool          // the lean Chrome flags (see browserpool.LeanFlags)
	FailedCoolDown   time.Duration // FAILED tenants are tried again after this
	PruneInactive    time.Duration // delete tenants inactive longer than this; 0 = never
	CrashLoop        int           // browser deaths within 2 minutes that make a tenant FAILED
	ProbeTimeout     time.Duration // a page that does not answer a probe this fast is hung

	AuthTokens      string // bearer tokens file (TOKEN [tenants=… role=…] lines); when given, required on every address
	TLSCert         string // with TLSKey: TLS; with TLSClientCA too: mutual TLS
	TLSKey          string
	TLSClientCA     string
	TLSClientScopes string // CN-or-SAN [tenants=… role=…] lines: client certificates' scopes; "" = admin on every tenant
	Insecure        bool   // allow a non-loopback --listen (or console) without credentials, or with tokens in clear
	ConsoleTLSCert  string // the console's HTTPS certificate; "" = --tls-cert's, if any
	ConsoleTLSKey   string
	ConsoleTLSProxy bool // a TLS-terminating proxy serves the console: Secure cookies

	WebhookURL         string // POST every event here; "" = no webhook
	WebhookSecretFile  string // HMAC-SHA256 keys of the webhook signatures, one or two lines; required with WebhookURL
	WebhookMaxAttempts int    // failed POSTs of one event that park it in the dead-letter list
	// EventRetention: events older than this are purged hourly, except
	// those a webhook has not delivered, kept up to EventRetentionUndelivered.
	EventRetention            time.Duration
	EventRetentionUndelivered time.Duration

	// Cluster mode (cluster.go): on with a postgres:// Store.
	Store         string        // "" = the local bbolt file; postgres://… = the shared store
	ProfileStore  string        // gocloud.dev/blob URL of the profile snapshots
	NodeID        string        // this node's name; default: the host name
	AdvertiseAddr string        // where the other nodes reach this node's gRPC
	LeaseTTL      time.Duration // a tenant's lease lasts this long unless renewed
	SnapshotEvery time.Duration // a fresh snapshot when the newest is older; 0 = only the usual moments
	// SnapshotAfterActivity: a snapshot at the first idle moment after
	// activity, at most this often; 0 = off.
	SnapshotAfterActivity time.Duration
	// SnapshotKeyFile holds the age keys that seal the snapshots; required
	// in cluster mode unless SnapshotUnencrypted.
	SnapshotKeyFile     string
	SnapshotUnencrypted bool // allow plaintext snapshots (no key)
}

// maxMediaBytesLimit bounds --max-media-bytes: a gRPC message holds the
// whole file, and its size must fit gRPC's int32 limits with room to spare.
const maxMediaBytesLimit = 1 << 30

// clustered tells whether the config asks for cluster mode.
func (c config) clustered() bool { return c.Store != "" }

// perBrowserBudget is the memory the default --max-warm reserves per warm
// tenant: WhatsApp Web grows from about 100 MB to 500 MB over hours, and
// --max-browser-memory recycles a browser past 600 MiB.
const perBrowserBudget = 300 << 20

// defaultMaxWarm derives --max-warm from the machine's memory: what is left
// after 1 GiB for the system and the daemon, 300 MiB per browser, at least 1.
func defaultMaxWarm(memTotal int64) int {
	return max(1, int((memTotal-1<<30)/perBrowserBudget))
}

// memTotal is the memory the daemon may use: the cgroup's memory.max when
// one is set (a container's limit), else MemTotal of /proc/meminfo; 4 GiB
// when unknown.
func memTotal() int64 {
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		var limit int64
		if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &limit); err == nil && limit > 0 {
			return min(limit, hostMemTotal())
		}
	}
	return hostMemTotal()
}

func hostMemTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb); err == nil && kb > 0 {
					return kb << 10
				}
			}
		}
	}
	return 4 << 30
}

// parseConfig reads the flags, then the environment twin of every flag not
// given: a twin that is set applies even when empty, so WAPOOL_METRICS_ADDR=
// turns the metrics listener off as --metrics-addr "" does. lookupEnv is
// os.LookupEnv in the daemon.
func parseConfig(args []string, lookupEnv func(string) (string, bool)) (config, error) {
	var c config
	fs := newFlagSet(&c)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := envTwin(f.Name)
		if v, ok := lookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if (c.WebhookURL == "") != (c.WebhookSecretFile == "") {
		return c, errors.New("--webhook-url and --webhook-secret-file go together")
	}
	if c.WebhookMaxAttempts < 1 {
		return c, errors.New("--webhook-max-attempts must be at least 1")
	}
	if c.EventRetention <= 0 || c.EventRetentionUndelivered < c.EventRetention {
		return c, errors.New("--event-retention must be positive, and --event-retention-undelivered at least as long")
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		return c, fmt.Errorf("--log-format %q: want json or console", c.LogFormat)
	}
	if c.SendInterval < 0 || c.SendJitter < 0 {
		return c, errors.New("--send-interval and --send-jitter must not be negative")
	}
	if c.MaxMediaBytes < 1 || c.MaxMediaBytes > maxMediaBytesLimit {
		return c, fmt.Errorf("--max-media-bytes must be from 1 to %d (1 GiB)", maxMediaBytesLimit)
	}
	if c.QueueLimit < 1 || c.WarmParallel < 1 || c.MaxWarm < 1 || c.CrashLoop < 1 {
		return c, errors.New("--queue-limit, --warm-parallel, --max-warm and --crash-loop must be at least 1")
	}
	if c.IdleHibernate < 0 || c.MaxBrowserMemory < 0 || c.FailedCoolDown < 0 || c.PruneInactive < 0 || c.ProbeTimeout < 0 {
		return c, errors.New("--idle-hibernate, --max-browser-memory and --failed-cooldown must not be negative")
	}
	if err := c.checkConsole(); err != nil {
		return c, err
	}
	if err := c.checkCluster(); err != nil {
		return c, err
	}
	return c, nil
}

// checkConsole checks the console's TLS flags.
func (c *config) checkConsole() error {
	if (c.ConsoleTLSCert == "") != (c.ConsoleTLSKey == "") {
		return errors.New("--console-tls-cert and --console-tls-key go together")
	}
	if c.ConsoleAddr == "" && (c.ConsoleTLSCert != "" || c.ConsoleTLSProxy) {
		return errors.New("--console-tls-cert, --console-tls-key and --console-behind-tls-proxy need --console-addr")
	}
	return nil
}

// newFlagSet defines every wapoold flag, bound to c's fields, on a new flag
// set. The flags' environment twins, deploy/systemd/wapoold.env and the
// README's flag table follow this list (flagdocs_test.go checks them).
func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("wapoold", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:7440", "gRPC listen address")
	fs.StringVar(&c.HTTPAddr, "http-addr", "", "the API as HTTP/JSON (grpc-gateway), events as Server-Sent Events at /v1/events and the OpenAPI document at /openapi.json (empty: off); same credentials, scopes and TLS as --listen, and the same rules off loopback")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "state directory (database, profiles, caches)")
	fs.StringVar(&c.ProfilesDir, "profiles-dir", "", "Chrome profiles directory (default <data-dir>/profiles; may be an existing chrome_data/)")
	fs.StringVar(&c.TargetURL, "target-url", "https://web.whatsapp.com", "WhatsApp Web base URL (fakewa's address in tests and the demo)")
	fs.StringVar(&c.Chromium, "chromium", "", "Chromium binary (default: chromium on PATH)")
	fs.StringVar(&c.Selectors, "selectors", "", "JSON file overriding the page selectors; re-read on SIGHUP (a file that does not parse is refused and the selectors in force stay)")
	fs.DurationVar(&c.ContractHoldMax, "contract-hold-max", 6*time.Hour, "while a tenant's page does not match the page contract (wapoolctl doctor names the check) its messages stay QUEUED; after this they end FAILED with reason PAGE_CONTRACT")
	fs.DurationVar(&c.SelfcheckEvery, "selfcheck-every", 15*time.Minute, "period of the light, read-only doctor on warm idle tenants, so that a WhatsApp Web change is noticed before a send needs it (0: off)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "127.0.0.1:9464", "Prometheus metrics address (empty: off)")
	fs.StringVar(&c.ConsoleAddr, "console-addr", "", "web console address (empty: off; loopback only without --auth-tokens; same tokens and scopes as the API; off loopback it needs TLS, --console-behind-tls-proxy or --insecure)")
	fs.StringVar(&c.ConsoleTLSCert, "console-tls-cert", "", "the console's HTTPS certificate chain (PEM), re-read on SIGHUP (default: --tls-cert's, when given; else plain HTTP)")
	fs.StringVar(&c.ConsoleTLSKey, "console-tls-key", "", "the key of --console-tls-cert (PEM)")
	fs.BoolVar(&c.ConsoleTLSProxy, "console-behind-tls-proxy", false, "a TLS-terminating proxy serves the console: its cookies are Secure, a non-loopback --console-addr is allowed in plain HTTP, and sign-ins are counted by the proxy's last X-Forwarded-For address")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.SendInterval, "send-interval", 3*time.Second, "least time between two sends of one tenant (0: no pacing)")
	fs.DurationVar(&c.SendJitter, "send-jitter", 2*time.Second, "random extra wait, up to this, added to --send-interval")
	fs.IntVar(&c.QueueLimit, "queue-limit", 1000, "messages waiting per tenant before Send answers RESOURCE_EXHAUSTED")
	fs.Int64Var(&c.MaxMediaBytes, "max-media-bytes", 16<<20, "the largest file Send or SendFile takes, in bytes (a larger one is INVALID_ARGUMENT, reason MEDIA_TOO_LARGE); the gRPC and HTTP request limits follow it; files are kept in <data-dir>/media (and in cluster mode in --profile-store) while a message needs them")
	fs.IntVar(&c.WarmParallel, "warm-parallel", 2, "browsers started at once (fewer while the CPUs are saturated: one at a time then)")
	fs.DurationVar(&c.StopTimeout, "stop-timeout", 20*time.Second, "bound on the graceful stop after SIGTERM: a send in flight may finish and every browser closes gracefully within it")
	fs.IntVar(&c.MaxWarm, "max-warm", defaultMaxWarm(memTotal()), "browsers running at once; the least recently used idle tenant hibernates to make room (default: (memory - 1 GiB) / 300 MiB)")
	fs.DurationVar(&c.IdleHibernate, "idle-hibernate", 30*time.Minute, "an idle READY tenant hibernates after this (0: never)")
	fs.Int64Var(&c.MaxBrowserMemory, "max-browser-memory", 600<<20, "bytes of PSS past which a browser is restarted gracefully when idle (0: no bound)")
	fs.BoolVar(&c.LeanChrome, "lean-chrome", true, "start Chrome with the lean memory flags")
	fs.StringVar(&c.AuthTokens, "auth-tokens", "", "bearer tokens file, re-read on SIGHUP: a line is TOKEN (admin on every tenant) or TOKEN tenants=PATTERN[,PATTERN…] role=send|ops|admin (either key may be left out); tokens have at least 32 characters; when given, required on every address")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "server certificate (PEM), with --tls-key: TLS; with --tls-client-ca too: mutual TLS; re-read on SIGHUP")
	fs.StringVar(&c.TLSKey, "tls-key", "", "server key (PEM)")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", "", "CA certificates (PEM) that sign the client certificates: mutual TLS")
	fs.StringVar(&c.TLSClientScopes, "tls-client-scopes", "", "file of CN-or-SAN [tenants=PATTERN,…] [role=send|ops|admin|node] lines giving client certificates their scope (first match wins, * any; an unnamed certificate is refused; role node: another cluster node); re-read on SIGHUP (empty: every certificate is admin on every tenant)")
	fs.BoolVar(&c.Insecure, "insecure", false, "allow a non-loopback --listen without credentials, and a non-loopback --listen or --console-addr with tokens but no TLS (tokens in clear)")
	fs.StringVar(&c.WebhookURL, "webhook-url", "", "POST every session and message event here as JSON, timestamped and signed, retried with backoff; 401/403/404/410 pause delivery (empty: no webhook)")
	fs.StringVar(&c.WebhookSecretFile, "webhook-secret-file", "", "file holding the webhook's HMAC-SHA256 secret, one per line: two while a secret rotates, and both sign (X-Wapool-Signature); required with --webhook-url; re-read on SIGHUP")
	fs.IntVar(&c.WebhookMaxAttempts, "webhook-max-attempts", webhook.DefaultMaxAttempts, "failed POSTs of one webhook event (5xx, 4xx but 401/403/404/410, network errors) after which it is parked in the dead-letter list and the next events go on (wapoolctl events dead, events redeliver)")
	fs.DurationVar(&c.EventRetention, "event-retention", sessionstore.DefaultEventRetention, "events (WatchEvents, SSE, webhooks) are kept this long, then purged hourly; a cursor older than the oldest kept is OUT_OF_RANGE")
	fs.DurationVar(&c.EventRetentionUndelivered, "event-retention-undelivered", sessionstore.DefaultUndeliveredRetention, "an event a webhook has not delivered yet is kept past --event-retention up to this long (logged, wapool_events_held_undelivered), then purged anyway (logged, wapool_events_purged_undelivered_total); at least --event-retention")
	fs.DurationVar(&c.PruneInactive, "prune-inactive", 0, "delete tenants (profile included) inactive longer than this, checked hourly (0: never)")
	fs.DurationVar(&c.ProbeTimeout, "probe-timeout", 1500*time.Millisecond, "a page that does not answer its liveness probe (every 5 s when idle, and before each page operation) within this is hung and its browser restarted")
	fs.IntVar(&c.CrashLoop, "crash-loop", 5, "browser deaths of one tenant within 2 minutes that make it FAILED (a crash loop)")
	fs.DurationVar(&c.FailedCoolDown, "failed-cooldown", 5*time.Minute, "a FAILED tenant is tried again after this (a Link tries at once)")
	fs.StringVar(&c.Store, "store", "", "shared store: postgres://… runs this daemon as a cluster node (empty: the local bbolt file in --data-dir)")
	fs.StringVar(&c.ProfileStore, "profile-store", "", "cluster mode: object storage of the profile snapshots, a gocloud.dev/blob URL (s3://bucket?region=…&prefix=wapool/, gs://bucket?prefix=…, azblob://container, file:///dir)")
	fs.StringVar(&c.NodeID, "node-id", "", "cluster mode: this node's name (default: the host name)")
	fs.StringVar(&c.AdvertiseAddr, "advertise-addr", "", "cluster mode: host:port where the other nodes reach this node's gRPC (default: --listen)")
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", 15*time.Second, "cluster mode: a tenant's lease lasts this long unless renewed (every third of it); a dead node's tenants move after it")
	fs.DurationVar(&c.SnapshotEvery, "snapshot-every", 0, "cluster mode: snapshot a tenant's profile again, at an idle moment, when its newest snapshot is older than this (0: only after a link, a move and a stop)")
	fs.DurationVar(&c.SnapshotAfterActivity, "snapshot-after-activity", 5*time.Minute, "cluster mode: snapshot a tenant at its first idle moment (READY, nothing queued, 10 s quiet) after a send or a link, at most this often, so that a failover restores a recent device (each costs a graceful browser restart; 0: off)")
	fs.StringVar(&c.SnapshotKeyFile, "snapshot-key-file", "", "cluster mode: age X25519 keys (AGE-SECRET-KEY-1…, one per line, file mode 0600) that encrypt and authenticate the profile snapshots: the first seals new ones, every key opens old ones (rotation); required unless --snapshot-unencrypted")
	fs.BoolVar(&c.SnapshotUnencrypted, "snapshot-unencrypted", false, "cluster mode: store the profile snapshots (the WhatsApp credentials) in plaintext, unauthenticated, without --snapshot-key-file")
	return fs
}

// envTwin is the environment twin of a flag: --data-dir ↔ WAPOOL_DATA_DIR.
func envTwin(name string) string {
	return "WAPOOL_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// checkCluster checks the cluster flags and fills their defaults.
func (c *config) checkCluster() error {
	if !c.clustered() {
		if c.ProfileStore != "" || c.AdvertiseAddr != "" || c.SnapshotKeyFile != "" || c.SnapshotUnencrypted {
			return errors.New("--profile-store, --advertise-addr, --snapshot-key-file and --snapshot-unencrypted need --store postgres://… (cluster mode)")
		}
		return nil
	}
	if !strings.HasPrefix(c.Store, "postgres://") && !strings.HasPrefix(c.Store, "postgresql://") {
		return fmt.Errorf("--store: want a postgres:// URL, got %q", redactURL(c.Store))
	}
	if c.ProfileStore == "" {
		return errors.New("--store postgres://… needs --profile-store: the nodes share the profiles through it")
	}
	if c.LeaseTTL < time.Second {
		return errors.New("--lease-ttl must be at least 1s")
	}
	if c.SnapshotEvery < 0 || c.SnapshotAfterActivity < 0 {
		return errors.New("--snapshot-every and --snapshot-after-activity must not be negative")
	}
	switch {
	case c.SnapshotKeyFile == "" && !c.SnapshotUnencrypted:
		return errors.New("cluster mode needs --snapshot-key-file (age keys that encrypt the profile snapshots: they hold the WhatsApp credentials), or --snapshot-unencrypted to store them in plaintext")
	case c.SnapshotKeyFile != "" && c.SnapshotUnencrypted:
		return errors.New("--snapshot-key-file and --snapshot-unencrypted exclude each other")
	}
	if c.NodeID == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("--node-id: no host name to default to: %w", err)
		}
		c.NodeID = h
	}
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.Listen
	}
	return nil
}

// redactURL drops the password of a URL for error messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
