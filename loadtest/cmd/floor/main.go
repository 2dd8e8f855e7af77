// Command floor is a long-poll server that does nothing but net/http: one
// channel per user held in memory, no Redis, no sessions, no JSON. It
// speaks the part of Nchan's protocol that loadtest's -target nchan uses
// (POST /pub/<channel>, GET /sub/<channel> with If-None-Match as the
// cursor, GET /nchan_status), so the same generator, run the same way,
// measures what net/http and the Go runtime alone cost per message on
// this machine: the floor under any Go gateway, webchat included.
//
//	go run ./loadtest/cmd/floor -addr 127.0.0.1:9090 &
//	go run ./loadtest -target nchan -url http://127.0.0.1:9090 -pids <floor's pid> ...
//
// It is a measuring stick, not a server to deploy: channels are never
// freed and nothing survives a restart.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9090", "listen address (loopback)")
	timeout := fs.Duration("timeout", 25*time.Second, "how long a subscriber waits before 304")
	buffer := fs.Int("buffer", 1000, "messages kept per channel")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("addr %q: %w", *addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("addr %q: listen on a loopback address", *addr)
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           newHub(*timeout, *buffer),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	slog.Info("floor listening", "addr", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("listen: %w", err)
	}
	return nil
}

// hub holds the channels. A channel's messages are numbered from 1; a
// subscriber's cursor (its Etag) is the number of the last one it has.
type hub struct {
	timeout time.Duration
	buffer  int

	mu    sync.Mutex
	chans map[string]*channel
}

type channel struct {
	msgs  [][]byte      // the newest, at most buffer of them
	last  int64         // number of the newest message
	ready chan struct{} // closed by the next publish
}

func newHub(timeout time.Duration, buffer int) *hub {
	return &hub{timeout: timeout, buffer: max(buffer, 1), chans: make(map[string]*channel)}
}

// lastModified is fixed: the Etag alone is the cursor here.
const lastModified = "Thu, 01 Jan 1970 00:00:00 GMT"

func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && len(r.URL.Path) > len("/pub/") && r.URL.Path[:len("/pub/")] == "/pub/":
		h.publish(w, r, r.URL.Path[len("/pub/"):])
	case r.Method == http.MethodGet && len(r.URL.Path) > len("/sub/") && r.URL.Path[:len("/sub/")] == "/sub/":
		h.subscribe(w, r, r.URL.Path[len("/sub/"):])
	case r.Method == http.MethodGet && r.URL.Path == "/nchan_status":
		io.WriteString(w, "floor\n")
	default:
		http.NotFound(w, r)
	}
}

// channel returns the named channel, made on first use; h.mu is held.
func (h *hub) channel(name string) *channel {
	c := h.chans[name]
	if c == nil {
		c = &channel{ready: make(chan struct{})}
		h.chans[name] = c
	}
	return c
}

func (h *hub) publish(w http.ResponseWriter, r *http.Request, name string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	c := h.channel(name)
	c.msgs = append(c.msgs, body)
	if len(c.msgs) > h.buffer {
		c.msgs = c.msgs[len(c.msgs)-h.buffer:]
	}
	c.last++
	close(c.ready)
	c.ready = make(chan struct{})
	h.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

func (h *hub) subscribe(w http.ResponseWriter, r *http.Request, name string) {
	var after int64
	if v := r.Header.Get("If-None-Match"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "bad If-None-Match", http.StatusBadRequest)
			return
		}
		after = n
	}
	t := time.NewTimer(h.timeout)
	defer t.Stop()
	for {
		h.mu.Lock()
		c := h.channel(name)
		first := c.last - int64(len(c.msgs)) + 1 // number of c.msgs[0]
		var msgs [][]byte
		if c.last > after {
			msgs = c.msgs[max(after+1-first, 0):]
		}
		last, ready := c.last, c.ready
		h.mu.Unlock()
		if len(msgs) > 0 {
			answer(w, msgs, last)
			return
		}
		select {
		case <-ready:
		case <-t.C:
			w.Header().Set("Last-Modified", lastModified)
			w.Header().Set("Etag", strconv.FormatInt(after, 10))
			w.WriteHeader(http.StatusNotModified)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// boundary separates the messages of a multipart answer.
const boundary = "floorboundary"

// answer writes msgs, the newest numbered last: one as the body, several
// as multipart/mixed, as Nchan does.
func answer(w http.ResponseWriter, msgs [][]byte, last int64) {
	h := w.Header()
	h.Set("Last-Modified", lastModified)
	h.Set("Etag", strconv.FormatInt(last, 10))
	if len(msgs) == 1 {
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", strconv.Itoa(len(msgs[0])))
		w.Write(msgs[0])
		return
	}
	h.Set("Content-Type", "multipart/mixed; boundary="+boundary)
	var b []byte
	for _, m := range msgs {
		b = append(b, "\r\n--"+boundary+"\r\n\r\n"...)
		b = append(b, m...)
	}
	b = append(b, "\r\n--"+boundary+"--\r\n"...)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
