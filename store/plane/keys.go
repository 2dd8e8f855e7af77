package plane

import (
	"strconv"

	"webchat/store"
)

// keys builds every Redis key of the message plane from one prefix. Hash
// tags keep a conversation's keys ({c:<conv>}) and a user's keys ({u:<id>})
// each in one cluster slot, so every script touches a single slot. The
// names are the operator's contract: README.md lists them for redis-cli.
type keys struct{ prefix string }

func (k keys) conv(kind, conv string) string { return k.prefix + kind + ":{c:" + conv + "}" }

func (k keys) seq(conv string) string     { return k.conv("seq", conv) }
func (k keys) hist(conv string) string    { return k.conv("hist", conv) }
func (k keys) pair(conv string) string    { return k.conv("pair", conv) }
func (k keys) members(conv string) string { return k.conv("members", conv) }

// arch is the conversation's archive watermark: the highest seq SQL holds
// (as far as the archivers have said), below which hist may be trimmed.
func (k keys) arch(conv string) string { return k.conv("arch", conv) }

// seqbase is the seq a lost counter was restored at from SQL.
func (k keys) seqbase(conv string) string { return k.conv("seqbase", conv) }

// archive is partition n's stream of messages and read markers on their
// way to SQL; its hash tag is its own, so the partitions spread over a
// cluster's slots.
func (k keys) archive(n int) string { return k.prefix + "archive:{a:" + strconv.Itoa(n) + "}" }

// epoch names the generation of Redis's data: set once, lost with it.
func (k keys) epoch() string { return k.prefix + "epoch" }

// ver counts revocations of the conversation's pair or members key; a
// rebuild from SQL writes only if it did not change meanwhile.
func (k keys) ver(conv string) string { return k.conv("ver", conv) }

// revoking is present while a revoke is under way (Revoke), so that no
// rebuild writes the right back before it is done.
func (k keys) revoking(conv string) string { return k.conv("revoking", conv) }

// deny marks, for a moment (denyTTL), that SQL refused u the right to
// write in (or, for a group, read) the conversation, so that a refused
// sender does not reach SQL on every try. A grant deletes it.
func (k keys) deny(conv string, u store.UserID) string {
	return k.conv("deny", conv) + ":" + strconv.FormatInt(int64(u), 10)
}

func (k keys) cid(conv string, from store.UserID, clientID string) string {
	return k.conv("cid", conv) + ":" + strconv.FormatInt(int64(from), 10) + ":" + clientID
}

// userTag is the user's hash tag, "{u:<id>}"; scripts build device keys
// from the prefix and this tag.
func userTag(u store.UserID) string { return "{u:" + strconv.FormatInt(int64(u), 10) + "}" }

func (k keys) user(kind string, u store.UserID) string { return k.prefix + kind + ":" + userTag(u) }

func (k keys) evid(u store.UserID) string    { return k.user("evid", u) }
func (k keys) devices(u store.UserID) string { return k.user("devices", u) }
func (k keys) unread(u store.UserID) string  { return k.user("unread", u) }

func (k keys) inbox(u store.UserID, dev string) string    { return k.user("inbox", u) + ":" + dev }
func (k keys) inflight(u store.UserID, dev string) string { return k.user("inflight", u) + ":" + dev }
func (k keys) pollgen(u store.UserID, dev string) string  { return k.user("pollgen", u) + ":" + dev }

func (k keys) session(token string) string { return k.prefix + "session:" + token }

// presence is what the user chose to show (status, receipts) and what
// their friends were last told (presence.lua).
func (k keys) presence(u store.UserID) string { return k.user("presence", u) }

// due is partition n of the times something must happen whoever is
// there: a user's presence grace running out ("p:<uid>"), a group's read
// counts going to the authors ("r:<conv>"). Its hash tag is its own.
func (k keys) due(n int) string { return k.prefix + "due:{t:" + strconv.Itoa(n) + "}" }

// typing throttles one user's typing notices in a conversation.
func (k keys) typing(conv string, u store.UserID) string {
	return k.conv("typing", conv) + ":" + strconv.FormatInt(int64(u), 10)
}

// reads is a group's read markers: member id → read up to, so that "read
// by N" is one count.
func (k keys) reads(conv string) string { return k.conv("reads", conv) }

// rcpt is a group's read counts waiting to go to their authors.
func (k keys) rcpt(conv string) string { return k.conv("rcpt", conv) }
