package main

// Several real nodes behind a real nginx, and a client that talks to them over the wire.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"testing"
	"time"

	"webchat/store/storetest"
)

// cluster is three webchat processes sharing one Redis and one SQLite
// file, behind nginx.
type cluster struct {
	nodes []*proc
	lb    string
}

func startCluster(t *testing.T, env map[string]string) *cluster {
	t.Helper()
	redisSrv := storetest.Redis(t)
	base := map[string]string{
		"REDIS_URL":    redisSrv.URL(),
		"REDIS_PREFIX": storetest.Prefix(t),
		"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "webchat.db"),
	}
	for k, v := range env {
		base[k] = v
	}
	c := &cluster{}
	for i := range 3 {
		c.nodes = append(c.nodes, startProc(t, fmt.Sprint("n", i+1), base))
	}
	c.lb = startNginx(t, c.nodes)
	return c
}

// wireClient is a browser session for tests that run many at once: its
// methods return errors instead of failing the test.
type wireClient struct {
	hc *http.Client
	ID int64
}

type wireAnswer struct {
	Status int
	Node   string
	Body   []byte
}

func newWireClient() *wireClient {
	jar, _ := cookiejar.New(nil)
	return &wireClient{hc: &http.Client{Jar: jar, Timeout: 70 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
}

func (c *wireClient) do(method, url string, body any) (wireAnswer, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return wireAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return wireAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return wireAnswer{Status: resp.StatusCode, Node: resp.Header.Get("X-Webchat-Node"), Body: b}, err
}

// must is do for the test goroutine.
func (c *wireClient) must(t *testing.T, method, url string, body any, want int, out any) wireAnswer {
	t.Helper()
	a, err := c.do(method, url, body)
	if err != nil || a.Status != want {
		t.Fatalf("%s %s: %v %d %s, want %d", method, url, err, a.Status, a.Body, want)
	}
	if out != nil {
		if err := json.Unmarshal(a.Body, out); err != nil {
			t.Fatalf("decode %s: %v", a.Body, err)
		}
	}
	return a
}

func (c *wireClient) signup(t *testing.T, base, name string) {
	t.Helper()
	var out struct{ User struct{ ID int64 } }
	c.must(t, "POST", base+"/api/signup", map[string]any{"username": name, "password": "password1", "display_name": name}, 201, &out)
	c.ID = out.User.ID
}

func befriendWire(t *testing.T, base string, a, b *wireClient, bName string) {
	t.Helper()
	var req struct{ Request struct{ ID int64 } }
	a.must(t, "POST", base+"/api/friend-requests", map[string]any{"username": bName}, 201, &req)
	b.must(t, "POST", fmt.Sprintf("%s/api/friend-requests/%d/accept", base, req.Request.ID), nil, 200, nil)
}

type wireEvent struct {
	ID      int64
	Type    string
	Message struct {
		Conv string
		Seq  int64
		Body string
	}
	Group struct {
		MemberCount int `json:"member_count"`
	}
	UserID   int64 `json:"user_id"` // presence
	Presence string
}

type wirePoll struct {
	Events []wireEvent
	Cursor string
	Resync bool
}
