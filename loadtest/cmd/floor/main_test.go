package main

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func pub(t *testing.T, base, ch, body string) {
	t.Helper()
	resp, err := http.Post(base+"/pub/"+ch, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publish: %d", resp.StatusCode)
	}
}

// sub polls once with cursor etag and returns the status, the bodies and
// the next cursor.
func sub(t *testing.T, base, ch, etag string) (int, []string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/sub/"+ch, nil)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
		req.Header.Set("If-Modified-Since", lastModified)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Last-Modified") == "" && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("answer %d without Last-Modified", resp.StatusCode)
	}
	var bodies []string
	if resp.StatusCode == http.StatusOK {
		if b, ok := strings.CutPrefix(resp.Header.Get("Content-Type"), "multipart/mixed; boundary="); ok {
			mr := multipart.NewReader(resp.Body, b)
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				s, _ := io.ReadAll(p)
				bodies = append(bodies, string(s))
			}
		} else {
			s, _ := io.ReadAll(resp.Body)
			bodies = append(bodies, string(s))
		}
	}
	return resp.StatusCode, bodies, resp.Header.Get("Etag")
}

func TestFloorDeliversInOrderFromTheCursor(t *testing.T) {
	srv := httptest.NewServer(newHub(200*time.Millisecond, 3))
	defer srv.Close()

	// Nothing yet: the wait ends in 304, cursor unchanged.
	if code, _, etag := sub(t, srv.URL, "a", ""); code != http.StatusNotModified || etag != "0" {
		t.Fatalf("empty channel: %d, etag %q", code, etag)
	}
	// A waiting subscriber is woken by a publish.
	done := make(chan []string)
	go func() {
		_, bodies, _ := sub(t, srv.URL, "a", "0")
		done <- bodies
	}()
	time.Sleep(50 * time.Millisecond)
	pub(t, srv.URL, "a", "one")
	if got := <-done; len(got) != 1 || got[0] != "one" {
		t.Fatalf("woken subscriber got %q", got)
	}
	// Several waiting: all at once, multipart, oldest first; the buffer keeps 3.
	for _, m := range []string{"two", "three", "four", "five"} {
		pub(t, srv.URL, "a", m)
	}
	code, bodies, etag := sub(t, srv.URL, "a", "1")
	if code != http.StatusOK || strings.Join(bodies, ",") != "three,four,five" || etag != "5" {
		t.Fatalf("backlog: %d %q etag %q", code, bodies, etag)
	}
	// A cursor inside the buffer gets only what came after it.
	if code, bodies, etag := sub(t, srv.URL, "a", "4"); code != http.StatusOK || strings.Join(bodies, ",") != "five" || etag != "5" {
		t.Fatalf("from cursor 4: %d %q etag %q", code, bodies, etag)
	}
	// Other channels are apart; a bad cursor is 400.
	if code, _, _ := sub(t, srv.URL, "b", "0"); code != http.StatusNotModified {
		t.Fatalf("other channel: %d", code)
	}
	if code, _, _ := sub(t, srv.URL, "a", "x"); code != http.StatusBadRequest {
		t.Fatalf("bad cursor: %d", code)
	}
}
