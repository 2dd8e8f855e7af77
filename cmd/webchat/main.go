// Command webchat runs one webchat gateway node. Configuration comes from
// the environment or the equivalent flags (webchat -h lists them).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"webchat/gateway"
	"webchat/store/plane"
	"webchat/store/session"
	"webchat/store/sqlgraph"
	"webchat/ui"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "webchat:", err)
		os.Exit(1)
	}
}

// run starts a node and serves until ctx is done, then drains and stops.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))
	if cfg.NodeName != "" {
		logger = logger.With("node", cfg.NodeName)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rdb, block, closeRedis, err := openRedis(ctx, cfg, logger, plane.NewErrorHook(gateway.RedisErrorCounter(reg).Inc))
	if err != nil {
		return err
	}
	defer closeRedis()

	dsn := cfg.DatabaseURL
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create data folder: %w", err)
		}
	}
	graph, err := sqlgraph.Open(ctx, dsn)
	if err != nil {
		return fmt.Errorf("open graph store: %w", err)
	}
	defer graph.Close()

	pl := plane.New(rdb, block, graph, plane.Options{
		Prefix: cfg.RedisPrefix, HistoryCap: cfg.HistoryCap, InboxCap: cfg.InboxCap, DeviceTTL: cfg.DeviceTTL,
		Archive: graph, ArchiveDelay: cfg.ArchiveDelay, People: graph, PresenceGrace: cfg.PresenceGrace, Log: logger,
	})
	defer pl.Close()
	if err := pl.LoadScripts(ctx); err != nil {
		return err
	}
	// Every node archives: the others finish what a dead one began. It
	// stops last, after the drain, so what this node stored is written.
	archCtx, stopArchive := context.WithCancel(context.WithoutCancel(ctx))
	archived := make(chan struct{})
	go func() {
		plane.NewArchiver(pl, cfg.NodeName, logger, gateway.NewArchiveMetrics(reg)).Run(archCtx)
		close(archived)
	}()
	defer func() { stopArchive(); <-archived }()
	// Every node sweeps too: offline once a user's grace passes, whoever
	// held their polls, and a group's batched read counts.
	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	swept := make(chan struct{})
	go func() {
		plane.NewSweeper(pl, logger).Run(sweepCtx)
		close(swept)
	}()
	defer func() { stopSweep(); <-swept }()
	// The node's subscription carries session changes to its session cache,
	// and with POLL_WAIT=subscribe, wake-ups to its waiting polls.
	sessions := session.New(pl, logger, true)
	sub, err := pl.Subscribe(ctx, logger, sessions.News())
	if err != nil {
		return err
	}
	defer sub.Close()
	var wakeups *plane.Wakeups
	if cfg.PollWait == "subscribe" {
		wakeups = sub
	}
	static, err := fs.Sub(ui.Files, "static")
	if err != nil {
		return fmt.Errorf("embedded ui: %w", err)
	}
	srv := gateway.NewServer(logger, graph, pl, sessions, static, gateway.Options{
		NodeName: cfg.NodeName, PollTimeout: cfg.PollTimeout, PollSlice: cfg.PollSlice, MaxPolls: cfg.MaxPolls, Wakeups: wakeups,
		BcryptCost: cfg.BcryptCost, SessionLifetime: cfg.SessionLifetime, SessionIdle: cfg.SessionIdle,
		CookieSecure: cfg.CookieSecure, RateSend: cfg.RateSend, RateSendBurst: cfg.RateSendBurst,
		RateAuth: cfg.RateAuth, RateAuthUser: cfg.RateAuthUser, RateAdd: cfg.RateAdd, RateFanout: cfg.RateFanout, RateFanoutBurst: cfg.RateFanoutBurst, TrustedProxies: cfg.TrustedProxies, Registry: reg, Gatherer: reg,
	})

	if cfg.RedisURL != "" || cfg.RedisClusterAddrs != "" { // the embedded Redis said it keeps nothing
		// Once now and every 30 s: a Redis restarted or failed over with
		// other settings is noticed too.
		watchCtx, stopWatch := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() { srv.WatchRedisSettings(watchCtx, 30*time.Second); close(watched) }()
		defer func() { stopWatch(); <-watched }()
	}

	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second, // polls extend their own deadline
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	logger.Info("listening", "addr", ln.Addr().String())

	if cfg.PprofAddr != "" {
		// Profiling stays off the public listener: its own mux and address.
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		dbg := &http.Server{Addr: cfg.PprofAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := dbg.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("pprof listener", "err", err)
			}
		}()
		defer dbg.Close()
	}

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	// Drain: fail readiness, answer waiting polls at once, answer new
	// requests 503 for a short window so the balancer moves them, then
	// stop accepting and let in-flight requests (sends) finish.
	logger.Info("draining", "window", cfg.DrainWindow)
	stopCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv.Drain(stopCtx)
	select {
	case <-time.After(cfg.DrainWindow):
	case <-stopCtx.Done():
	}
	err = httpSrv.Shutdown(stopCtx)
	if cerr := srv.Close(stopCtx); cerr != nil {
		logger.Warn("stopping", "err", cerr)
	}
	if err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// openRedis returns the command client (no retries: a write script that
