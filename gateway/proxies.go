package gateway

import (
	"net/http"
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
