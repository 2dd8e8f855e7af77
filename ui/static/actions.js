// What the person does besides chatting: friend requests, groups, their
// members and invitations, the tabs and the chat header's buttons. Each change also asks
// this browser's other tabs to reload /api/me.

import { $, show } from './dom.js';
import { post, del, patch } from './api.js';
import * as st from './state.js';
import { S } from './state.js';
import {
  bus, sidebar, chatView, membersView, changed, renderMembers, openGroup, banner, news, toggleMembers,
} from './ui.js';
import {
  openConv, closeChat, closeFromUser, bumpCount,
} from './convs.js';
import { ask } from './confirm.js';
import { myRole, memberName } from './members.js';

function othersRefresh() {
  bus.post({ type: 'refresh' });
}

let friendStatusTimer = null;

// friendStatus says how adding a friend went; good news fades after a
// while, unless it is news the person may come back to (keep).
export function friendStatus(text, error = false, keep = false) {
  const el = $('#add-friend-status');
  el.textContent = text;
  el.classList.toggle('error', error);
  el.classList.toggle('info', keep && !error);
  show(el, !!text);
  clearTimeout(friendStatusTimer);
  if (text && !error && !keep) friendStatusTimer = setTimeout(() => friendStatus(''), 6000);
}

export async function acceptRequest(r, btn) {
  btn.disabled = true;
  try {
    const data = await post(`/api/friend-requests/${r.id}/accept`);
    S.incoming.delete(r.id);
    if (data && data.friend) st.addFriend(data.friend);
    othersRefresh();
    changed();
  } catch (e) {
    btn.disabled = false;
    friendStatus(e.message, true);
  }
}

export async function declineRequest(r, btn) {
  btn.disabled = true;
  try {
    await post(`/api/friend-requests/${r.id}/decline`);
    S.incoming.delete(r.id);
    othersRefresh();
    changed();
  } catch (e) {
    btn.disabled = false;
    friendStatus(e.message, true);
  }
}

const groupName = (gid) => S.groups.get(gid)?.name || 'the group';

// memberButton finds a member's button again after a redraw (for focus).
const memberButton = (uid, testid) => () => document.querySelector(`#member-list [data-user="${uid}"] [data-testid="${testid}"]`)
  || $('#group-member-input');

export async function removeMember(m, btn) {
  const gid = openGroup();
  if (!gid) return;
  const name = memberName(m);
  const a = await ask({
    text: `Remove ${name} from ${groupName(gid)}? They will no longer see its messages.`,
    ok: 'Remove', back: memberButton(m.id, 'member-remove'),
  });
  if (!a.ok || openGroup() !== gid) return;
  btn.disabled = true;
  try {
    await del(`/api/groups/${gid}/members/${m.id}`);
    const c = st.conv(S.open);
    if (c.members) c.members = c.members.filter((x) => x.id !== m.id);
    bumpCount(gid, -1);
    membersView.status(`Removed ${name}.`);
    othersRefresh();
    ($('#member-list').querySelector('button') || $('#group-leave')).focus();
  } catch (e) {
    btn.disabled = false;
    membersView.status(e.message, true);
  }
}

export async function setRole(m, role, btn) {
  const gid = openGroup();
  if (!gid) return;
  btn.disabled = true;
  try {
    await changeRole(gid, m, role);
  } catch (e) {
    btn.disabled = false;
    membersView.status(e.message, true);
  }
}

// changeRole sets m's role; "owner" hands the group over (the old owner
// becomes an admin).
async function changeRole(gid, m, role) {
  const data = await patch(`/api/groups/${gid}/members/${m.id}`, { role });
  const c = st.conv(`g${gid}`);
  const nm = (data && data.member) || { ...m, role };
  if (c.members) {
    c.members = c.members.map((x) => {
      if (x.id === m.id) return { ...x, ...nm };
      if (role === 'owner' && x.id === S.me.id) return { ...x, role: 'admin' };
      return x;
    });
  }
  if (role === 'owner') {
    const g = S.groups.get(gid);
    if (g) g.owner_id = m.id;
  }
  renderMembers();
  othersRefresh();
}

