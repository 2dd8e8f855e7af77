package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// untrustedWarnEvery spaces the warnings about forwarded requests from
// peers that are not trusted proxies.
const untrustedWarnEvery = 10 * time.Minute

// noteUntrustedProxy warns, at most every untrustedWarnEvery, of a request
// that carries X-Forwarded-For from a peer not in TRUSTED_PROXIES: the
// header is ignored (anyone could forge it), so if that peer is the
// balancer, every client behind it shares one address, and one person's
// bad log-ins lock out everybody's (the per-address limits). Each such
// request is counted in webchat_untrusted_forwarded_total.
func (s *Server) noteUntrustedProxy(r *http.Request) {
	if _, ok := r.Header["X-Forwarded-For"]; !ok {
		return
	}
	peer, trusted := s.peer(r)
	if trusted {
		return
	}
	s.metrics.untrusted.Inc()
	now := time.Now().UnixNano()
	last := s.untrustedWarned.Load()
	if now-last < int64(untrustedWarnEvery) || !s.untrustedWarned.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("requests arrive with X-Forwarded-For from a peer that is not a trusted proxy: the header is ignored, so if this is your load balancer, every client behind it shares its address and its rate limits; set TRUSTED_PROXIES to the balancer's address",
		"peer", peer, "request_id", requestID(r.Context()))
}

// clientAddr is the client's address: the peer, or the nearest address in
// X-Forwarded-For not in TRUSTED_PROXIES when the peer is a trusted proxy.
func (s *Server) clientAddr(r *http.Request) string {
	host, viaProxy := s.peer(r)
	if !viaProxy {
		return host
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.String()
		}
	}
	return host
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.o.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// peer returns the connection's remote host and whether it is one of
// TRUSTED_PROXIES, whose X-Forwarded-* headers are believed.
func (s *Server) peer(r *http.Request) (host string, trusted bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	return host, err == nil && s.trusted(addr)
}
