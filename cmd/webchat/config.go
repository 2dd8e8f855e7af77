package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is every setting, from flags with environment defaults.
type config struct {
	Addr              string
	RedisURL          string
	RedisClusterAddrs string
	DatabaseURL       string
	PollTimeout       time.Duration
	PollSlice         time.Duration
	PollWait          string
	RedisPrefix       string
	NodeName          string
	CookieSecure      bool
	DeviceTTL         time.Duration
	InboxCap          int
	HistoryCap        int
	SessionLifetime   time.Duration
	SessionIdle       time.Duration
	BcryptCost        int
	TrustedProxies    []netip.Prefix
	MaxPolls          int
	RateSend          float64
	RateSendBurst     int
	RateAuth          float64
	RateAuthUser      float64
	RateAdd           float64
	RateFanout        float64
	RateFanoutBurst   int
	DrainWindow       time.Duration
	ArchiveDelay      time.Duration
	PresenceGrace     time.Duration
	PprofAddr         string
}

// parseConfig reads flags; each flag's default comes from its environment
// variable, so either works and a flag wins.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("webchat", flag.ContinueOnError)
	fs.SetOutput(out)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var (
		c                                                                           config
		pollTimeout, pollSlice, deviceTTL, drain                                    string
		lifetime, idle, proxies, rateSend, cookieSecure, archiveDelay, grace        string
		inboxCap, historyCap, bcryptCost, maxPolls, rAuth, rAuthUser, rAdd, rFanout string
	)
	fs.StringVar(&c.Addr, "addr", env("ADDR", "127.0.0.1:8080"), "listen address (ADDR)")
	fs.StringVar(&c.RedisURL, "redis-url", env("REDIS_URL", ""), "Redis URL, e.g. redis://127.0.0.1:6379/0; unset: an in-process Redis, single-node and not durable (REDIS_URL)")
	fs.StringVar(&c.RedisClusterAddrs, "redis-cluster-addrs", env("REDIS_CLUSTER_ADDRS", ""), "comma-separated Redis Cluster seed addresses (REDIS_CLUSTER_ADDRS)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", "sqlite:data/webchat.db"), "SQL graph store: sqlite:<path> or postgres://user:pass@host:port/db (DATABASE_URL)")
	fs.StringVar(&pollTimeout, "poll-timeout", env("POLL_TIMEOUT", "25"), "default long-poll wait in seconds (POLL_TIMEOUT)")
	fs.StringVar(&pollSlice, "poll-slice", env("POLL_SLICE", "20"), "seconds of one blocking wait inside a poll, between checks; hang-ups, newer polls, log-out and drain wake a wait at once (POLL_SLICE)")
	fs.StringVar(&c.PollWait, "poll-wait", env("POLL_WAIT", "subscribe"), "how a waiting poll waits: blmove (a blocking read in Redis per poll) or subscribe (one wake-up subscription per node) (POLL_WAIT)")
	fs.StringVar(&c.RedisPrefix, "redis-prefix", env("REDIS_PREFIX", "wc:"), "prefix of every Redis key; no { or } (REDIS_PREFIX)")
	fs.StringVar(&c.NodeName, "node-name", env("NODE_NAME", ""), "name sent in the X-Webchat-Node response header (NODE_NAME)")
	fs.StringVar(&cookieSecure, "cookie-secure", env("COOKIE_SECURE", "false"), "mark the session cookie Secure (HTTPS only) (COOKIE_SECURE)")
	fs.StringVar(&deviceTTL, "device-ttl", env("DEVICE_TTL", "86400"), "seconds after which an unseen device is dropped (DEVICE_TTL)")
	fs.StringVar(&inboxCap, "inbox-cap", env("INBOX_CAP", "1000"), "events waiting per device before it is dropped and must resync (INBOX_CAP)")
	fs.StringVar(&historyCap, "history-cap", env("HISTORY_CAP", "10000"), "messages of each conversation Redis keeps for speed, above what SQL holds; SQL keeps every message (HISTORY_CAP)")
	fs.StringVar(&grace, "presence-grace", env("PRESENCE_GRACE", "45s"), "how long after a user's last poll their friends still see them online; a re-poll, a poll that moves to another node or a node that dies within it shows nothing; a Go duration or seconds (PRESENCE_GRACE)")
	fs.StringVar(&archiveDelay, "archive-delay", env("ARCHIVE_DELAY", "1s"), "how long a message waits, at most, to be written to SQL; a node's unfinished batch is taken over by the others after twice this; a Go duration or seconds (ARCHIVE_DELAY)")
	fs.StringVar(&lifetime, "session-lifetime", env("SESSION_LIFETIME", "720h"), "absolute session lifetime, a Go duration or seconds (SESSION_LIFETIME)")
	fs.StringVar(&idle, "session-idle", env("SESSION_IDLE", "336h"), "a session unused this long answers 401, a Go duration or seconds (SESSION_IDLE)")
	fs.StringVar(&bcryptCost, "bcrypt-cost", env("BCRYPT_COST", "12"), "bcrypt cost of password hashes; tests use 4 (BCRYPT_COST)")
	fs.StringVar(&proxies, "trusted-proxies", env("TRUSTED_PROXIES", ""), "comma-separated addresses or CIDRs whose X-Forwarded-For to believe (TRUSTED_PROXIES)")
	fs.StringVar(&maxPolls, "max-polls-per-node", env("MAX_POLLS_PER_NODE", "auto"), "waiting polls on this node before 503; auto: what the open-file limit allows (a descriptor per poll, two with POLL_WAIT=blmove, 1,024 kept for the rest); 0: no limit (MAX_POLLS_PER_NODE)")
	fs.StringVar(&rateSend, "rate-send", env("RATE_SEND", "10,20"), "messages per second per user [,burst]; 0: off (RATE_SEND)")
	fs.StringVar(&rAuth, "rate-auth", env("RATE_AUTH", "10"), "sign-ups and log-ins per minute per client address and per (username, address); 0: off (RATE_AUTH)")
	fs.StringVar(&rFanout, "rate-fanout", env("RATE_FANOUT", "2000000,32000000"), "what one user's group messages may cost Redis: bytes times recipients per second [,burst bytes]; a message that takes it past the burst makes the next group sends wait; 0: off (RATE_FANOUT)")
	fs.StringVar(&rAdd, "rate-add", env("RATE_ADD", "30"), "friend requests and group adds per minute per user (a burst of as many); 0: off (RATE_ADD)")
	fs.StringVar(&rAuthUser, "rate-auth-user", env("RATE_AUTH_USER", "20"), "log-ins per hour to one username from all addresses together (a browser that logged in as the user before is not held up); 0: off (RATE_AUTH_USER)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", env("PPROF_ADDR", ""), "serve net/http/pprof on this address (keep it on loopback); unset: off (PPROF_ADDR)")
	fs.StringVar(&drain, "drain-window", env("DRAIN_WINDOW", "1"), "seconds a stopping node answers 503 draining before it closes its listener (DRAIN_WINDOW)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}

	var err error
	p := parser{}
	c.PollTimeout = p.seconds("POLL_TIMEOUT", pollTimeout)
	c.PollSlice = p.seconds("POLL_SLICE", pollSlice)
	c.DeviceTTL = p.seconds("DEVICE_TTL", deviceTTL)
	c.DrainWindow = p.seconds("DRAIN_WINDOW", drain)
	c.SessionLifetime = p.duration("SESSION_LIFETIME", lifetime)
	c.SessionIdle = p.duration("SESSION_IDLE", idle)
	c.ArchiveDelay = p.duration("ARCHIVE_DELAY", archiveDelay)
	c.PresenceGrace = p.duration("PRESENCE_GRACE", grace)
	c.InboxCap = p.int("INBOX_CAP", inboxCap)
	c.HistoryCap = p.int("HISTORY_CAP", historyCap)
	c.BcryptCost = p.int("BCRYPT_COST", bcryptCost)
	autoPolls := strings.TrimSpace(maxPolls) == "auto"
	if !autoPolls {
		c.MaxPolls = p.int("MAX_POLLS_PER_NODE", maxPolls)
	}
	c.RateAuth = p.float("RATE_AUTH", rAuth)
	c.RateAuthUser = p.float("RATE_AUTH_USER", rAuthUser)
	c.RateAdd = p.float("RATE_ADD", rAdd)
	frate, fburst, _ := strings.Cut(rFanout, ",")
	c.RateFanout = p.float("RATE_FANOUT", frate)
	if fburst != "" {
		c.RateFanoutBurst = p.int("RATE_FANOUT burst", fburst)
	}
	c.CookieSecure = p.bool("COOKIE_SECURE", cookieSecure)
	rate, burst, _ := strings.Cut(rateSend, ",")
	c.RateSend = p.float("RATE_SEND", rate)
	if burst != "" {
		c.RateSendBurst = p.int("RATE_SEND burst", burst)
	}
	for _, s := range strings.Split(proxies, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, e := netip.ParseAddr(s)
			if e != nil {
				p.fail("TRUSTED_PROXIES", s)
				continue
			}
			c.TrustedProxies = append(c.TrustedProxies, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pre, e := netip.ParsePrefix(s)
		if e != nil {
			p.fail("TRUSTED_PROXIES", s)
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, pre.Masked())
	}
	if err = p.err; err != nil {
		return config{}, err
	}
	switch {
	case strings.ContainsAny(c.RedisPrefix, "{}"):
		return config{}, fmt.Errorf("REDIS_PREFIX must not contain { or }")
	case c.PollTimeout > 55*time.Second:
		return config{}, fmt.Errorf("POLL_TIMEOUT must be at most 55 seconds")
	case c.PollWait != "blmove" && c.PollWait != "subscribe":
		return config{}, fmt.Errorf("POLL_WAIT must be blmove or subscribe")
	case c.PollSlice < time.Second:
		return config{}, fmt.Errorf("POLL_SLICE must be at least 1 second")
	case c.BcryptCost < 4 || c.BcryptCost > 31:
		return config{}, fmt.Errorf("BCRYPT_COST must be from 4 to 31")
	case c.ArchiveDelay < 10*time.Millisecond || c.ArchiveDelay > time.Minute:
		return config{}, fmt.Errorf("ARCHIVE_DELAY must be from 10ms to 1m")
	case c.PresenceGrace < 2*time.Second || c.PresenceGrace > 10*time.Minute:
		return config{}, fmt.Errorf("PRESENCE_GRACE must be from 2s to 10m")
	case c.DeviceTTL < time.Second, c.InboxCap < 1, c.HistoryCap < 1:
		return config{}, fmt.Errorf("DEVICE_TTL, INBOX_CAP and HISTORY_CAP must be positive")
	}
	if autoPolls {
		c.MaxPolls = autoMaxPolls(openFileLimit(), c.PollWait)
	}
	return c, nil
}

// parser collects the first malformed setting.
type parser struct{ err error }

func (p *parser) fail(name, v string) {
	if p.err == nil {
		p.err = fmt.Errorf("invalid %s %q", name, v)
	}
}

func (p *parser) int(name, v string) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		p.fail(name, v)
	}
	return n
}

func (p *parser) float(name, v string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 {
		p.fail(name, v)
	}
	return f
}

func (p *parser) bool(name, v string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		p.fail(name, v)
	}
	return b
}

func (p *parser) seconds(name, v string) time.Duration {
	return time.Duration(p.int(name, v)) * time.Second
}

// duration takes a Go duration ("720h") or whole seconds.
func (p *parser) duration(name, v string) time.Duration {
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(name, v)
	}
	return d
}

// autoMaxPolls is how many polls a node can hold waiting within its
// open-file limit: each holds the client's socket, and under blmove its
// Redis connection too; 1,024 descriptors stay for everything else.
func autoMaxPolls(nofile uint64, pollWait string) int {
	per := uint64(1)
	if pollWait == "blmove" {
		per = 2
	}
	if nofile > 1<<24 {
		nofile = 1 << 24
	}
	if nofile <= 1024+per*1024 {
		return 1024
	}
	return int((nofile - 1024) / per)
}

// openFileLimit is the process's soft limit on open files.
func openFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	return lim.Cur
}
