// webchat's browser client, the entry point: the session (log-in, sign-up,
// log-out), which tab polls, and the messages between this browser's tabs.
//
// Modules: dom.js (building elements), api.js (HTTP), state.js (the model),
// ui.js (views and redraw), convs.js (conversations, history), send.js
// (sending, the outbox), saved.js (what outlives a reload), confirm.js
// (asking before what cannot be undone),
// events.js (poll events), actions.js (friends, groups, buttons),
// tabs.js (one poller per browser), poller.js (the long-poll loop),
// search.js (finding messages, opening a conversation at one),
// presence.js (presence, typing, read receipts),
// notify.js (title, favicon, desktop notifications), sidebar.js, chat.js
// and members.js (the views).

import { $, show } from './dom.js';
import { get, post, setUnauthorizedHandler } from './api.js';
import * as st from './state.js';
import { S } from './state.js';
import { leadership } from './tabs.js';
import { Poller, backoff } from './poller.js';
import { notifyPermission, askPermission, canNotify } from './notify.js';
import {
  bus, self, tabViews, postView, sidebar, chatView, membersView, attention, changed, banner, renderTyping, renderMe,
} from './ui.js';
import {
  openConv, closeChat, knownConv, readOpen, loadOlder, onMessage, resolveSummaries,
} from './convs.js';
import {
  sendMessage, retrySend, discardSend, restoreOutbox, retryFailed,
} from './send.js';
import { forgetUser } from './saved.js';
import {
  applyEvents, forgetSeen, refreshMe, refreshPast, resync,
} from './events.js';
import {
  wireActions, acceptRequest, declineRequest, removeMember, setRole, makeOwner,
} from './actions.js';
import { acceptInvite, declineInvite } from './invites.js';
import { wireSearch, resetSearch } from './search.js';
import { setStatus, setReceipts, setTypingListener, forgetTyping, forgetReceipts } from './presence.js';

// Presence comes by poll; /api/me again now and then all the same, and the
// "last seen" words redrawn as time passes.
const REFRESH_MS = 5 * 60_000;
const CLOCK_MS = 30_000;

let conn = 'connected';
let lead = null;
let superseded = false;
let bootTries = 0;

// --- the poll, in one tab --------------------------------------------------

const poller = new Poller({
  uid: () => (S.me ? S.me.id : 0),
  onEvents(events) {
    // Other tabs first, so that a "read" this tab sends while applying
    // reaches them after the message it is about.
    bus.post({ type: 'events', events });
    applyEvents(events, true);
  },
  async onResync() {
    bus.post({ type: 'resync' });
    await resync();
  },
  onState(s) {
    setConn(s);
    bus.post({ type: 'conn', state: s });
  },
  async onSuperseded() {
    // A newer poll of this same device (session) took over. Over the
    // lease that can be a sibling tab (one the browser throttled in the
    // background misses that its lease lapsed, and both poll for a
    // moment): then follow it, and compete again when it goes. Anyone
    // else (another program with this session) stops this tab, as the
    // contract asks, until the person takes it back.
    const l = lead;
    if (await siblingLeads()) {
      if (lead === l && l) l.follow();
      return;
    }
    if (lead !== l) return;
    superseded = true;
    stopLeading();
    banner('Messages are now being received in another window.', 'Receive here', () => {
      superseded = false;
      banner('');
      startLeading();
    });
  },
  onUnauthorized: () => sessionEnded(),
});

// <html data-poll="leader|follower" data-poll-kind="web-locks|lease"> tells
// tests and curious people which tab polls.
function startLeading() {
  if (lead || superseded) return;
  const root = document.documentElement;
  lead = leadership(() => {
    self.leader = true;
    root.dataset.poll = 'leader';
    poller.start();
  }, () => {
    self.leader = false;
    root.dataset.poll = 'follower';
    poller.stop();
  });
  root.dataset.poll = 'follower';
  root.dataset.pollKind = lead.kind;
  lead.start();
}

// siblingLeads asks this browser's other tabs whether one of them polls,
// and answers true if one says so within a second.
const asks = new Map();
function siblingLeads() {
  return new Promise((resolve) => {
    const ask = Math.random().toString(36).slice(2);
    const timer = setTimeout(() => {
      asks.delete(ask);
      resolve(false);
    }, 1000);
    asks.set(ask, () => {
      clearTimeout(timer);
      asks.delete(ask);
      resolve(true);
    });
    bus.post({ type: 'who-leads', ask });
  });
}

function stopLeading() {
  if (lead) lead.stop();
  lead = null;
  self.leader = false;
  poller.stop();
  delete document.documentElement.dataset.poll;
}

