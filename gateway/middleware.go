package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
)

type ctxKey int

// keyState holds a request's *reqState: one context value and one copy of
// the request for every middleware, which matters for a poll, whose
// request stays in memory as long as it waits.
const keyState ctxKey = 0

// reqState is what the middlewares learn about a request.
type reqState struct {
	id   string
	sess caller // set by requireUser
}

func state(ctx context.Context) *reqState {
	st, _ := ctx.Value(keyState).(*reqState)
	if st == nil {
		return &reqState{}
	}
	return st
}

func requestID(ctx context.Context) string { return state(ctx).id }

// requestMeta gives each request an id and names the node in the answer.
func (s *Server) requestMeta(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = randomHex(8)
		}
		h := w.Header()
		if s.o.NodeName != "" {
			h.Set("X-Webchat-Node", s.o.NodeName)
		}
		h.Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), keyState, &reqState{id: id}))
		s.noteUntrustedProxy(r)
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a logged 500 rather than a dropped
// connection; bad input must never get here.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// drainGate answers new requests 503 draining while the node shuts down;
// Retry-After 0 tells clients to retry at once, on another node.
//
// A request from a trusted proxy that says it retries a connection closed
// unanswered (retriesClosedHeader; deploy/nginx.conf sets it) gets no
// answer at all: the connection is closed. The balancer takes that as a
// failed node, retries the request on another (this node did nothing) and
// leaves this one out, while a 503 it must pass on as it is, since a 503 of
// a node that is fine (a route whose SQL is down) must neither take the
// node out of rotation nor be retried elsewhere. Other balancers, which
// would answer a closed connection with a page of their own, get the 503.
// retriesClosedHeader is the header by which a trusted proxy says that it
// retries, on another node, a request whose connection closes unanswered.
const retriesClosedHeader = "X-Webchat-Retries-Closed"

func (s *Server) drainGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() && r.URL.Path != "/healthz" && r.URL.Path != "/metrics" && r.URL.Path != "/readyz" {
			if _, viaProxy := s.peer(r); viaProxy && r.Header.Get(retriesClosedHeader) == "1" {
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Connection", "close")
			s.writeError(w, r, errDraining)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// countRequests counts requests by route template and status.
func (s *Server) countRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := "other"
		if cr := mux.CurrentRoute(r); cr != nil {
			if tpl, err := cr.GetPathTemplate(); err == nil {
				route = tpl
			}
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
	})
}

// statusWriter remembers the status an answer was given.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// limitURL refuses request targets longer than maxURL (414).
func limitURL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.RequestURI) > maxURL {
			writeJSON(w, http.StatusRequestURITooLong, errorBody{errorDetail{"uri_too_long", "the request URL is too long"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

const maxURL = 8 << 10
