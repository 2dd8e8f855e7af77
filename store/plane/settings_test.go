package plane_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"webchat/store/plane"
	"webchat/store/storetest"
)

// CheckSettings names each setting under which Redis can lose data, on a
// real redis-server started with it, and nothing on a safe one.
func TestCheckSettingsNamesWhatCanLoseData(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		args []string
		want []string // setting=value, sorted
		risk string   // in the first one's risk
	}{
		{"safe", []string{"--appendonly", "yes", "--maxmemory-policy", "noeviction"}, nil, ""},
		{"no persistence", []string{"--maxmemory-policy", "noeviction"}, []string{"appendonly=no"}, "a restart empties Redis"},
		{"snapshots only", []string{"--save", "900 1", "--maxmemory-policy", "noeviction"}, []string{"appendonly=no"}, "only snapshots"},
		{"volatile eviction", []string{"--appendonly", "yes", "--maxmemory-policy", "volatile-lru"}, []string{"maxmemory-policy=volatile-lru"}, "inboxes and in-flight lists"},
		{"both", []string{"--maxmemory-policy", "allkeys-lru"}, []string{"appendonly=no", "maxmemory-policy=allkeys-lru"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := storetest.StartRedis(t, c.args...)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
			t.Cleanup(func() { rdb.Close() })
			p := plane.New(rdb, rdb, &fakeAccess{}, plane.Options{Prefix: storetest.Prefix(t)})
			t.Cleanup(p.Close)
			got, err := p.CheckSettings(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, u := range got {
				names = append(names, u.Setting+"="+u.Value)
				if u.Addr != srv.Addr || u.Risk == "" {
					t.Errorf("%+v: want the server's address and a risk", u)
				}
			}
			if strings.Join(names, " ") != strings.Join(c.want, " ") {
				t.Fatalf("unsafe settings %q, want %q", names, c.want)
			}
			if c.risk != "" && !strings.Contains(got[0].Risk, c.risk) {
				t.Fatalf("risk %q, want it to say %q", got[0].Risk, c.risk)
			}
		})
	}
}

// On a Redis Cluster every master is checked.
func TestCheckSettingsOnEveryMaster(t *testing.T) {
	cl := storetest.Cluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	p := plane.New(rdb, rdb, &fakeAccess{}, plane.Options{Prefix: storetest.Prefix(t)})
	t.Cleanup(p.Close)
	got, err := p.CheckSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]bool{}
	for _, u := range got {
		if u.Setting == "appendonly" { // the test cluster runs without AOF
			addrs[u.Addr] = true
		}
	}
	if len(addrs) != len(cl.Addrs) {
		t.Fatalf("appendonly=no found on %d masters of %d: %+v", len(addrs), len(cl.Addrs), got)
	}
}
