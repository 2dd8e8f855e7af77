package gateway

import "webchat/rights"

// actor is the session's user and device, as the rights service names
// who makes a change (the device has the answer, so the event skips it).
func (c caller) actor() rights.Actor { return rights.Actor{User: c.user, Device: c.device} }
