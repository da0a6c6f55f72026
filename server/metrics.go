package server

import (
	"context"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wapool/wapool/internal/webhook"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// Metrics holds wapool's Prometheus metrics. Counters and the Send latency
// histogram are fed by the supervisor through Observer; sessions by state,
// queue depths, outbox size and browser memory are read from the
// supervisor at each scrape.
type Metrics struct {
	Registry *prometheus.Registry
	GRPC     *grpcprom.ServerMetrics // register its interceptors on the gRPC server

	browserStarts *prometheus.CounterVec
	browserDeaths *prometheus.CounterVec
	sendLatency   *prometheus.HistogramVec
	textMismatch  *prometheus.CounterVec
	contractOK    *prometheus.GaugeVec

	// Events out (events.go): WatchEvents streams and the webhook sender.
	eventStreams     prometheus.Gauge
	eventStreamsCut  prometheus.Counter
	webhookDelivered prometheus.Counter
	webhookRetries   prometheus.Counter
	webhookParked    prometheus.Counter
	webhookPaused    prometheus.Gauge
	// The event log's purges (supervisor housekeeping, hourly).
	eventsPurged      prometheus.Counter
	eventsHeld        prometheus.Gauge
	eventsUndelivered prometheus.Counter
	// Cluster mode: restores from a snapshot older than the last activity.
	staleRestores *prometheus.HistogramVec
}

// NewMetrics registers every metric on a new registry. Call SetSupervisor
// before the first scrape.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		GRPC:     grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram()),
		browserStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wapool_browser_starts_total", Help: "Chrome processes started, by tenant.",
		}, []string{"tenant"}),
		browserDeaths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wapool_browser_crashes_total", Help: "Chrome processes that died or hung (not stopped by wapool), by tenant.",
		}, []string{"tenant"}),
		sendLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wapool_send_duration_seconds",
			Help:    "Time of the last attempt of a message, from SENDING to SENT or FAILED, by result.",
			Buckets: []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60},
		}, []string{"state"}),
	}
	m.eventStreams = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wapool_event_streams", Help: "WatchEvents streams open now.",
	})
	m.textMismatch = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wapool_send_text_mismatch_total",
		Help: "Messages taken as SENT by their new bubble although its text, as the driver rebuilds it, differed from the message's: a page drawing the driver does not know (not clicked again; check the selectors).",
	}, []string{"tenant"})
	m.contractOK = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wapool_page_contract_ok",
		Help: "0 while a tenant's page does not match the page contract at check (a Selectors key): its queue is held until the selectors are fixed and reloaded (SIGHUP); 1 once it matches again. Alert on 0.",
	}, []string{"tenant", "check"})
	m.eventStreamsCut = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wapool_event_streams_cut_total", Help: "WatchEvents streams ended with RESOURCE_EXHAUSTED because the client read too slowly.",
	})
	m.webhookDelivered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wapool_webhook_delivered_total", Help: "Events the webhook endpoint acknowledged with a 2xx.",
	})
	m.webhookRetries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wapool_webhook_retries_total", Help: "Webhook POSTs that failed (network error, timeout, 3xx, 4xx, 5xx) and are made again after a backoff, refusals that pause delivery included.",
	})
	m.webhookParked = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wapool_webhook_dead_letters_total",
		Help: "Events whose webhook POST failed --webhook-max-attempts times, set aside in the dead-letter list (wapoolctl events dead; wapoolctl events redeliver sends them again).",
	})
	m.webhookPaused = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wapool_webhook_paused",
		Help: "1 while the webhook endpoint refuses deliveries (401, 403, 404 or 410: a wrong URL or secret, or a deploy): delivery is paused and retried with backoff, nothing is dropped; else 0.",
	})
	m.eventsPurged = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wapool_events_purged_total", Help: "Events removed from the event log by the hourly purge (--event-retention).",
	})
	m.eventsHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wapool_events_held_undelivered",
		Help: "Events past --event-retention that the last purge kept because a webhook has not delivered them yet; kept up to --event-retention-undelivered.",
	})
	m.eventsUndelivered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wapool_events_purged_undelivered_total",
		Help: "Events purged before a webhook delivered them (older than --event-retention-undelivered): that webhook never gets them. Alert on any increase.",
	})
	m.staleRestores = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wapool_snapshot_stale_restore_behind_seconds",
		Help:    "Cluster mode: restores of a tenant's profile from a snapshot older than its last activity (a failover after activity the snapshot missed), by how far the snapshot was behind: the device's encryption state rolled back by that much (Status shows stale_restore). Alert on any.",
		Buckets: []float64{10, 60, 300, 900, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600},
	}, []string{"tenant"})
	m.Registry.MustRegister(m.staleRestores)
	m.Registry.MustRegister(m.eventStreams, m.eventStreamsCut, m.webhookDelivered, m.webhookRetries, m.webhookParked, m.webhookPaused,
		m.eventsPurged, m.eventsHeld, m.eventsUndelivered)
	m.Registry.MustRegister(m.GRPC, m.textMismatch, m.contractOK, m.browserStarts, m.browserDeaths, m.sendLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SetSupervisor registers the metrics read from sup at each scrape.
func (m *Metrics) SetSupervisor(sup *supervisor.Supervisor) {
	m.Registry.MustRegister(&sessionCollector{sup: sup})
}

var _ supervisor.Observer = (*Metrics)(nil)

// BrowserStarted counts a Chrome start.
func (m *Metrics) BrowserStarted(tenant string) {
	m.browserStarts.WithLabelValues(tenant).Inc()
	m.browserDeaths.WithLabelValues(tenant) // shown at 0 until the first crash
}

// BrowserDied counts a Chrome death.
func (m *Metrics) BrowserDied(tenant string) { m.browserDeaths.WithLabelValues(tenant).Inc() }

// SendFinished observes a finished message.
func (m *Metrics) SendFinished(_ string, took time.Duration, state supervisor.MessageState) {
	m.sendLatency.WithLabelValues(state.String()).Observe(took.Seconds())
}

// PageContract sets a tenant's page contract gauge for check.
func (m *Metrics) PageContract(tenant, check string, ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	m.contractOK.WithLabelValues(tenant, check).Set(v)
}

// EventsPurged counts a purge of the event log.
func (m *Metrics) EventsPurged(r sessionstore.PurgeReport) {
	m.eventsPurged.Add(float64(r.Purged))
	m.eventsHeld.Set(float64(r.Held))
	m.eventsUndelivered.Add(float64(r.Dropped))
}

// StaleRestore observes a restore from a snapshot older than the tenant's
// last activity.
func (m *Metrics) StaleRestore(tenant string, behind time.Duration) {
	m.staleRestores.WithLabelValues(tenant).Observe(behind.Seconds())
}

// SendTextMismatch counts a message whose bubble showed another text.
func (m *Metrics) SendTextMismatch(tenant string) { m.textMismatch.WithLabelValues(tenant).Inc() }

// Webhook returns the webhook sender's Observer: it counts delivered,
// retried and parked events, and shows whether delivery is paused.
func (m *Metrics) Webhook() webhook.Observer { return webhookCounts{m} }

type webhookCounts struct{ m *Metrics }

func (w webhookCounts) Delivered() { w.m.webhookDelivered.Inc() }
func (w webhookCounts) Retried()   { w.m.webhookRetries.Inc() }
func (w webhookCounts) Parked()    { w.m.webhookParked.Inc() }
func (w webhookCounts) Paused(paused bool) {
	if paused {
		w.m.webhookPaused.Set(1)
	} else {
		w.m.webhookPaused.Set(0)
	}
}

var (
	descSessions = prometheus.NewDesc("wapool_sessions", "Tenants by session state.", []string{"state"}, nil)
	descQueue    = prometheus.NewDesc("wapool_queue_depth", "Messages QUEUED or SENDING, by tenant.", []string{"tenant"}, nil)
	descOutbox   = prometheus.NewDesc("wapool_outbox_messages", "Messages stored in the outbox (pending or kept for idempotency).", nil, nil)
	descMemory   = prometheus.NewDesc("wapool_browser_memory_bytes", "PSS of the tenant's Chrome process tree, read at the scrape (a reading less than a minute old is reused).", []string{"tenant"}, nil)
	descRestarts = prometheus.NewDesc("wapool_browser_restarts", "Browser restarts since the daemon started, by tenant.", []string{"tenant"}, nil)
)

// sessionCollector reads the supervisor at scrape time.
type sessionCollector struct{ sup *supervisor.Supervisor }

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descQueue, descOutbox, descMemory, descRestarts} {
		ch <- d
	}
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sessions, err := c.sup.ListSessions(ctx)
	if err != nil {
		return
	}
	byState := map[supervisor.State]int{}
	for _, s := range sessions {
		byState[s.State]++
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(s.Queued), s.TenantID)
		ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(s.MemoryBytes), s.TenantID)
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(s.Restarts), s.TenantID)
	}
	for st := supervisor.StateStarting; st <= supervisor.StateFailed; st++ {
		ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(byState[st]), st.String())
	}
	if n, err := c.sup.OutboxSize(); err == nil {
		ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(n))
	}
}
