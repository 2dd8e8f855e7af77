package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Slow-loris clients hold nothing: a request whose headers never finish is
// cut off after ReadHeaderTimeout; oversized headers are refused.
func TestSlowAndOversizedRequestsHoldNothing(t *testing.T) {
	n := startNode(t, nil)
	addr := strings.TrimPrefix(n.URL, "http://")

	req, _ := http.NewRequest("GET", n.URL+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 40<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("40 KB of headers: %d", resp.StatusCode)
	}

	const slow = 50
	conns := make([]net.Conn, slow)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	start := time.Now()
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		// The server gives up on the request: it answers 408 or just closes.
		if err == nil && !strings.Contains(line, "408") {
			t.Fatalf("slow connection %d answered %q", i, line)
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("slow connection %d still open after %v", i, time.Since(start))
		}
	}
	t.Logf("%d slow connections cut off after %v", slow, time.Since(start))
}
