package server

import "github.com/prometheus/client_golang/prometheus"

// AuthMetrics counts refused credentials, by surface ("grpc", "console"):
// an AuthObserver for Auth and the console.
type AuthMetrics struct {
	failures  *prometheus.CounterVec
	throttled *prometheus.CounterVec
}

var _ AuthObserver = (*AuthMetrics)(nil)

// NewAuthMetrics registers wapool_auth_failures_total and
// wapool_auth_throttled_total on reg (the daemon's Metrics.Registry), both
// shown at 0 for the gRPC API and the console.
func NewAuthMetrics(reg prometheus.Registerer) *AuthMetrics {
	m := &AuthMetrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wapool_auth_failures_total",
			Help: "Wrong credentials presented (a bearer token the daemon does not know, or a wrong console sign-in), by surface: grpc or console.",
		}, []string{"surface"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wapool_auth_throttled_total",
			Help: "Attempts refused without their credentials being checked, because their client address had failed too often and must still wait, by surface.",
		}, []string{"surface"}),
	}
	reg.MustRegister(m.failures, m.throttled)
	for _, s := range []string{SurfaceGRPC, "console"} {
		m.failures.WithLabelValues(s)
		m.throttled.WithLabelValues(s)
	}
	return m
}

// AuthFailed counts a wrong credential on surface.
func (m *AuthMetrics) AuthFailed(surface string) { m.failures.WithLabelValues(surface).Inc() }

// AuthThrottled counts an attempt refused unchecked on surface.
func (m *AuthMetrics) AuthThrottled(surface string) { m.throttled.WithLabelValues(surface).Inc() }
