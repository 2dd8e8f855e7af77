// The left column: Friends and Groups tabs, each list sorted by latest
// activity with a preview, time, unread badge and (friends) online dot;
// friend requests.

import { h, $, show, fmtListTime, fmtFull, initial, hue } from './dom.js';
import { S, conv, displayName } from './state.js';
import { presenceText } from './presence.js';

// avatar is a coloured circle with an initial (text, never markup).
export function avatar(id, name, cls = '') {
  // CSSOM, not a style attribute: a strict Content-Security-Policy allows it.
  const el = h('span', { class: `avatar ${cls}`, 'aria-hidden': 'true' }, initial(name));
  el.style.setProperty('--h', String(hue(id)));
  return el;
}

function activity(c) {
  return c.last ? c.last.ts : 0;
}

// preview is the last message in a line. Names and text are isolated
// (bdi), so a right-to-left name or message does not reorder the rest.
function preview(c, isGroup) {
  const m = c.last;
  if (!m) return null;
  const text = m.body.replace(/\s+/g, ' ');
  if (S.me && m.from === S.me.id) return ['You: ', h('bdi', null, text)];
  return isGroup ? [h('bdi', null, displayName(m.from)), ': ', h('bdi', null, text)] : text;
}

function byActivity(a, b) {
  return activity(b.c) - activity(a.c) || a.name.localeCompare(b.name);
}

function badge(n) {
  if (!n) return null;
  return h('span', { class: 'badge', 'data-testid': 'unread-badge', 'aria-label': `${n} unread` }, n > 99 ? '99+' : String(n));
}

function item(testid, id, convId, name, c, isGroup, extra, onOpen) {
  const active = S.open === convId;
  const time = c.last ? h('time', { class: 'item-time', datetime: new Date(c.last.ts).toISOString(), title: fmtFull(c.last.ts) }, fmtListTime(c.last.ts)) : null;
  return h('li', null,
    h('button', {
      class: `conv-item${active ? ' active' : ''}${c.unread ? ' has-unread' : ''}`,
      type: 'button',
      'data-testid': testid,
      'data-conv': convId,
      'aria-current': active ? 'true' : null,
      onclick: () => onOpen(convId),
    },
    h('span', { class: 'avatar-wrap' }, avatar(id, name, isGroup ? 'group' : ''), extra),
    h('span', { class: 'item-main' },
      h('span', { class: 'item-row' }, h('span', { class: 'item-name', dir: 'auto' }, name), time),
      h('span', { class: 'item-row' }, h('span', { class: 'item-preview', dir: 'auto' }, preview(c, isGroup) || (isGroup ? 'No messages yet' : 'Say hello')), badge(c.unread)))));
}

