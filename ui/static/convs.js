// Conversations: opening one, its history (newest page, older pages on
// scroll, holes filled), telling the server what was read, and taking in
// messages from the poll or other tabs. Sending is send.js.

import { $, show } from './dom.js';
import { get, post } from './api.js';
import * as st from './state.js';
import { S } from './state.js';
import { notify, notifyPermission } from './notify.js';
import * as saved from './saved.js';
import { stopTyping, loadReadBy } from './presence.js';
import {
  bus, self, tabViews, postView, roomy, changed, flush, renderHeader, renderMembers,
  openGroup, chatView, membersView, membersClosedOnNarrow,
} from './ui.js';

const GAP_WAIT_MS = 2000; // messages sent together may arrive out of order
const PAGE = 50;

const historyURL = (id, query) => `/api/conversations/${encodeURIComponent(id)}/messages?${query}`;

// knownConv says whether a conversation may be opened: a group of mine, or
// a direct conversation of mine (with a friend, or a past one whose history
// stays readable; the server says 404 for one that never was).
export function knownConv(id) {
  const p = st.parseConv(id);
  if (!p || !S.me) return false;
  if (p.type === 'group') return S.groups.has(p.gid);
  return S.friends.has(p.peer) || S.past.has(p.peer) || st.dmConv(S.me.id, p.peer) === id;
}

// The open conversation is in the URL's fragment, so a reload reopens it.
// Opening one from the list is a step of its own in the history, so Back
// (a phone's back gesture) returns to the list instead of leaving the app;
// switching from one conversation to another replaces that step, so Back
// does not walk through every conversation seen.
function setHash(id) {
  const want = id ? `#${id}` : '';
  if (location.hash === want) return;
  if (!id) history.replaceState(null, '', location.pathname + location.search);
  else if (history.state && history.state.chat) history.replaceState({ chat: true }, '', want);
  else history.pushState({ chat: true }, '', want);
}

// closeFromUser closes the chat as Back does: through the history when the
// conversation is a step of it (popstate then closes it), so the step is
// not left behind.
export function closeFromUser() {
  if (history.state && history.state.chat) history.back();
  else closeChat({ focus: true });
}

// focusItem puts keyboard focus on a conversation's entry in the list (the
// one just left), or else on the list's tab, never on nothing.
function focusItem(id) {
  const sel = `[data-conv="${CSS.escape(id)}"]:is([data-testid="friend-item"], [data-testid="group-item"], [data-testid="past-item"])`;
  const el = id && document.querySelector(sel);
  if (el && el.getClientRects().length) el.focus();
  else $(`#tab-${S.tab}`).focus();
}

export async function openConv(id) {
  const p = st.parseConv(id);
  if (!S.me || !p) return;
  const switching = S.open !== id;
  S.open = id;
  setHash(id);
  document.body.classList.add('show-chat');
  show($('#chat-empty'), false);
  show($('#chat-main'), true);
  chatView.switchTo(id);
  if (switching) membersView.status('');
  // What is already here shows at once; the newest page follows.
  changed({ chat: true, bottom: true });
  flush();
  postView();
  readOpen();
  if (switching && roomy.matches) chatView.composer.focus({ preventScroll: true });
  if (p.type === 'group') {
    if (switching) membersClosedOnNarrow();
    renderMembers();
    renderHeader();
    loadMembers(p.gid);
  }
  await loadLatest(id);
  if (p.type === 'group' && S.open === id) {
    // Read counts arrive only while a tab polls: ask for the one shown.
    let mine = 0;
    for (const m of st.conv(id).msgs.values()) if (m.from === S.me.id && m.seq > mine) mine = m.seq;
    if (await loadReadBy(id, mine)) changed({ chat: true });
  }
}

// closeChat shows no conversation. focus: put keyboard focus on the
// conversation's entry in the list (when the person closed it).
export function closeChat({ focus = false } = {}) {
  const was = S.open;
  S.open = null;
  setHash(null);
  document.body.classList.remove('show-chat');
  show($('#chat-main'), false);
  show($('#chat-empty'), true);
  chatView.switchTo(null);
  postView();
  changed();
  if (focus) {
    flush();
    focusItem(was);
  }
}

