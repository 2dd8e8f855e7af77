// The group members panel: list with roles, add by username, remove,
// promote, hand the group over (owner only) and leave.

import { h, $, show } from './dom.js';
import { S } from './state.js';
import { avatar } from './sidebar.js';

const RANK = { owner: 0, admin: 1, member: 2 };

export function myRole(members) {
  const me = members && S.me && members.find((m) => m.id === S.me.id);
  return me ? me.role : null;
}

export const memberName = (m) => m.display_name || m.username;

// canRemove follows the server's rule: the owner removes anyone else, an
// admin removes plain members; everyone may leave (separate button).
export function canRemove(role, target) {
  if (target.id === S.me.id) return false;
  if (role === 'owner') return true;
  return role === 'admin' && target.role === 'member';
}

export class MembersView {
  // hd: {remove(member, btn), setRole(member, role, btn), makeOwner(member, btn)}
  constructor(hd = {}) {
    this.hd = hd;
  }

  // status says how an action in the panel went; good news fades after a
  // while, unless it is news the person may come back to (keep), such as
  // an invitation sent or declined.
  status(text, error = false, keep = false) {
    const el = $('#members-status');
    el.textContent = text;
    el.classList.toggle('error', error);
    el.classList.toggle('info', keep && !error);
    show(el, !!text);
    clearTimeout(this.timer);
    if (text && !error && !keep) this.timer = setTimeout(() => this.status(''), 6000);
  }

  render(group, members) {
    $('#members-count').textContent = group ? `(${group.member_count ?? (members ? members.length : '')})` : '';
    const brief = $('#group-brief');
    brief.textContent = (group && group.brief) || '';
    show(brief, !!(group && group.brief));
    const role = myRole(members);
    show($('#add-member-form'), role === 'owner' || role === 'admin');
    const list = $('#member-list');
    if (!members) {
      list.replaceChildren(h('li', { class: 'muted' }, 'Loading members…'));
      return;
    }
    // Keep keyboard focus on the same button across the redraw.
    const active = document.activeElement;
    const focusKey = active && list.contains(active) ? `${active.closest('[data-user]')?.dataset.user}|${active.dataset.testid}` : null;
    const sorted = [...members].sort((a, b) => (RANK[a.role] ?? 3) - (RANK[b.role] ?? 3)
      || memberName(a).localeCompare(memberName(b)));
    list.replaceChildren(...sorted.map((m) => this.item(m, role)));
    if (focusKey) {
      const [uid, testid] = focusKey.split('|');
      const again = list.querySelector(`[data-user="${CSS.escape(uid)}"] [data-testid="${CSS.escape(testid)}"]`);
      if (again) again.focus();
    }
  }

  item(m, role) {
    const name = memberName(m);
    const actions = [];
    if (role === 'owner' && m.id !== S.me.id) {
      const admin = m.role === 'admin';
      actions.push(h('button', {
        type: 'button', class: 'link small', 'data-testid': 'member-role',
        'aria-label': admin ? `Make ${name} a plain member` : `Make ${name} an admin`,
        title: admin ? 'Make a plain member' : 'Make an admin (can add and remove members)',
        onclick: (e) => this.hd.setRole(m, admin ? 'member' : 'admin', e.currentTarget),
      }, admin ? 'Unadmin' : 'Make admin'));
      actions.push(h('button', {
        type: 'button', class: 'link small', 'data-testid': 'member-owner',
        'aria-label': `Make ${name} the owner`,
        title: 'Hand the group over: they become the owner, you an admin',
        onclick: (e) => this.hd.makeOwner(m, e.currentTarget),
      }, 'Make owner'));
    }
    if (canRemove(role, m)) {
      actions.push(h('button', {
        type: 'button', class: 'link small danger', 'data-testid': 'member-remove',
        'aria-label': `Remove ${name}`,
        onclick: (e) => this.hd.remove(m, e.currentTarget),
      }, 'Remove'));
    }
    return h('li', { class: 'member', 'data-testid': 'member-item', 'data-user': m.id },
      avatar(m.id, name, 'small'),
      h('span', { class: 'member-name', title: `${name} (@${m.username})` },
        h('span', { dir: 'auto' }, name, m.id === S.me.id ? ' (you)' : ''),
        h('small', null, `@${m.username}`)),
      m.role !== 'member' ? h('span', { class: `role ${m.role}` }, m.role) : null,
      actions.length ? h('span', { class: 'member-actions' }, actions) : null);
  }
}