// keepFocus rebuilds a list and puts keyboard focus back on the same item.
function keepFocus(list, build) {
  const active = document.activeElement;
  const key = active && list.contains(active) ? active.getAttribute('data-conv') : null;
  list.replaceChildren(...build());
  if (key) {
    const again = list.querySelector(`[data-conv="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

// keepButtonFocus rebuilds a list of rows (each with the attribute attr)
// and puts keyboard focus back on the same button of the same row: a poll
// event redraws the list while someone tabs through its buttons.
function keepButtonFocus(list, attr, rows) {
  const active = document.activeElement;
  const row = active && list.contains(active) ? active.closest(`[${attr}]`) : null;
  const key = row && [row.getAttribute(attr), active.dataset.testid];
  list.replaceChildren(...rows);
  if (key) {
    const again = list.querySelector(`[${attr}="${CSS.escape(key[0])}"] [data-testid="${CSS.escape(key[1])}"]`);
    if (again) again.focus();
  }
}

// presenceDot is a friend's dot: green online, amber away, grey with when
// they were last seen otherwise (its title and label say it in words).
function presenceDot(f) {
  const p = f.presence === 'online' || f.presence === 'away' ? f.presence : 'offline';
  const text = presenceText(f);
  return h('span', {
    class: `dot ${p}`, 'data-testid': p === 'offline' ? 'offline-dot' : 'online-dot', 'data-presence': p,
    title: text, 'aria-label': text, role: 'img',
  });
}

const members = (n) => (n === 1 ? '1 member' : `${n} members`);

export class Sidebar {
  // hd: {open(conv), accept(req, button), decline(req, button),
  //      acceptInvite(invite), declineInvite(invite)}
  constructor(handlers = {}) {
    this.hd = handlers;
    this.friendList = $('#friend-list');
    this.groupList = $('#group-list');
    this.pastList = $('#past-list');
  }

  setTab(tab) {
    S.tab = tab;
    const friends = tab === 'friends';
    $('#tab-friends').setAttribute('aria-selected', String(friends));
    $('#tab-groups').setAttribute('aria-selected', String(!friends));
    show($('#friends-pane'), friends);
    show($('#groups-pane'), !friends);
  }

  render() {
    const friends = [...S.friends.values()].map((f) => ({ f, c: conv(f.conv), name: f.display_name || f.username }));
    friends.sort(byActivity);
    keepFocus(this.friendList, () => friends.map(({ f, c, name }) => item('friend-item', f.id, f.conv, name, c, false,
      presenceDot(f),
      this.hd.open)));
    show($('#friends-empty'), friends.length === 0);

    const past = [...S.past.values()].map((f) => ({ f, c: conv(f.conv), name: f.display_name || f.username }));
    past.sort(byActivity);
    keepFocus(this.pastList, () => past.map(({ f, c, name }) => item('past-item', f.id, f.conv, name, c, false, null, this.hd.open)));
    show($('#past'), past.length > 0);

    const groups = [...S.groups.values()].map((g) => ({ g, c: conv(g.conv), name: g.name }));
    groups.sort(byActivity);
    keepFocus(this.groupList, () => groups.map(({ g, c, name }) => item('group-item', g.id, g.conv, name, c, true,
      null, this.hd.open)));
    show($('#groups-empty'), groups.length === 0);

    this.renderRequests();
    this.renderInvites();

    const fu = [...friends, ...past].reduce((n, x) => n + x.c.unread, 0) + S.incoming.size + S.invites.size;
    const gu = groups.reduce((n, x) => n + x.c.unread, 0);
    tabCount($('#tab-friends'), fu);
    tabCount($('#tab-groups'), gu);
  }

  renderRequests() {
    const inc = [...S.incoming.values()].sort((a, b) => b.created_at - a.created_at);
    const out = [...S.outgoing.values()].sort((a, b) => b.created_at - a.created_at);
    keepButtonFocus($('#incoming'), 'data-request', inc.map((r) => h('li', { class: 'request', 'data-testid': 'request-item', 'data-request': r.id },
      avatar(r.from.id, r.from.display_name, 'small'),
      h('span', { class: 'request-text' },
        h('strong', { dir: 'auto' }, r.from.display_name || r.from.username),
        h('small', null, ` @${r.from.username} wants to be your friend`)),
      h('span', { class: 'request-actions' },
        h('button', { type: 'button', class: 'primary small', 'data-testid': 'request-accept', onclick: (e) => this.hd.accept(r, e.currentTarget) }, 'Accept'),
        h('button', { type: 'button', class: 'ghost small', 'data-testid': 'request-decline', onclick: (e) => this.hd.decline(r, e.currentTarget) }, 'Decline')))));
    $('#outgoing').replaceChildren(...out.map((r) => h('li', { class: 'request outgoing', 'data-testid': 'request-outgoing' },
      h('small', null, 'Waiting for ', h('bdi', null, r.to.display_name || r.to.username), ` (@${r.to.username}) to accept`))));
    show($('#requests'), inc.length + out.length > 0);
  }

  // renderInvites lists the group invitations waiting for my answer: which
  // group (its name and size) and who invited me, with Accept and Decline.
  // The Groups tab points here while there are any.
  renderInvites() {
    const invites = [...S.invites.values()].sort((a, b) => b.created_at - a.created_at);
    keepButtonFocus($('#invite-list'), 'data-invite', invites.map((iv) => {
      const g = iv.group;
      const from = iv.from.display_name || iv.from.username;
      const busy = S.answering.has(iv.id);
      return h('li', { class: 'request invite', 'data-testid': 'invite-item', 'data-invite': iv.id, title: g.brief || null },
        avatar(g.id, g.name, 'small group'),
        h('span', { class: 'request-text' },
          h('strong', { dir: 'auto' }, g.name),
          h('small', null, h('bdi', null, from), ` (@${iv.from.username}) invited you`),
          h('small', null, members(g.member_count))),
        h('span', { class: 'request-actions' },
          h('button', {
            type: 'button', class: 'primary small', 'data-testid': 'invite-accept', disabled: busy,
            'aria-label': `Accept the invitation to ${g.name}`, onclick: () => this.hd.acceptInvite(iv),
          }, 'Accept'),
          h('button', {
            type: 'button', class: 'ghost small', 'data-testid': 'invite-decline', disabled: busy,
            'aria-label': `Decline the invitation to ${g.name}`, onclick: () => this.hd.declineInvite(iv),
          }, 'Decline')));
    }));
    show($('#invites'), invites.length > 0);
    const n = invites.length;
    $('#invites-hint').textContent = n === 1 ? 'A group invitation is waiting for you' : `${n} group invitations are waiting for you`;
    show($('#invites-hint-row'), n > 0);
  }
}

function tabCount(tab, n) {
  const el = tab.querySelector('.tab-count');
  el.textContent = n > 99 ? '99+' : String(n);
  show(el, n > 0);
}