// timed out may have run) and the client for blocking reads of waiting
// polls under POLL_WAIT=blmove (many connections with small buffers; it
// opens none otherwise).
func openRedis(ctx context.Context, cfg config, logger *slog.Logger, hook redis.Hook) (rdb, block redis.UniversalClient, closeAll func(), err error) {
	cmdOpts, blockOpts := plane.ClientOptions(blockingPoolSize(cfg.MaxPolls))
	var stopEmbedded func()
	switch {
	case cfg.RedisClusterAddrs != "":
		addrs := strings.Split(cfg.RedisClusterAddrs, ",")
		cmdOpts.Addrs, blockOpts.Addrs = addrs, addrs
		cmdOpts.IsClusterMode, blockOpts.IsClusterMode = true, true
	case cfg.RedisURL != "":
		o, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("parse REDIS_URL: %w", err)
		}
		for _, u := range []*redis.UniversalOptions{cmdOpts, blockOpts} {
			u.Addrs, u.DB, u.Username, u.Password, u.TLSConfig = []string{o.Addr}, o.DB, o.Username, o.Password, o.TLSConfig
		}
	default:
		addr, stop, err := startEmbedded()
		if err != nil {
			return nil, nil, nil, err
		}
		stopEmbedded = stop
		logger.Warn("REDIS_URL is not set: using an in-process Redis. This node is single-node and NOT durable: messages and sessions are lost when it stops. Set REDIS_URL for anything real.")
		cmdOpts.Addrs, blockOpts.Addrs = []string{addr}, []string{addr}
	}
	rdb = redis.NewUniversalClient(cmdOpts)
	block = redis.NewUniversalClient(blockOpts)
	rdb.AddHook(hook)
	// Commands run on workers, so that the goroutines of waiting polls keep
	// shallow stacks (not the blocking client: BLMOVE would hold a worker).
	offload := plane.NewCommandOffloadHook(cmdOpts)
	rdb.AddHook(offload)
	block.AddHook(hook)
	closeAll = func() {
		rdb.Close()
		block.Close()
		offload.Close()
		if stopEmbedded != nil {
			stopEmbedded()
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		closeAll()
		return nil, nil, nil, fmt.Errorf("connect to redis: %w", err)
	}
	return rdb, block, closeAll, nil
}

// blockingPoolSize is one Redis connection per waiting poll under
// POLL_WAIT=blmove: MAX_POLLS_PER_NODE, or without that limit half of what
// the open-file limit allows.
func blockingPoolSize(maxPolls int) int {
	if maxPolls > 0 {
		return maxPolls
	}
	return min(autoMaxPolls(openFileLimit(), "blmove"), 1<<16)
}

// startEmbedded runs miniredis in-process. miniredis expires keys only
// when told that time passed, so a ticker tells it every second.
func startEmbedded() (addr string, stop func(), err error) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return "", nil, fmt.Errorf("start in-process redis: %w", err)
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return m.Addr(), func() { close(done); m.Close() }, nil
}
