package plane

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// UnsafeSetting is a Redis setting under which Redis can lose what the
// plane relies on: acknowledged messages waiting for a device, sessions,
// the seq and event-id counters.
type UnsafeSetting struct {
	Addr    string // the Redis server (a master, on a cluster)
	Setting string // as CONFIG GET names it
	Value   string
	Risk    string // what it loses, for a log line and /readyz
}

// CheckSettings reads maxmemory-policy, appendonly and save on every Redis
// master and returns the settings that can lose data, sorted: an eviction
// policy other than noeviction (it deletes inboxes and in-flight lists;
// volatile-* picks exactly those, as they carry expiries), and no AOF (a
// restart loses everything since the last snapshot, or everything). An
// error means a server did not answer CONFIG GET (a managed Redis may
// refuse it): the settings are then unknown, not safe.
func (p *Plane) CheckSettings(ctx context.Context) ([]UnsafeSetting, error) {
	var (
		mu  sync.Mutex
		out []UnsafeSetting
	)
	check := func(ctx context.Context, c *redis.Client) error {
		got, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		if err != nil {
			return fmt.Errorf("config get maxmemory-policy on %s: %w", c.Options().Addr, err)
		}
		for _, name := range []string{"appendonly", "save"} {
			v, err := c.ConfigGet(ctx, name).Result()
			if err != nil {
				return fmt.Errorf("config get %s on %s: %w", name, c.Options().Addr, err)
			}
			for k, val := range v {
				got[k] = val
			}
		}
		found := unsafeSettings(c.Options().Addr, got)
		mu.Lock()
		out = append(out, found...)
		mu.Unlock()
		return nil
	}
	var err error
	switch c := p.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	default:
		return nil, unavailable("check redis settings", fmt.Errorf("unknown client %T", p.rdb))
	}
	if err != nil {
		return nil, unavailable("check redis settings", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Addr != out[j].Addr {
			return out[i].Addr < out[j].Addr
		}
		return out[i].Setting < out[j].Setting
	})
	return out, nil
}

// unsafeSettings judges one server's CONFIG GET answers.
func unsafeSettings(addr string, cfg map[string]string) []UnsafeSetting {
	var out []UnsafeSetting
	if v, ok := cfg["maxmemory-policy"]; ok && v != "noeviction" {
		risk := "Redis evicts keys when it is full: waiting messages, sessions and counters vanish without a resync; set maxmemory-policy noeviction"
		if strings.HasPrefix(v, "volatile-") {
			risk = "Redis evicts keys with an expiry when it is full, which here are the devices' inboxes and in-flight lists: acknowledged messages vanish without a resync; set maxmemory-policy noeviction"
		}
		out = append(out, UnsafeSetting{addr, "maxmemory-policy", v, risk})
	}
	if v, ok := cfg["appendonly"]; ok && v != "yes" {
		risk := "no AOF and no snapshots: a restart empties Redis (every session ends, waiting messages vanish, messages not yet archived to SQL are lost, every browser resyncs); set appendonly yes"
		if strings.TrimSpace(cfg["save"]) != "" {
			risk = fmt.Sprintf("no AOF, only snapshots (save %q): a restart loses what came after the last one, and messages not yet archived to SQL with it; set appendonly yes", cfg["save"])
		}
		out = append(out, UnsafeSetting{addr, "appendonly", v, risk})
	}
	return out
}

// fullMargin is how near maxmemory OutOfMemory calls a Redis full.
const fullMargin = 128 << 10

// OutOfMemory reports whether a Redis master has reached its maxmemory
// under noeviction, where it refuses writes (sends, polls' moves, log-ins)
// with OOM: INFO memory's used_memory within fullMargin of maxmemory.
func (p *Plane) OutOfMemory(ctx context.Context) (bool, error) {
	var full atomic.Bool // set by any of ForEachMaster's goroutines
	check := func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return fmt.Errorf("info memory on %s: %w", c.Options().Addr, err)
		}
		used, max, policy := int64(0), int64(0), ""
		for _, line := range strings.Split(info, "\r\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch k {
			case "used_memory":
				used, _ = strconv.ParseInt(v, 10, 64)
			case "maxmemory":
				max, _ = strconv.ParseInt(v, 10, 64)
			case "maxmemory_policy":
				policy = v
			}
		}
		// A write is refused once it would take Redis past maxmemory (a
		// request's own buffers count), so "full" is within one largest
		// request (64 KiB and its overhead) of it.
		if max > 0 && used+fullMargin >= max && policy == "noeviction" {
			full.Store(true)
		}
		return nil
	}
	var err error
	switch c := p.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	default:
		return false, nil
	}
	if err != nil {
		return false, unavailable("check redis memory", err)
	}
	return full.Load(), nil
}
