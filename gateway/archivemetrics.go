package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ArchiveMetrics are the archiver's metrics (plane.ArchiveObserver): how
// long messages take to reach SQL, how big the batches are, and how many
// were archived or failed.
type ArchiveMetrics struct {
	lag      prometheus.Histogram
	batch    prometheus.Histogram
	archived prometheus.Counter
	reads    prometheus.Counter
	errors   prometheus.Counter
	reused   prometheus.Counter
}

// NewArchiveMetrics registers the archiver's metrics with reg.
func NewArchiveMetrics(reg prometheus.Registerer) *ArchiveMetrics {
	m := &ArchiveMetrics{
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "webchat_archive_lag_seconds", Help: "From a message's ts to the SQL commit that archived it.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "webchat_archive_batch_messages", Help: "Messages per batch written to SQL.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000},
		}),
		archived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webchat_archived_messages_total", Help: "Messages this node wrote to SQL (a message claimed again after a crash may count twice; SQL keeps it once).",
		}),
		reads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webchat_archived_read_markers_total", Help: "Read markers this node wrote to SQL.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webchat_archive_errors_total", Help: "Batches SQL refused or failed; they stay pending in Redis and are tried again.",
		}),
		reused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webchat_archive_seq_reused_total", Help: "Messages whose seq SQL already held for another message (Redis's counter went back, as when a replica is promoted without the last writes); each is kept under a new seq.",
		}),
	}
	reg.MustRegister(m.lag, m.batch, m.archived, m.reads, m.errors, m.reused)
	return m
}

// Archived records a committed batch.
func (m *ArchiveMetrics) Archived(messages, reads int, lags []time.Duration) {
	if messages > 0 {
		m.batch.Observe(float64(messages))
	}
	m.archived.Add(float64(messages))
	m.reads.Add(float64(reads))
	for _, l := range lags {
		m.lag.Observe(max(l.Seconds(), 0))
	}
}

// SeqReused records messages kept under a new seq.
func (m *ArchiveMetrics) SeqReused(n int) { m.reused.Add(float64(n)) }

// ArchiveFailed records a batch that could not be written.
func (m *ArchiveMetrics) ArchiveFailed() { m.errors.Inc() }
