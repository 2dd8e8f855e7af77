package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"webchat/store"
)

// A group whose members' keys live on different masters: one send is one
// script on the group's slot and one delivery script per member, each on
// that member's slot, pipelined per node.
func TestGroupAcrossRedisClusterMasters(t *testing.T) {
	e := newEnv(t, envOpts{cluster: true})
	owner := e.signup("owner")
	var g struct{ Group store.Group }
	owner.mustDo("POST", "/api/groups", map[string]any{"name": "spread"}, 201, &g)
	members := []*client{}
	for i := range 8 {
		m := e.signup(fmt.Sprint("member", i))
		owner.join(int64(g.Group.ID), m)
		members = append(members, m)
	}
	cc := e.rdb.(*redis.ClusterClient)
	masters := map[string]bool{}
	for _, m := range members {
		key := fmt.Sprintf("%sdevices:{u:%d}", e.prefix, m.User.ID)
		node, err := cc.MasterForKey(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		masters[node.Options().Addr] = true
		m.drain()
	}
	if len(masters) < 2 {
		t.Fatalf("members' keys on %d master(s); the test needs them spread", len(masters))
	}
	sent := owner.send(g.Group.ID, "group", "across the cluster")
	for _, m := range members {
		if got := m.messages(1, 10*time.Second); got[0].Seq != sent.Seq {
			t.Fatalf("%s got %+v", m.User.Username, got)
		}
	}
	t.Logf("members on %d masters", len(masters))
}
