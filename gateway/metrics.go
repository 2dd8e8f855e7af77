package gateway

import "github.com/prometheus/client_golang/prometheus"

// metrics are the node's Prometheus metrics.
type metrics struct {
	waiting prometheus.Gauge
	polls   *prometheus.CounterVec
	sent    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "webchat_polls_waiting", Help: "Polls waiting in Redis on this node.",
		}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webchat_poll_answers_total", Help: "Polls answered, by outcome (events, timeout, resync, superseded, drained, cancelled, error).",
		}, []string{"outcome"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webchat_messages_sent_total", Help: "Messages stored, by type (single, group).",
		}, []string{"type"}),
	}
	reg.MustRegister(m.waiting, m.polls, m.sent)
	return m
}
