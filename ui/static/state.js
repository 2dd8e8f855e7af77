// The page's model: who I am, friends, groups, requests and, per
// conversation, the messages seen so far. Views read it; app.js changes it.

export const S = {
  me: null, // user
  users: new Map(), // id -> user, for sender names
  friends: new Map(), // user id -> {id, username, display_name, conv, online, presence, last_seen, since, peer_read}
  past: new Map(), // user id -> {id, username, display_name, conv}: ex-friends, history readable
  groups: new Map(), // group id -> group
  incoming: new Map(), // request id -> request
  outgoing: new Map(),
  invites: new Map(), // invite id -> group invitation waiting for my answer
  answering: new Set(), // invite ids whose answer is on its way
  convs: new Map(), // conv -> Conv
  open: null, // the conversation shown, or null
  tab: 'friends',
  status: 'online', // what I chose my friends see: online, away, invisible
  receipts: true, // whether my reads send receipts
};

// A Conv is what this tab knows of one conversation.
//   msgs     seq -> message (confirmed only); (conv, seq) dedupes
//   pending  client_id -> unconfirmed send, in send order
//   floor    lowest seq of the contiguous run loaded from history
//   counted  highest seq from someone else already counted as unread
//            (the server's <conv>:last), so a message the server counted
//            in /api/me and then delivers by poll is not counted twice
//   readUpTo highest seq known read (by this device or another)
//   readSent highest seq this tab told the server it read
//   holes    seqs history did not have either (trimmed), not asked again
export function conv(id) {
  let c = S.convs.get(id);
  if (!c) {
    c = {
      conv: id, msgs: new Map(), pending: new Map(), last: null, unread: 0,
      counted: 0, readUpTo: 0, readSent: 0, floor: 0, hasMore: true,
      fetched: false, loading: false, gapTimer: null, members: null, holes: new Set(),
    };
    S.convs.set(id, c);
  }
  return c;
}

export function reset() {
  S.me = null;
  S.users.clear();
  S.friends.clear();
  S.past.clear();
  S.groups.clear();
  S.incoming.clear();
  S.outgoing.clear();
  S.invites.clear();
  S.answering.clear();
  for (const c of S.convs.values()) clearTimeout(c.gapTimer);
  S.convs.clear();
  S.open = null;
  S.status = 'online';
  S.receipts = true;
}

export function dmConv(a, b) {
  return a < b ? `d${a}-${b}` : `d${b}-${a}`;
}

// parseConv says what a conversation id names: {type: 'single', peer} for
// two users (from my point of view) or {type: 'group', gid}.
export function parseConv(id) {
  let m = /^g(\d+)$/.exec(id);
  if (m) return { type: 'group', gid: Number(m[1]) };
  m = /^d(\d+)-(\d+)$/.exec(id);
  if (m) {
    const a = Number(m[1]);
    const b = Number(m[2]);
    return { type: 'single', peer: S.me && a === S.me.id ? b : a };
  }
  return null;
}

export function rememberUser(u) {
  if (!u || u.id == null) return;
  const old = S.users.get(u.id) || {};
  S.users.set(u.id, { ...old, id: u.id, username: u.username ?? old.username, display_name: u.display_name ?? old.display_name });
}

export function displayName(id) {
  const u = S.users.get(id);
  return (u && (u.display_name || u.username)) || `user ${id}`;
}