export async function makeOwner(m, btn) {
  const gid = openGroup();
  if (!gid) return;
  const name = memberName(m);
  const a = await ask({
    text: `Make ${name} the owner of ${groupName(gid)}? You become an admin, and only ${name} can give it back.`,
    ok: 'Make owner', back: memberButton(m.id, 'member-owner'),
  });
  if (!a.ok || openGroup() !== gid) return;
  btn.disabled = true;
  try {
    await changeRole(gid, m, 'owner');
    membersView.status(`${name} is now the owner.`);
  } catch (e) {
    btn.disabled = false;
    membersView.status(e.message, true);
  }
}

// leaveGroup asks first. An owner with others in the group names the next
// owner in the same question (the server refuses an owner's leaving while
// others remain); a lone member is told that leaving deletes the group.
async function leaveGroup(btn) {
  const gid = openGroup();
  if (!gid) return;
  const g = S.groups.get(gid);
  const name = groupName(gid);
  const members = st.conv(`g${gid}`).members || [];
  const others = members.filter((m) => m.id !== S.me.id)
    .sort((a, b) => (a.role === 'admin' ? 0 : 1) - (b.role === 'admin' ? 0 : 1) || memberName(a).localeCompare(memberName(b)));
  const alone = members.length ? others.length === 0 : (g && g.member_count === 1);
  const owner = myRole(members) === 'owner';
  let q;
  if (alone) {
    q = { text: `You are the only member of ${name}. Leaving deletes the group and all its messages, for good.`, ok: 'Delete group and leave' };
  } else if (owner) {
    q = {
      text: `You own ${name}. Choose who owns it after you; then you leave.`,
      ok: 'Hand over and leave',
      options: others.map((m) => ({ value: m.id, label: `${memberName(m)} (@${m.username})${m.role === 'admin' ? ', admin' : ''}` })),
      pickLabel: 'New owner',
    };
  } else {
    q = { text: `Leave ${name}? You will no longer see its messages.`, ok: 'Leave' };
  }
  const a = await ask(q);
  if (!a.ok || openGroup() !== gid) return;
  btn.disabled = true;
  try {
    if (owner && !alone) {
      const next = others.find((m) => String(m.id) === a.pick);
      if (!next) return;
      await changeRole(gid, next, 'owner');
    }
    await del(`/api/groups/${gid}/members/${S.me.id}`);
    st.removeGroup(gid);
    closeChat();
    banner(alone ? `You left ${name}; the group is deleted.` : `You left ${name}.`);
    othersRefresh();
    $('#tab-groups').focus();
  } catch (err) {
    membersView.status(err.message, true);
  } finally {
    btn.disabled = false;
  }
}

const invitesSent = new Set(); // ids of the invitations sent from this tab

