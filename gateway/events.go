package gateway

import (
	"context"
	"net/http"

	"webchat/store"
	"webchat/store/plane"
)

// publish delivers one event to each user, skipping the acting device.
// Events tell other devices about a change already committed, so a failure
// is logged and does not undo or fail the change: the next /api/me or a
// resync shows the same state.
func (s *Server) publish(r *http.Request, typ, field string, v any, to ...store.UserID) {
	me := currentSession(r.Context())
	// Not the request's context: a client that hangs up after the change
	// committed must not stop the others from hearing of it.
	s.publishTo(context.WithoutCancel(r.Context()), me.user, me.device, typ, field, v, to...)
}

// publishTo delivers one event to each user, skipping device skipDev of
// user skip (none: 0, "").
func (s *Server) publishTo(ctx context.Context, skip store.UserID, skipDev, typ, field string, v any, to ...store.UserID) {
	if len(to) == 0 {
		return
	}
	payload, err := plane.EncodeEvent(typ, field, v)
	if err != nil {
		s.log.Error("encode event", "type", typ, "err", err)
		return
	}
	ds := make([]plane.Delivery, 0, len(to))
	for _, u := range to {
		d := plane.Delivery{To: u, Payload: payload}
		if u == skip {
			d.SkipDevice = skipDev
		}
		ds = append(ds, d)
	}
	if _, err := s.plane.Publish(ctx, ds); err != nil {
		s.log.Warn("publish event", "type", typ, "recipients", len(to), "request_id", requestID(ctx), "err", err)
	}
}

// grantWarn logs a failed write-through of a new right: harmless, since a
// send that finds the right missing asks SQL and repairs the key.
func (s *Server) grantWarn(r *http.Request, what string, err error) {
	if err != nil {
		s.log.Warn("write through "+what, "request_id", requestID(r.Context()), "err", err)
	}
}