// setConn shows the connection's state; every poll answer says
// "connected" (here, or from the polling tab), and each sends again what
// failed for want of a connection: the server answers again.
function setConn(s) {
  conn = s;
  if (s === 'connected') retryFailed();
  const el = $('#conn');
  // A live region: set only a change, or it is announced on every poll.
  if (el.textContent === s) return;
  el.textContent = s;
  el.className = `conn ${s}`;
}

// --- this browser's other tabs ---------------------------------------------

bus.onMessage = (m) => {
  switch (m.type) {
    case 'events':
      if (S.me) applyEvents(m.events || [], false);
      break;
    case 'resync':
      if (S.me) resync();
      break;
    case 'sent':
      if (S.me) onMessage(m.message, false);
      break;
    case 'read':
      if (S.me) {
        st.applyRead(m.conv, m.seq);
        changed();
      }
      break;
    case 'conn':
      if (!self.leader) setConn(m.state);
      break;
    case 'who-leads':
      if (self.leader) bus.post({ type: 'leading', ask: m.ask });
      break;
    case 'leading':
      if (asks.has(m.ask)) asks.get(m.ask)();
      break;
    case 'hello':
      if (S.me) postView();
      if (self.leader) bus.post({ type: 'conn', state: conn });
      break;
    case 'view':
      tabViews.set(m.tab, { conv: m.conv, visible: m.visible });
      break;
    case 'bye':
      tabViews.delete(m.tab);
      break;
    case 'refresh':
      if (S.me) refreshMe();
      break;
    case 'login':
      if (!S.me || S.me.id !== m.uid) boot();
      break;
    case 'logout':
      if (S.me) signedOut('You logged out in another tab.');
      break;
    default:
      break;
  }
};

// A page going away ends its poll at once (the server sees the hang-up,
// and the friends see this device gone after the grace, not a whole poll
// later); one the back-forward cache brings back polls again.
addEventListener('pagehide', () => {
  bus.post({ type: 'bye' });
  if (self.leader) poller.stop();
});
addEventListener('pageshow', (e) => {
  if (e.persisted && self.leader && S.me) poller.start();
});

// Browsers that do not resize the page for an on-screen keyboard (iOS
// Safari ignores interactive-widget) shrink only the visual viewport: size
// the app to it, so the composer stays above the keyboard and the messages
// window shrinks, keeping the newest in view. Pinch zoom is left alone.
if (window.visualViewport) {
  const vv = window.visualViewport;
  const fit = () => {
    if (vv.scale > 1.01) return;
    document.documentElement.style.setProperty('--app-h', `${Math.round(vv.height)}px`);
    if (vv.offsetTop > 0) window.scrollTo(0, 0);
  };
  vv.addEventListener('resize', fit);
  fit();
}

document.addEventListener('visibilitychange', () => {
  if (!S.me) return;
  postView();
  if (!document.hidden) {
    readOpen();
    changed({ chat: !!S.open });
  }
});

// --- the views' handlers -------------------------------------------------------

sidebar.hd = {
  open: openConv, accept: acceptRequest, decline: declineRequest, acceptInvite, declineInvite,
};
chatView.hd = {
  send: sendMessage,
  retry: retrySend,
  discard: discardSend,
  nearTop: () => S.open && loadOlder(S.open),
  atBottom: () => readOpen(),
  redraw: () => changed({ chat: true }),
};
setTypingListener(renderTyping);

// My status and read receipts, in the menu under my name.
function meMenuError(text) {
  $('#me-menu-status').textContent = text;
  show($('#me-menu-status'), !!text);
}
$('#status-picker').addEventListener('change', async (e) => {
  const want = e.target.value;
  meMenuError('');
  try {
    await setStatus(want);
  } catch (err) {
    meMenuError(`Could not change your status: ${err.message}`);
  }
  renderMe();
});
$('#receipts-toggle').addEventListener('change', async (e) => {
  const want = e.target.checked;
  meMenuError('');
  try {
    await setReceipts(want);
  } catch (err) {
    meMenuError(`Could not change read receipts: ${err.message}`);
  }
  renderMe();
});
$('#me-menu').addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && $('#me-menu').open) {
    $('#me-menu').open = false;
    $('#me-menu summary').focus();
  }
});
membersView.hd = { remove: removeMember, setRole, makeOwner };
wireActions();
wireSearch();

// --- the session -------------------------------------------------------------

function authError(text) {
  const el = $('#auth-error');
  el.textContent = text || '';
  show(el, !!text);
}