// wireActions connects the static forms and buttons of the page.
export function wireActions() {
  $('#tab-friends').addEventListener('click', () => sidebar.setTab('friends'));
  $('#tab-groups').addEventListener('click', () => sidebar.setTab('groups'));
  for (const tab of [$('#tab-friends'), $('#tab-groups')]) {
    tab.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      const next = S.tab === 'friends' ? 'groups' : 'friends';
      sidebar.setTab(next);
      $(`#tab-${next}`).focus();
    });
  }

  $('#add-friend-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = e.currentTarget.username;
    const username = input.value.trim();
    if (!username) {
      friendStatus('Type the username of the person to add.', true);
      return;
    }
    const btn = e.currentTarget.querySelector('button');
    btn.disabled = true;
    try {
      const data = await post('/api/friend-requests', { username });
      if (data && data.friend) {
        st.addFriend(data.friend);
        friendStatus(`You and ${data.friend.display_name} are now friends.`);
      } else if (data && data.request) {
        st.addRequest(data.request);
        friendStatus(`Request sent to ${data.request.to.display_name}.`);
      }
      input.value = '';
      othersRefresh();
      changed();
    } catch (err) {
      friendStatus(err.message, true);
    } finally {
      btn.disabled = false;
    }
  });

  const groupForm = (open) => {
    show($('#create-group-form'), open);
    $('#create-group').setAttribute('aria-expanded', String(open));
    if (open) $('group-name').focus();
  };
  $('#create-group').addEventListener('click', () => groupForm($('#create-group-form').hidden));
  $('#create-group-cancel').addEventListener('click', () => groupForm(false));
  $('#create-group-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.currentTarget;
    const status = $('#create-group-status');
    const body = { name: f.name.value.trim(), brief: f.brief.value.trim() };
    const max = f.max_members.value.trim();
    if (max !== '') {
      const n = Number(max);
      if (!Number.isInteger(n)) {
        status.textContent = 'Max members must be a whole number from 2 to 2,000.';
        show(status, true);
        return;
      }
      body.max_members = n;
    }
    const btn = f.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const data = await post('/api/groups', body);
      st.upsertGroup(data.group);
      f.reset();
      show(status, false);
      groupForm(false);
      othersRefresh();
      changed();
      openConv(data.group.conv || `g${data.group.id}`);
    } catch (err) {
      status.textContent = err.message;
      show(status, true);
    } finally {
      btn.disabled = false;
    }
  });

  // The Groups tab points to the invitations, which wait with the friend
  // requests.
  $('#invites-hint').addEventListener('click', () => {
    sidebar.setTab('friends');
    const first = document.querySelector('#invite-list [data-testid="invite-accept"]');
    if (first) {
      first.scrollIntoView({ block: 'nearest' });
      first.focus();
    }
  });

  $('#back-btn').addEventListener('click', () => closeFromUser());
  $('#members-toggle').addEventListener('click', () => toggleMembers());

  let unfriendArmed = null;
  $('#unfriend-btn').addEventListener('click', async (e) => {
    const btn = e.currentTarget;
    const p = S.open && st.parseConv(S.open);
    if (!p || p.type !== 'single') return;
    if (!unfriendArmed) {
      // Two clicks: removing a friend is not undone by a click.
      btn.textContent = 'Click again to remove';
      unfriendArmed = setTimeout(() => {
        unfriendArmed = null;
        btn.textContent = 'Remove friend';
      }, 4000);
      return;
    }
    clearTimeout(unfriendArmed);
    unfriendArmed = null;
    btn.textContent = 'Remove friend';
    try {
      await del(`/api/friends/${p.peer}`);
      st.removeFriend(p.peer);
      othersRefresh();
      changed();
    } catch (err) {
      chatView.notice(err.message);
    }
  });

  $('#add-member-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const gid = openGroup();
    const input = e.currentTarget.username;
    const username = input.value.trim();
    if (!gid) return;
    if (!username) {
      membersView.status('Type the username of the person to add.', true);
      return;
    }
    const btn = e.currentTarget.querySelector('button');
    btn.disabled = true;
    try {
      const data = await post(`/api/groups/${gid}/members`, { username });
      if (data && data.invite && !data.member) {
        // Not a friend of mine: invited, a member once they accept. Asking
        // again answers the same invitation.
        const to = data.invite.to;
        const who = `${to.display_name || to.username} (@${to.username})`;
        const again = invitesSent.has(data.invite.id);
        invitesSent.add(data.invite.id);
        input.value = '';
        membersView.status(again
          ? `${who} is invited already; they join once they accept.`
          : `Invitation sent to ${who}. They join once they accept.`, false, true);
        return;
      }
      const m = data.member;
      st.rememberUser(m);
      const c = st.conv(S.open);
      if (c.members && !c.members.some((x) => x.id === m.id)) c.members.push(m);
      input.value = '';
      membersView.status(`Added ${m.display_name || m.username}.`);
      bumpCount(gid, 1);
      othersRefresh();
    } catch (err) {
      membersView.status(err.message, true);
    } finally {
      btn.disabled = false;
    }
  });

  $('#group-leave').addEventListener('click', (e) => leaveGroup(e.currentTarget));
}