// loadMe takes GET /api/me. The server's unread counts are the truth at
// that moment; messages already held stay (a resync keeps what was seen).
export function loadMe(data) {
  if (S.me && S.me.id !== data.user.id) reset();
  S.me = data.user;
  rememberUser(data.user);
  const before = new Map(S.friends);
  S.friends.clear();
  for (const f of data.friends || []) {
    rememberUser(f);
    const entry = {
      id: f.id, username: f.username, display_name: f.display_name, conv: f.conv || dmConv(S.me.id, f.id), online: !!f.online,
      presence: f.presence || (f.online ? 'online' : 'offline'), last_seen: f.last_seen || 0, since: f.presence_since || 0, peer_read: f.peer_read || 0,
    };
    // A presence event newer than this answer, or a receipt, stays.
    const old = before.get(f.id);
    if (old && old.since > entry.since) Object.assign(entry, { presence: old.presence, last_seen: old.last_seen, since: old.since, online: old.online });
    if (old && old.peer_read > entry.peer_read && entry.peer_read > 0) entry.peer_read = old.peer_read;
    S.friends.set(f.id, entry);
    takeSummary(f.conv || dmConv(S.me.id, f.id), f);
    S.past.delete(f.id);
  }
  S.groups.clear();
  for (const g of data.groups || []) {
    S.groups.set(g.id, strip(g));
    takeSummary(g.conv || `g${g.id}`, g);
  }
  S.incoming.clear();
  S.outgoing.clear();
  const reqs = data.friend_requests || {};
  for (const r of reqs.incoming || []) addRequest(r);
  for (const r of reqs.outgoing || []) addRequest(r);
  S.invites.clear();
  for (const iv of data.group_invites || []) addInvite(iv);
  if (data.status) S.status = data.status;
  if (typeof data.receipts === 'boolean') S.receipts = data.receipts;
}

function strip(g) {
  const { unread, last_message, ...rest } = g;
  return { ...rest, conv: g.conv || `g${g.id}` };
}

function takeSummary(id, x) {
  const c = conv(id);
  c.unread = Number(x.unread) || 0;
  const m = x.last_message;
  if (m) {
    if (!c.msgs.has(m.seq)) c.msgs.set(m.seq, m);
    if (!c.last || m.seq >= c.last.seq) c.last = m;
    if (m.seq > c.counted) c.counted = m.seq;
  }
  if (c.unread === 0 && c.last && c.last.seq > c.readUpTo) c.readUpTo = c.last.seq;
}

// loadPast takes GET /api/conversations/past: conversations with people
// who are no longer friends, whose history stays readable.
export function loadPast(data) {
  S.past.clear();
  for (const x of (data && data.conversations) || []) {
    const u = x.peer;
    if (!u || S.friends.has(u.id)) continue;
    rememberUser(u);
    S.past.set(u.id, { id: u.id, username: u.username, display_name: u.display_name, conv: x.conv });
    takeSummary(x.conv, x);
  }
}

export function addRequest(r) {
  rememberUser(r.from);
  rememberUser(r.to);
  if (!S.me) return;
  if (r.to.id === S.me.id) S.incoming.set(r.id, r);
  else S.outgoing.set(r.id, r);
}

// addInvite takes a group invitation; only those waiting for my answer are
// kept (the server sends no others).
export function addInvite(iv) {
  if (!iv || !iv.group || !iv.from || !iv.to) return;
  rememberUser(iv.from);
  if (S.me && iv.to.id === S.me.id && !S.groups.has(iv.group.id)) S.invites.set(iv.id, iv);
}

// dropInvitesFor forgets the invitations to a group I am now a member of
// (accepted here, on another device, or added by a friend meanwhile).
export function dropInvitesFor(gid) {
  for (const [id, iv] of S.invites) if (iv.group.id === gid) S.invites.delete(id);
}

function dropRequestsWith(uid) {
  for (const [id, r] of S.incoming) if (r.from.id === uid) S.incoming.delete(id);
  for (const [id, r] of S.outgoing) if (r.to.id === uid) S.outgoing.delete(id);
}

export function addFriend(u) {
  rememberUser(u);
  const old = S.friends.get(u.id);
  const id = u.conv || dmConv(S.me.id, u.id);
  S.friends.set(u.id, {
    id: u.id, username: u.username, display_name: u.display_name, conv: id, online: old ? old.online : !!u.online,
    presence: old ? old.presence : 'offline', last_seen: old ? old.last_seen : 0, since: old ? old.since : 0, peer_read: old ? old.peer_read : 0,
  });
  conv(id);
  S.past.delete(u.id);
  dropRequestsWith(u.id);
}

