package gateway

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/prometheus/client_golang/prometheus"

	"webchat/rights"
	"webchat/store/plane"
	"webchat/store/session"
	"webchat/store/sqlgraph"
)

// Options configure a Server. Zero fields take the defaults in DESIGN.md.
type Options struct {
	NodeName       string
	PollTimeout    time.Duration // default poll wait, 25 s
	MaxPollTimeout time.Duration // longest poll wait, 55 s
	PollSlice      time.Duration // one blocking wait inside a poll, 20 s
	// Wakeups, when set, makes polls wait on the node's wake-up
	// subscription instead of in a blocking read in Redis (BLMOVE).
	Wakeups         *plane.Wakeups
	MaxPolls        int           // waiting polls per node (503 above), 0: no limit
	BcryptCost      int           // default 12
	SessionLifetime time.Duration // default 30 days
	SessionIdle     time.Duration // default 14 days
	CookieSecure    bool
	RateSend        float64 // messages per second per user, 0: off
	RateSendBurst   int
	RateAuth        float64 // sign-ups and log-ins per minute per address, 0: off
	RateAuthUser    float64 // log-ins per hour to one username from everywhere, 0: off
	RateAdd         float64 // friend requests and group adds per minute per user, 0: off
	// RateFanout bounds what one user's group messages cost Redis: bytes
	// times recipients per second, with a burst of RateFanoutBurst bytes
	// (default 16 times the rate); 0: off.
	RateFanout      float64
	RateFanoutBurst int
	TrustedProxies  []netip.Prefix
	Registry        prometheus.Registerer // default: a new registry
	Gatherer        prometheus.Gatherer
}

func (o *Options) defaults() {
	if o.PollTimeout <= 0 {
		o.PollTimeout = 25 * time.Second
	}
	if o.MaxPollTimeout <= 0 {
		o.MaxPollTimeout = 55 * time.Second
	}
	if o.PollSlice <= 0 {
		o.PollSlice = 20 * time.Second
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = 12
	}
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = 30 * 24 * time.Hour
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = 14 * 24 * time.Hour
	}
	if o.RateSendBurst <= 0 {
		o.RateSendBurst = int(o.RateSend*2) + 1
	}
	if o.Registry == nil {
		reg := prometheus.NewRegistry()
		o.Registry, o.Gatherer = reg, reg
	}
}

const sessionCookie = "webchat_session"

// Server is one gateway node: an http.Handler plus the drain switch.
// It is safe for concurrent use.
type Server struct {
	log      *slog.Logger
	graph    *sqlgraph.Graph
	plane    *plane.Plane
	sessions *session.Store
	rights   *rights.Service
	sm       *scs.SessionManager
	o        Options
	handler  http.Handler
	metrics  *metrics

	sendLimit     plane.Limit
	authLimit     plane.Limit
	userAuthLimit plane.Limit
	addLimit      plane.Limit
	fanoutLimit   plane.Limit
	hashSlots     chan struct{} // bcrypt work at once (withHashSlot)

	draining atomic.Bool
	poller   *plane.Poller

	dummyOnce sync.Once
	dummy     []byte

	untrustedWarned atomic.Int64 // unix ns of the last noteUntrustedProxy warning

	settingsMu sync.Mutex
	settings   redisSettings // CheckRedisSettings's last finding
}

// NewServer returns a gateway node over its dependencies. It does no I/O.
func NewServer(logger *slog.Logger, graph *sqlgraph.Graph, pl *plane.Plane, sessions *session.Store, static fs.FS, o Options) *Server {
	o.defaults()
	s := &Server{
		log: logger, graph: graph, plane: pl, sessions: sessions, o: o,
		rights: rights.New(graph, pl, logger, rights.Options{RequestID: requestID}),
		poller: pl.NewPoller(plane.PollerOptions{Wakeups: o.Wakeups, Slice: o.PollSlice, MaxWaiting: o.MaxPolls, Log: logger}),
	}
	s.metrics = newMetrics(o.Registry, func() float64 { return float64(s.poller.Waiting()) }, pl.BatchStats)
	if o.RateSend > 0 {
		s.sendLimit = plane.Limit{Per: time.Duration(float64(time.Second) / o.RateSend), Burst: o.RateSendBurst}
	}
	s.hashSlots = newHashSlots()
	if o.RateFanout > 0 {
		burst := o.RateFanoutBurst
		if burst <= 0 {
			burst = int(16 * o.RateFanout)
		}
		s.fanoutLimit = plane.Limit{Per: time.Duration(float64(time.Second) / o.RateFanout), Burst: burst}
	}
	if o.RateAdd > 0 {
		s.addLimit = plane.Limit{Per: time.Duration(float64(time.Minute) / o.RateAdd), Burst: max(int(o.RateAdd), 1)}
	}
	if o.RateAuthUser > 0 {
		s.userAuthLimit = plane.Limit{Per: time.Duration(float64(time.Hour) / o.RateAuthUser), Burst: max(int(o.RateAuthUser), 1)}
	}
	if o.RateAuth > 0 {
		s.authLimit = plane.Limit{Per: time.Duration(float64(time.Minute) / o.RateAuth), Burst: max(int(o.RateAuth), 1)}
	}

	sm := scs.New()
	sm.Store = sessions
	sm.Codec = sessionCodec{}
	sm.Lifetime = o.SessionLifetime
	sm.IdleTimeout = 0 // an idle timeout re-saves the session on every request
	sm.Cookie.Name = sessionCookie
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = o.CookieSecure
	sm.Cookie.Persist = true
	sm.Cookie.Path = "/"
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) { s.writeError(w, r, err) }
	s.sm = sm

	s.handler = s.routes(static)
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Drain starts shutting the node down: readiness fails, waiting polls are
// answered at once (empty, Connection: close) and new requests get 503
// draining, so the balancer retries them elsewhere.
func (s *Server) Drain(ctx context.Context) {
	if s.draining.Swap(true) {
		return
	}
	if err := s.poller.Drain(ctx); err != nil {
		s.log.Warn("wake waiting polls for drain", "err", err)
	}
}

// Close waits for the group news this node has still to send (each at
// most a second and a bound away), or until ctx ends; call it after the
// HTTP server has stopped.
func (s *Server) Close(ctx context.Context) error { return s.rights.Close(ctx) }

// WaitingPolls returns the number of polls waiting on this node.
func (s *Server) WaitingPolls() int { return s.poller.Waiting() }
