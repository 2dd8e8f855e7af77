package gateway

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"webchat/store/plane"
)

// redisSettings is what the last check of Redis's settings found, for
// /readyz and the metric.
type redisSettings struct {
	checked bool
	err     error
	unsafe  []plane.UnsafeSetting
}

// summary is /readyz's word for it: ok, unknown (Redis did not say), or the
// unsafe settings, as setting=value on addr.
func (rs redisSettings) summary() string {
	switch {
	case !rs.checked || rs.err != nil:
		return "unknown"
	case len(rs.unsafe) == 0:
		return "ok"
	}
	parts := make([]string, len(rs.unsafe))
	for i, u := range rs.unsafe {
		parts[i] = u.Setting + "=" + u.Value + " on " + u.Addr
	}
	return "unsafe: " + strings.Join(parts, ", ")
}

// CheckRedisSettings reads Redis's eviction and persistence settings
// (plane.Plane.CheckSettings), logs a warning that names each setting
// which can lose data when what it finds changes (so once at start, and
// again when Redis restarts or fails over with other settings), and keeps
// the result for /readyz and webchat_redis_unsafe_setting. Safe for
// concurrent use.
func (s *Server) CheckRedisSettings(ctx context.Context) {
	unsafe, err := s.plane.CheckSettings(ctx)
	now := redisSettings{checked: true, err: err, unsafe: unsafe}
	s.settingsMu.Lock()
	before := s.settings
	s.settings = now
	s.settingsMu.Unlock()
	s.metrics.unsafe.Reset()
	for _, u := range unsafe {
		s.metrics.unsafe.WithLabelValues(u.Addr, u.Setting, u.Value).Set(1)
	}
	switch {
	case err != nil:
		if before.err == nil {
			s.log.Warn("cannot read Redis's settings; make sure it runs with maxmemory-policy noeviction and appendonly yes", "err", err)
		}
	case before.checked && before.err == nil && slices.Equal(before.unsafe, unsafe):
	default:
		for _, u := range unsafe {
			s.log.LogAttrs(ctx, slog.LevelWarn, "Redis can lose data: "+u.Risk,
				slog.String("redis", u.Addr), slog.String("setting", u.Setting), slog.String("value", u.Value))
		}
		if len(unsafe) == 0 && before.checked {
			s.log.Info("Redis's settings are safe again (maxmemory-policy noeviction, appendonly yes)")
		}
	}
}

// WatchRedisSettings runs CheckRedisSettings now and every interval until
// ctx ends.
func (s *Server) WatchRedisSettings(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s.CheckRedisSettings(cctx)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func newUnsafeGauge() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "webchat_redis_unsafe_setting",
		Help: "1 for each Redis setting under which Redis can lose data (an eviction policy, no AOF), by server, setting and value; none when Redis is safe.",
	}, []string{"redis", "setting", "value"})
}