// removeFriend ends a friendship here; a conversation that has messages
// stays reachable among the past ones.
export function removeFriend(uid) {
  const f = S.friends.get(uid);
  S.friends.delete(uid);
  if (f && conv(f.conv).last) S.past.set(uid, { id: f.id, username: f.username, display_name: f.display_name, conv: f.conv });
  dropRequestsWith(uid);
}

export function upsertGroup(g) {
  dropInvitesFor(g.id);
  const old = S.groups.get(g.id) || {};
  S.groups.set(g.id, { ...old, ...strip(g) });
  conv(g.conv || `g${g.id}`);
}

export function removeGroup(gid) {
  S.groups.delete(gid);
}

// addMessage records a confirmed message. It answers whether the message is
// new (not a repeat by (conv, seq)) and whether it counted as unread.
// countable is false for history pages.
export function addMessage(m, countable) {
  const c = conv(m.conv);
  const mine = S.me && m.from === S.me.id;
  if (mine && m.client_id) c.pending.delete(m.client_id);
  if (c.msgs.has(m.seq)) return { added: false, counted: false };
  c.msgs.set(m.seq, m);
  if (!c.last || m.seq > c.last.seq) c.last = m;
  let counted = false;
  if (countable && !mine && m.seq > c.counted && m.seq > c.readUpTo) {
    c.unread++;
    counted = true;
  }
  if (countable && !mine && m.seq > c.counted) c.counted = m.seq;
  return { added: true, counted };
}

// applyRead takes "read up to seq" from this or another device.
export function applyRead(id, seq) {
  const c = conv(id);
  if (seq > c.readUpTo) c.readUpTo = seq;
  if (seq >= c.counted) {
    c.unread = 0;
    return;
  }
  let n = 0;
  for (const [s, m] of c.msgs) if (s > seq && m.from !== S.me.id) n++;
  c.unread = Math.min(c.unread, n);
}

// readTarget is the seq to send as read for a conversation on screen: the
// newest message from someone else, or the newest at all while the server
// still counts some unread we have not loaded yet.
export function readTarget(c) {
  let t = 0;
  for (const [s, m] of c.msgs) if (m.from !== S.me.id && s > t) t = s;
  if (c.unread > 0 && c.last && c.last.seq > t) t = c.last.seq;
  return t;
}

export function maxSeq(c) {
  let t = 0;
  for (const s of c.msgs.keys()) if (s > t) t = s;
  return t;
}

// sortedMessages gives the confirmed messages of the contiguous loaded run
// (and anything newer), oldest first.
export function sortedMessages(c) {
  const out = [];
  for (const m of c.msgs.values()) if (!c.fetched || m.seq >= c.floor) out.push(m);
  out.sort((a, b) => a.seq - b.seq);
  return out;
}

// missingSeqs lists the seqs absent between the loaded floor and the newest.
export function missingSeqs(c) {
  if (!c.fetched || !c.floor) return [];
  const top = maxSeq(c);
  const out = [];
  for (let s = c.floor; s < top && out.length < 500; s++) if (!c.msgs.has(s) && !c.holes.has(s)) out.push(s);
  return out;
}

// target answers where a send in a conversation goes, or null if I may
// not write there (no longer friends, no longer a member).
export function target(id) {
  const p = parseConv(id);
  if (!p) return null;
  if (p.type === 'group') return S.groups.has(p.gid) ? { to: p.gid, type: 'group' } : null;
  return S.friends.has(p.peer) ? { to: p.peer, type: 'single' } : null;
}

export function convTitle(id) {
  const p = parseConv(id);
  if (!p) return '';
  if (p.type === 'group') {
    const g = S.groups.get(p.gid);
    return g ? g.name : `Group ${p.gid}`;
  }
  return displayName(p.peer);
}

export function totalUnread() {
  let n = 0;
  for (const f of S.friends.values()) n += conv(f.conv).unread;
  for (const f of S.past.values()) n += conv(f.conv).unread;
  for (const g of S.groups.values()) n += conv(g.conv).unread;
  return n;
}
