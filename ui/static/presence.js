// Presence, typing and read receipts: the live buddy list, "Alice is
// typing…", "Seen" and "Read by N". Everything arrives through the poll
// (the one polling tab passes it on); this module keeps the picture and
// says it in words.

import { api, get, post, patch } from './api.js';
import { S, displayName, parseConv } from './state.js';

// The server's pace (DESIGN): one typing notice per 2 s is all it sends,
// and a notice holds 6 s.
const TYPING_EVERY = 2500;

// lastSeenText says when someone was last seen, as a person would.
export function lastSeenText(ts, now = Date.now()) {
  if (!ts) return 'offline';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return 'last seen just now';
  const m = Math.round(s / 60);
  if (m < 60) return `last seen ${m} min ago`;
  const hrs = Math.round(m / 60);
  if (hrs < 24) return `last seen ${hrs} h ago`;
  const d = new Date(ts);
  return `last seen ${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })}`;
}

// presenceText is a friend's presence in words: online, away, or when
// they were last seen.
export function presenceText(f) {
  if (!f) return '';
  if (f.presence === 'online') return 'online';
  if (f.presence === 'away') return 'away';
  return lastSeenText(f.last_seen);
}

// applyPresence takes a presence event for a friend; an older one (by
// since) than what is known changes nothing.
export function applyPresence(ev) {
  const f = S.friends.get(ev.user_id);
  if (!f) return false;
  if ((ev.since || 0) < (f.since || 0)) return false;
  f.presence = ev.presence;
  f.since = ev.since || 0;
  if (ev.last_seen) f.last_seen = ev.last_seen;
  f.online = ev.presence !== 'offline';
  return true;
}

// --- typing -----------------------------------------------------------

const typing = new Map(); // conv -> Map(user id -> until, ms)
let typingTimer = null;
let onTypingChange = () => {};

export function setTypingListener(fn) {
  onTypingChange = fn;
}

// applyTyping takes a typing event: someone types until ev.until, or
// stopped (typing false). until is the server's clock: held against this
// one's, which may be off, it is kept to 1–6 s from now.
export function applyTyping(ev) {
  if (!S.me || ev.user_id === S.me.id) return;
  let m = typing.get(ev.conv);
  if (!m) {
    m = new Map();
    typing.set(ev.conv, m);
  }
  if (ev.typing === false) {
    m.delete(ev.user_id);
  } else {
    const left = Math.min(6000, Math.max(1000, (ev.until || 0) - Date.now()));
    m.set(ev.user_id, Date.now() + left);
  }
  expireTyping();
}

// stopTyping: a message from them ends their notice at once.
export function stopTyping(convId, uid) {
  const m = typing.get(convId);
  if (m && m.delete(uid)) expireTyping();
}

// expireTyping drops notices past their until, whether or not a stop came,
// and wakes at the next one to go.
function expireTyping() {
  clearTimeout(typingTimer);
  const now = Date.now();
  let next = Infinity;
  for (const [c, m] of typing) {
    for (const [u, until] of m) {
      if (until <= now) m.delete(u);
      else next = Math.min(next, until);
    }
    if (m.size === 0) typing.delete(c);
  }
  if (next < Infinity) typingTimer = setTimeout(expireTyping, next - now + 20);
  onTypingChange();
}

// typingLine is what shows under a conversation: "Alice is typing…", "Alice
// and Bob are typing…", "Alice and 2 others are typing…", or ''.
export function typingLine(convId) {
  const m = typing.get(convId);
  if (!m || m.size === 0) return '';
  const names = [...m.keys()].map(displayName);
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names[0]} and ${names.length - 1} others are typing…`;
}

export function forgetTyping() {
  typing.clear();
  clearTimeout(typingTimer);
  myTyping = { conv: null, at: 0 };
  onTypingChange();
}

// Typing of mine: tell the conversation while the composer has text, at
// most every TYPING_EVERY; tell it I stopped when the text goes.
let myTyping = { conv: null, at: 0 };

export function composerInput(convId, text) {
  if (!convId || !S.me) return;
  const now = Date.now();
  if (text.trim() === '') {
    if (myTyping.conv === convId && myTyping.at) sendTyping(convId, false);
    myTyping = { conv: null, at: 0 };
    return;
  }
  if (myTyping.conv === convId && now - myTyping.at < TYPING_EVERY) return;
  myTyping = { conv: convId, at: now };
  sendTyping(convId, true);
}

// composerSent: a message went, which ends the notice for the others.
export function composerSent() {
  myTyping = { conv: null, at: 0 };
}

function sendTyping(convId, on) {
  post(`/api/conversations/${encodeURIComponent(convId)}/typing`, { typing: on }).catch(() => {});
}

// --- receipts ---------------------------------------------------------

const readBy = new Map(); // group conv -> {seq, count}: my newest message read, by how many

// applyReceipt takes a receipt: in a direct conversation how far the
// other person read (never backwards); in a group how many have read my
// newest message read so far.
export function applyReceipt(ev) {
  const p = parseConv(ev.conv);
  if (!p) return false;
  if (p.type === 'single') {
    const f = S.friends.get(p.peer);
    if (!f || ev.seq <= (f.peer_read || 0)) return false;
    f.peer_read = ev.seq;
    return true;
  }
  const old = readBy.get(ev.conv);
  if (old && (ev.seq < old.seq || (ev.seq === old.seq && ev.read_count < old.count))) return false;
  readBy.set(ev.conv, { seq: ev.seq, count: ev.read_count });
  return true;
}

// loadReadBy asks how many have read my message seq of a group (on
// opening it: receipts come only while a tab polls).
export async function loadReadBy(convId, seq) {
  if (!seq) return false;
  try {
    const r = await get(`/api/conversations/${encodeURIComponent(convId)}/receipts?seq=${seq}`);
    return applyReceipt({ conv: convId, seq, read_count: r.count });
  } catch {
    return false;
  }
}

// readers lists who read my message seq, by name.
export async function readers(convId, seq) {
  const r = await get(`/api/conversations/${encodeURIComponent(convId)}/receipts?seq=${seq}`);
  return (r.user_ids || []).map(displayName);
}

// receiptFor says what mark goes under message m of mine: "Seen" under the
// newest the other person read (direct), "Read by N" under my newest read
// (group); null for any other.
export function receiptFor(c, m, newestOwnSeen) {
  if (!S.me || m.from !== S.me.id) return null;
  const p = parseConv(c.conv);
  if (!p) return null;
  if (p.type === 'single') return m.seq === newestOwnSeen ? { kind: 'seen' } : null;
  const rb = readBy.get(c.conv);
  if (rb && rb.seq === m.seq && rb.count > 0) return { kind: 'group', count: rb.count };
  return null;
}

// newestSeen is the seq of my newest message the other person of a direct
// conversation has read, or 0.
export function newestSeen(c, msgs) {
  const p = parseConv(c.conv);
  if (!p || p.type !== 'single') return 0;
  const f = S.friends.get(p.peer);
  const upto = (f && f.peer_read) || 0;
  let best = 0;
  for (const m of msgs) if (m.from === S.me.id && m.seq <= upto && m.seq > best) best = m.seq;
  return best;
}

export function forgetReceipts() {
  readBy.clear();
}

// --- my own status ----------------------------------------------------

// setStatus tells the server what my friends should see.
export async function setStatus(status) {
  await api('PUT', '/api/me/presence', { status });
  S.status = status;
}

// setReceipts turns my read receipts on or off.
export async function setReceipts(on) {
  await patch('/api/me', { receipts: on });
  S.receipts = on;
}
