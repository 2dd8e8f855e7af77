// The page's views, the channel to this browser's other tabs, and the one
// place that redraws: changed() batches every change of a task into one
// redraw at its end (a microtask, so hidden tabs redraw too, unlike
// requestAnimationFrame).

import { $, h, show } from './dom.js';
import * as st from './state.js';
import { S } from './state.js';
import { Sidebar } from './sidebar.js';
import { ChatView } from './chat.js';
import { MembersView } from './members.js';
import { Attention } from './notify.js';
import { Bus } from './tabs.js';
import { presenceText, typingLine } from './presence.js';

// The views; app.js gives them their handlers.
export const sidebar = new Sidebar();
export const chatView = new ChatView();
export const membersView = new MembersView();
export const attention = new Attention();

// bus reaches this browser's other tabs; app.js sets bus.onMessage.
export const bus = new Bus();

// self: whether this tab is the one that polls.
export const self = { leader: false };

// tabViews: what the other tabs show (tab id -> {conv, visible}), so the
// polling tab does not notify about a conversation someone is looking at.
export const tabViews = new Map();

export function postView() {
  bus.post({ type: 'view', conv: S.open, visible: !document.hidden });
}

// The members panel sits beside the chat where there is room for both
// (with the contact list, 1001 px and up); on a narrower screen it covers
// the chat, so there it starts closed. app.css has the same breakpoint.
export const wide = matchMedia('(min-width: 1001px)');
// roomy: not a phone; opening a conversation puts the caret in the composer
// (on a phone that would pop the keyboard up over the messages).
export const roomy = matchMedia('(min-width: 721px)');
let membersWanted = wide.matches;
wide.addEventListener('change', (e) => {
  membersWanted = e.matches;
  if (S.me) renderHeader();
});

export function toggleMembers() {
  membersWanted = !membersWanted;
  renderHeader();
}

export function membersClosedOnNarrow() {
  if (!wide.matches) membersWanted = false;
}

let dirty = null;

// changed asks for a redraw at the end of the current task. chat: the open
// conversation's messages too; bottom: scroll them to the newest.
export function changed(opts = {}) {
  if (!dirty) {
    dirty = { chat: false, bottom: false };
    queueMicrotask(flush);
  }
  dirty.chat ||= !!opts.chat;
  dirty.bottom ||= !!opts.bottom;
}

// flush redraws now what changed() asked for.
export function flush() {
  const d = dirty;
  dirty = null;
  if (!d || !S.me) return;
  sidebar.render();
  renderHeader();
  renderMe();
  if (d.chat && S.open) chatView.render(st.conv(S.open), { forceBottom: d.bottom });
  attention.setTotal(st.totalUnread());
}

export function renderHeader() {
  const id = S.open;
  if (!id) return;
  const p = st.parseConv(id);
  let title;
  let name = null; // isolated in the title (bdi): it may read right to left
  let writable;
  let why;
  if (p.type === 'single') {
    name = st.displayName(p.peer);
    title = `Chatting with ${name}`;
    writable = S.friends.has(p.peer);
    why = `You and ${name} are no longer friends. The history stays readable.`;
  } else {
    const g = S.groups.get(p.gid);
    const n = g ? g.member_count : 0;
    title = g ? `${g.name} (${n} ${n === 1 ? 'member' : 'members'})` : 'Group';
    writable = !!g;
    why = 'You are no longer a member of this group.';
  }
  const t = $('#chat-title');
  if (t.textContent !== title) {
    if (p.type === 'single') t.replaceChildren('Chatting with ', h('bdi', null, name));
    else if (S.groups.has(p.gid)) t.replaceChildren(h('bdi', null, S.groups.get(p.gid).name), title.slice(S.groups.get(p.gid).name.length));
    else t.replaceChildren(title);
  }
  const pres = $('#chat-presence');
  const pt = p.type === 'single' && writable ? presenceText(S.friends.get(p.peer)) : '';
  if (pres.textContent !== pt) pres.textContent = pt;
  pres.dataset.presence = (p.type === 'single' && S.friends.get(p.peer)?.presence) || '';
  show(pres, !!pt);
  renderTyping();
  show($('#unfriend-btn'), p.type === 'single' && writable);
  show($('#members-toggle'), p.type === 'group');
  $('#members-toggle').setAttribute('aria-expanded', String(membersWanted));
  show($('#members-panel'), p.type === 'group' && membersWanted);
  chatView.setWritable(writable, why);
}

// renderTyping shows who types in the open conversation.
export function renderTyping() {
  const line = S.open ? typingLine(S.open) : '';
  const el = $('#typing-line');
  if (el.textContent !== line) el.textContent = line;
}

// renderMe shows my own status beside my name.
export function renderMe() {
  const dot = $('#me-dot');
  dot.className = `dot ${S.status === 'invisible' ? 'offline' : S.status}`;
  $('#status-picker').value = S.status;
  $('#receipts-toggle').checked = S.receipts;
}

// openGroup is the id of the group shown, or null.
export function openGroup() {
  const p = S.open && st.parseConv(S.open);
  return p && p.type === 'group' ? p.gid : null;
}

export function renderMembers() {
  const gid = openGroup();
  if (!gid) return;
  membersView.render(S.groups.get(gid), st.conv(S.open).members);
}

let asking = false; // the banner asks something (its button does more than close it)

// banner shows a line under the header, with an optional button; '' hides it.
export function banner(text, button, onClick) {
  showBanner(text, button, onClick);
  asking = !!(text && button);
}

// news shows a line of news in the banner, with OK to close it, unless the
// banner is asking something (that question matters more).
export function news(text) {
  if (asking && !$('#banner').hidden) return;
  showBanner(text, 'OK', () => banner(''));
  asking = false;
}

function showBanner(text, button, onClick) {
  $('#banner-text').textContent = text;
  const b = $('#banner-btn');
  b.textContent = button || '';
  b.onclick = onClick || null;
  show(b, !!button);
  show($('#banner'), !!text);
}