// loadLatest fetches the newest page: switching to a conversation always
// shows what the server has, not only what arrived while the page was open.
export async function loadLatest(id) {
  const c = st.conv(id);
  const token = (c.latestToken = (c.latestToken || 0) + 1);
  let data;
  try {
    data = await get(historyURL(id, `limit=${PAGE}`));
  } catch (e) {
    if (S.open === id && e.status !== 401) {
      chatView.notice(e.status === 404 ? 'This conversation is not available to you.' : `Could not load messages: ${e.message}`);
    }
    return;
  }
  if (token !== c.latestToken) return;
  const page = (data && data.messages) || [];
  for (const m of page) st.addMessage(m, false);
  if (page.length) {
    const p0 = page[0].seq;
    // Keep what joins the page without a hole; drop older islands (such as
    // the last-message summary from /api/me, or a run from before an
    // outage), which scrolling up loads again in order.
    let floor = p0;
    while (c.msgs.has(floor - 1)) floor--;
    for (const s of [...c.msgs.keys()]) if (s < floor) c.msgs.delete(s);
    c.floor = floor;
    c.hasMore = floor === p0 ? !!data.has_more : floor > 1;
  } else {
    c.floor = c.msgs.size ? Math.min(...c.msgs.keys()) : 1;
    c.hasMore = false;
  }
  c.fetched = true;
  resolveSenders(id);
  if (S.open !== id) return;
  changed({ chat: true });
  flush();
  readOpen();
  scheduleGapCheck(id);
  if (!chatView.overflowing() && c.hasMore) loadOlder(id);
}

const sendersAsked = new Map(); // conv -> user ids asked about

// resolveSenders learns the names of the people who wrote messages of a
// conversation that this page knows nothing of (a group's former members,
// who are in no member list): the server names the author of any message
// the reader may read.
export async function resolveSenders(id) {
  if (!S.me) return;
  const c = st.conv(id);
  const key = `${S.me.id}:${id}`; // another person may log in here later
  const asked = sendersAsked.get(key) || new Set();
  sendersAsked.set(key, asked);
  const want = new Map(); // user id -> a seq of theirs
  for (const m of [...c.msgs.values(), c.last]) {
    if (m && !S.users.has(m.from) && !asked.has(m.from) && !want.has(m.from)) want.set(m.from, m.seq);
  }
  if (!want.size) return;
  const ids = [...want.keys()].slice(0, 100);
  for (const u of ids) asked.add(u);
  try {
    const data = await get(`/api/conversations/${encodeURIComponent(id)}/senders?seq=${ids.map((u) => want.get(u)).join(',')}`);
    for (const u of (data && data.users) || []) st.rememberUser(u);
    changed({ chat: S.open === id });
  } catch {
    for (const u of ids) asked.delete(u); // ask again next time
  }
}

// resolveSummaries names the authors of the groups' last messages, for the
// previews in the list.
export function resolveSummaries() {
  for (const g of S.groups.values()) {
    const c = st.conv(g.conv);
    if (c.last && !S.users.has(c.last.from)) resolveSenders(g.conv);
  }
}

// loadOlder loads the page before the oldest shown (scrolled to the top).
export async function loadOlder(id) {
  const c = st.conv(id);
  if (c.loading || !c.fetched || !c.hasMore) return;
  c.loading = true;
  changed({ chat: S.open === id });
  try {
    const data = await get(historyURL(id, `before=${c.floor}&limit=${PAGE}`));
    const page = (data && data.messages) || [];
    for (const m of page) st.addMessage(m, false);
    if (page.length) c.floor = Math.min(c.floor, page[0].seq);
    c.hasMore = !!(data && data.has_more) && page.length > 0 && c.floor > 1;
    resolveSenders(id);
  } catch (e) {
    if (S.open === id && e.status !== 401) chatView.notice(`Could not load earlier messages: ${e.message}`);
    c.loading = false;
    changed({ chat: S.open === id });
    return;
  }
  c.loading = false;
  if (S.open !== id) return;
  changed({ chat: true });
  flush();
  if (!chatView.overflowing() && c.hasMore) loadOlder(id);
}

// A message can overtake another; only after GAP_WAIT_MS is a hole taken
// as lost and filled from history.
export function scheduleGapCheck(id) {
  const c = st.conv(id);
  if (c.gapTimer || !st.missingSeqs(c).length) return;
  c.gapTimer = setTimeout(() => {
    c.gapTimer = null;
    fillGap(id);
  }, GAP_WAIT_MS);
}

