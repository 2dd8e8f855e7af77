// The group members panel: list with roles, add by username, remove,
// promote (owner only) and leave.

import { h, $, show } from './dom.js';
import { S } from './state.js';
import { avatar } from './sidebar.js';

const RANK = { owner: 0, admin: 1, member: 2 };

export function myRole(members) {
  const me = members && members.find((m) => m.id === S.me.id);
  return me ? me.role : null;
}

// canRemove follows the server's rule: the owner removes anyone else, an
// admin removes plain members; everyone may leave (separate button).
export function canRemove(role, target) {
  if (target.id === S.me.id) return false;
  if (role === 'owner') return true;
  return role === 'admin' && target.role === 'member';
}

export class MembersView {
  // hd: {remove(member, btn), setRole(member, role, btn)}
  constructor(hd = {}) {
    this.hd = hd;
  }

  status(text, error = false) {
    const el = $('#members-status');
    el.textContent = text;
    el.classList.toggle('error', error);
    show(el, !!text);
    clearTimeout(this.timer);
    if (text && !error) this.timer = setTimeout(() => this.status(''), 6000);
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
    const sorted = [...members].sort((a, b) => (RANK[a.role] ?? 3) - (RANK[b.role] ?? 3)
      || (a.display_name || a.username).localeCompare(b.display_name || b.username));
    list.replaceChildren(...sorted.map((m) => h('li', { class: 'member', 'data-testid': 'member-item', 'data-user': m.id },
      avatar(m.id, m.display_name || m.username, 'small'),
      h('span', { class: 'member-name' },
        h('span', null, m.display_name || m.username, m.id === S.me.id ? ' (you)' : ''),
        h('small', null, `@${m.username}`)),
      m.role !== 'member' ? h('span', { class: `role ${m.role}` }, m.role) : null,
      role === 'owner' && m.id !== S.me.id
        ? h('button', {
          type: 'button', class: 'link small', 'data-testid': 'member-role',
          title: m.role === 'admin' ? 'Make a plain member' : 'Make an admin (can add and remove members)',
          onclick: (e) => this.hd.setRole(m, m.role === 'admin' ? 'member' : 'admin', e.currentTarget),
        }, m.role === 'admin' ? 'Unadmin' : 'Make admin')
        : null,
      canRemove(role, m)
        ? h('button', {
          type: 'button', class: 'link small danger', 'data-testid': 'member-remove',
          'aria-label': `Remove ${m.display_name || m.username}`,
          onclick: (e) => this.hd.remove(m, e.currentTarget),
        }, 'Remove')
        : null)));
  }
}
