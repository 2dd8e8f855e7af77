package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"webchat/store/plane"
)

// metrics are the node's Prometheus metrics.
type metrics struct {
	waiting  prometheus.GaugeFunc
	polls    *prometheus.CounterVec
	sent     *prometheus.CounterVec
	fanout   prometheus.Histogram
	latency  prometheus.Histogram
	requests *prometheus.CounterVec
	unsafe   *prometheus.GaugeVec // CheckRedisSettings's findings
	// requests with X-Forwarded-For from a peer not in TRUSTED_PROXIES
	untrusted prometheus.Counter
	typing    prometheus.Counter // typing notices fanned out (not the throttled ones)
}

// newMetrics registers the node's metrics; waiting reads the number of
// waiting polls the server already keeps, rather than a second count, and
// batch the plane's batched script calls.
func newMetrics(reg prometheus.Registerer, waiting func() float64, batch func() plane.BatchStats) *metrics {
	m := &metrics{
		waiting: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "webchat_polls_waiting", Help: "Polls waiting on this node.",
		}, waiting),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webchat_poll_answers_total", Help: "Polls answered, by outcome (events, timeout, resync, superseded, drained, cancelled, error).",
		}, []string{"outcome"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webchat_messages_sent_total", Help: "Messages stored, by type (single, group).",
		}, []string{"type"}),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "webchat_message_fanout", Help: "Users a message was delivered to (recipients and the sender's other devices).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000},
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "webchat_delivery_latency_seconds", Help: "From a message's ts (stored) to the poll answer that carries it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webchat_http_requests_total", Help: "HTTP requests by route template and status.",
		}, []string{"route", "status"}),
		unsafe: newUnsafeGauge(),
		typing: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webchat_typing_fanouts_total", Help: "Typing notices sent to the conversation (one more within 2 s of the last is dropped, not counted).",
		}),
		untrusted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webchat_untrusted_forwarded_total", Help: "Requests that carried X-Forwarded-For from a peer not in TRUSTED_PROXIES (the header was ignored).",
		}),
	}
	reg.MustRegister(m.waiting, m.polls, m.sent, m.fanout, m.latency, m.requests, m.unsafe, m.untrusted, m.typing,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "webchat_redis_pipelines_total", Help: "Pipelines of script calls sent to Redis (all requests' calls that were waiting go together).",
		}, func() float64 { return float64(batch().Pipelines) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "webchat_redis_pipelined_calls_total", Help: "Script calls sent in those pipelines; divided by the pipelines, the mean batch.",
		}, func() float64 { return float64(batch().Calls) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "webchat_redis_calls_abandoned_total", Help: "Script calls given up before they were sent: their request ended, or they waited CallWait (4 s), or the node was stopping.",
		}, func() float64 { return float64(batch().Abandoned) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "webchat_redis_calls_queued", Help: "Script calls waiting to be sent to Redis now.",
		}, func() float64 { return float64(batch().Queued) }),
	)
	return m
}

// RedisErrorCounter registers webchat_redis_errors_total on reg, for the
// plane's error hook (plane.NewErrorHook) on the node's clients.
func RedisErrorCounter(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "webchat_redis_errors_total", Help: "Redis commands that failed (not counting nil replies)."})
	reg.MustRegister(c)
	return c
}