async function fillGap(id) {
  const c = st.conv(id);
  let missing = st.missingSeqs(c);
  for (let round = 0; missing.length && round < 10; round++) {
    const hi = missing[missing.length - 1];
    const limit = Math.min(100, hi - missing[0] + 1);
    let data;
    try {
      data = await get(historyURL(id, `before=${hi + 1}&limit=${limit}`));
    } catch {
      break;
    }
    for (const m of (data && data.messages) || []) st.addMessage(m, false);
    const now = st.missingSeqs(c);
    if (now.length >= missing.length) break;
    missing = now;
  }
  // What history does not have either (trimmed) is not asked for again.
  for (const s of st.missingSeqs(c)) c.holes.add(s);
  if (S.open === id) {
    changed({ chat: true });
    readOpen();
  }
}

// readOpen tells the server (and this browser's other tabs) that the open
// conversation is read, when the person can see it: the tab in front and
// the window at the newest message (scrolled up, they are reading older
// ones; coming down reads the rest). It sends again when a newer message
// shows while the conversation is open.
export function readOpen() {
  const id = S.open;
  if (!id || document.hidden || !S.me) return;
  if (chatView.conv === id && !chatView.atBottom()) return;
  const c = st.conv(id);
  const t = st.readTarget(c);
  const had = c.unread;
  if (!t || (t <= c.readSent && had === 0)) return;
  c.unread = 0;
  if (t > c.readUpTo) c.readUpTo = t;
  c.readSent = Math.max(c.readSent, t);
  post(`/api/conversations/${encodeURIComponent(id)}/read`, { seq: t }).catch((e) => {
    if (e.status !== 401 && c.readSent === t) c.readSent = 0; // try again next time
  });
  bus.post({ type: 'read', conv: id, seq: t });
  changed();
}

// onMessage takes a message from the poll (live) or from another tab.
export function onMessage(m, live) {
  if (!m || typeof m.seq !== 'number' || !m.conv) return;
  // My own, sent by another tab or device: no longer to be sent from here.
  if (S.me && m.from === S.me.id && m.client_id) saved.outboxDrop(S.me.id, m.client_id);
  const r = st.addMessage(m, true);
  stopTyping(m.conv, m.from);
  if (!r.added) return;
  const open = m.conv === S.open;
  if (open) {
    readOpen();
    scheduleGapCheck(m.conv);
    if (m.from !== S.me.id && !document.hidden) chatView.announce(`${st.displayName(m.from)}: ${m.body.length > 300 ? `${m.body.slice(0, 300)}…` : m.body}`);
  }
  changed({ chat: open });
  const p = st.parseConv(m.conv);
  if (p && p.type === 'group' && !S.users.has(m.from)) loadMembers(p.gid).then(() => resolveSenders(m.conv));
  if (live && r.counted && self.leader) maybeNotify(m);
}

// maybeNotify: a desktop notification, from the polling tab only, unless
// some tab of this browser shows that conversation to the person.
function maybeNotify(m) {
  if (notifyPermission() !== 'granted') return;
  const here = !document.hidden && S.open === m.conv;
  const elsewhere = [...tabViews.values()].some((v) => v.visible && v.conv === m.conv);
  if (here || elsewhere) return;
  const p = st.parseConv(m.conv);
  const who = st.displayName(m.from);
  const title = p.type === 'group' ? `${who} in ${st.convTitle(m.conv)}` : who;
  notify(title, m.body.length > 200 ? `${m.body.slice(0, 200)}…` : m.body, `webchat-${m.conv}`, () => openConv(m.conv));
}

const memberLoads = new Map(); // gid -> promise, so a burst loads once

// loadMembers fetches a group and its members (names for its messages).
export function loadMembers(gid) {
  if (memberLoads.has(gid)) return memberLoads.get(gid);
  const pr = (async () => {
    try {
      const data = await get(`/api/groups/${gid}`);
      st.upsertGroup(data.group);
      for (const m of data.members || []) st.rememberUser(m);
      st.conv(data.group.conv || `g${gid}`).members = data.members || [];
      if (openGroup() === gid) renderMembers();
      changed({ chat: true });
    } catch (e) {
      if (e.status === 404 || e.status === 403) {
        st.removeGroup(gid); // not a member any more
        changed();
      } else if (openGroup() === gid) {
        membersView.status(`Could not load members: ${e.message}`, true);
      }
    } finally {
      memberLoads.delete(gid);
    }
  })();
  memberLoads.set(gid, pr);
  return pr;
}

// bumpCount adjusts a group's member count after an add or remove here;
// the server's group_updated event brings the exact number.
export function bumpCount(gid, d) {
  const g = S.groups.get(gid);
  if (g && typeof g.member_count === 'number') g.member_count = Math.max(0, g.member_count + d);
  renderMembers();
  changed();
}
