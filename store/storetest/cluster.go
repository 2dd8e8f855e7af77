package storetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a three-master Redis Cluster of redis-server processes.
type RedisCluster struct {
	Addrs   []string
	servers []*RedisServer
}

var (
	clusterOnce sync.Once
	cluster     *RedisCluster
	clusterErr  error
)

// Cluster returns the Redis Cluster shared by every test of this binary,
// creating it on first use (redis-server --cluster-enabled yes and
// redis-cli --cluster create). Tests sharing it use their own prefixes.
func Cluster(t testing.TB) *RedisCluster {
	t.Helper()
	clusterOnce.Do(func() { cluster, clusterErr = startCluster() })
	if clusterErr != nil {
		t.Fatalf("start redis cluster: %v", clusterErr)
	}
	return cluster
}

// Client returns a cluster client, closed in t.Cleanup.
func (c *RedisCluster) Client(t testing.TB) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, MaxRetries: -1})
	t.Cleanup(func() { cc.Close() })
	return cc
}

func (c *RedisCluster) stop() {
	for _, s := range c.servers {
		s.stop()
		os.RemoveAll(s.dir)
	}
}

// clusterPort finds a free port whose cluster bus port (+10000) is free too.
func clusterPort() (int, error) {
	for range 50 {
		p, err := FreePort()
		if err != nil {
			return 0, err
		}
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port pair for a cluster node")
}

func startCluster() (*RedisCluster, error) {
	c := &RedisCluster{}
	for range 3 {
		dir, err := os.MkdirTemp("", "webchat-cluster-")
		if err != nil {
			c.stop()
			return nil, err
		}
		port, err := clusterPort()
		if err != nil {
			c.stop()
			return nil, err
		}
		s := &RedisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
		s.args = []string{
			"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
			"--save", "", "--appendonly", "no", "--logfile", dir + "/redis.log",
			"--cluster-enabled", "yes", "--cluster-config-file", dir + "/nodes.conf",
			"--cluster-node-timeout", "3000",
		}
		if err := s.start(); err != nil {
			c.stop()
			return nil, err
		}
		c.servers = append(c.servers, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("redis-cli not installed (make test installs it): %w", err)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		c.stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
	}
	// Wait until every node agrees the cluster is ok.
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range c.Addrs {
		rc := redis.NewClient(&redis.Options{Addr: addr})
		for {
			info, err := rc.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				rc.Close()
				c.stop()
				return nil, fmt.Errorf("cluster not ok on %s: %v %s", addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rc.Close()
	}
	return c, nil
}
