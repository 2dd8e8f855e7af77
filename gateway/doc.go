// Package gateway is webchat's HTTP layer: routes, handlers, sessions,
// long-poll, limits and metrics. A gateway node keeps no state between
// requests: sessions and messages live in Redis, the graph in SQL, so any
// node behind a load balancer answers any user.
//
// The poll contract (GET /api/poll?cursor=&timeout=): events reach each
// device in the order they were pushed to it, at least once on the wire and
// exactly once after the client drops repeats by event id. The cursor names
// the highest event id the client has and acknowledges everything up to
// it; an answer is always built from the device's in-flight list, so an
// answer the client never received is given again by its next poll. A poll
// waits on the node's wake-up subscription (Options.Wakeups), or else in
// Redis (BLMOVE), in slices, re-checking between slices that
// the client is still there, that no newer poll of the device took over
// (409 superseded), that the device still exists (resync, or 401 after
// log-out) and that the node is not draining.
package gateway