function showAuth(message) {
  show($('#boot'), false);
  show($('#app'), false);
  show($('#auth'), true);
  authError(message);
  document.title = 'webchat';
}

function enter(data) {
  if (!S.me || S.me.id !== data.user.id) {
    st.reset();
    forgetSeen();
    chatView.switchTo(null);
  }
  st.loadMe(data);
  resolveSummaries();
  refreshPast();
  show($('#boot'), false);
  show($('#auth'), false);
  show($('#app'), true);
  authError('');
  const name = S.me.display_name || S.me.username;
  $('#me-name').textContent = name;
  $('#me-name').title = `@${S.me.username}`;
  const av = $('#me-avatar');
  av.textContent = [...name.trim()][0]?.toUpperCase() || '?';
  av.style.setProperty('--h', String((S.me.id * 137) % 360));
  show($('#notify-btn'), canNotify() && notifyPermission() === 'default');
  sidebar.setTab(S.tab);
  changed();
  startLeading();
  bus.post({ type: 'hello' });
  const want = decodeURIComponent(location.hash.slice(1));
  if (want && knownConv(want)) {
    // Opened from its address: put the list before it in the history, so
    // Back goes there (a reload keeps the steps it had).
    if (!(history.state && history.state.chat)) history.replaceState(null, '', location.pathname + location.search);
    openConv(want);
  } else {
    closeChat();
  }
  restoreOutbox();
}

// Back and Forward move between the list and a conversation.
addEventListener('popstate', () => {
  if (!S.me) return;
  const want = decodeURIComponent(location.hash.slice(1));
  if (want && knownConv(want)) openConv(want);
  else if (S.open) closeChat({ focus: true });
});

function signedOut(message) {
  stopLeading();
  superseded = false;
  resetSearch();
  st.reset();
  forgetSeen();
  forgetTyping();
  forgetReceipts();
  closeChat();
  banner('');
  attention.setTotal(0);
  showAuth(message);
}

function sessionEnded() {
  if (!S.me) return;
  signedOut('Your session has ended. Please log in again.');
  bus.post({ type: 'logout' });
}

setUnauthorizedHandler(() => sessionEnded());

async function boot() {
  try {
    const data = await get('/api/me', { auth: false });
    bootTries = 0;
    enter(data);
  } catch (e) {
    if (e.status === 401) {
      if (S.me) signedOut();
      else showAuth();
      return;
    }
    bootTries++;
    $('#boot').textContent = `${e.message} Trying again…`;
    setTimeout(boot, backoff(bootTries));
  }
}

async function authSubmit(form, path, body) {
  const btn = form.querySelector('button[type=submit]');
  btn.disabled = true;
  authError('');
  try {
    await post(path, body, { auth: false });
    const me = await get('/api/me', { auth: false });
    for (const input of form.querySelectorAll('input[type=password]')) input.value = '';
    enter(me);
    bus.post({ type: 'login', uid: me.user.id });
  } catch (e) {
    authError(e.message);
  } finally {
    btn.disabled = false;
  }
}

$('#login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.currentTarget;
  authSubmit(f, '/api/login', { username: f.username.value.trim(), password: f.password.value });
});

$('#signup-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.currentTarget;
  const username = f.username.value.trim();
  authSubmit(f, '/api/signup', {
    username,
    password: f.password.value,
    display_name: f.display_name.value.trim() || username,
  });
});

$('#logout-btn').addEventListener('click', async () => {
  bus.post({ type: 'logout' });
  const uid = S.me && S.me.id;
  stopLeading();
  try {
    await post('/api/logout', {}, { auth: false });
  } catch { /* logged out here either way */ }
  try {
    if (uid) localStorage.removeItem(`webchat:cursor:${uid}`);
  } catch { /* ignore */ }
  // Drafts and unsent messages are this person's: not for whoever uses
  // the browser next.
  if (uid) forgetUser(uid);
  signedOut();
});

$('#notify-btn').addEventListener('click', async () => {
  // Asked on a click: browsers ignore or block a request without one.
  await askPermission();
  show($('#notify-btn'), canNotify() && notifyPermission() === 'default');
});

setInterval(() => {
  if (S.me && !document.hidden) refreshMe();
}, REFRESH_MS);
setInterval(() => {
  if (S.me && !document.hidden) changed();
}, CLOCK_MS);
// A computer that slept missed presence and receipts (they go only to
// devices polling at the time): a timer that fires far too late says so.
let tick = Date.now();
setInterval(() => {
  const now = Date.now();
  if (S.me && now - tick > 30_000) refreshMe();
  tick = now;
}, 5_000);

boot();
