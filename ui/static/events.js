// Events from the poll (in this tab or passed on by the polling tab), and
// reloading /api/me when the picture must be rebuilt (resync).

import { get } from './api.js';
import * as st from './state.js';
import { S } from './state.js';
import { notify } from './notify.js';
import { self, sidebar, changed, banner, openGroup } from './ui.js';
import { friendStatus } from './actions.js';
import { inviteDeclined } from './invites.js';
import { applyPresence, applyTyping, applyReceipt } from './presence.js';
import {
  onMessage, loadMembers, closeChat, knownConv, readOpen, loadLatest, resolveSummaries,
} from './convs.js';

const seen = new Set();
const seenOrder = [];

export function forgetSeen() {
  seen.clear();
  seenOrder.length = 0;
}

// applyEvents applies a poll answer's events in order. live: they came
// from this tab's own poll (not from another tab).
export function applyEvents(events, live) {
  for (const ev of events) {
    if (!ev || typeof ev !== 'object') continue;
    if (ev.id != null) {
      // Delivery is at least once: drop repeats by event id.
      if (seen.has(ev.id)) continue;
      seen.add(ev.id);
      seenOrder.push(ev.id);
      if (seenOrder.length > 5000) seen.delete(seenOrder.shift());
    }
    try {
      applyEvent(ev, live);
    } catch (e) {
      console.error('webchat: event', ev, e);
    }
  }
}

function applyEvent(ev, live) {
  switch (ev.type) {
    case 'message':
      onMessage(ev.message, live);
      break;
    case 'friend_request': {
      const r = ev.request;
      st.addRequest(r);
      changed();
      if (live && self.leader && document.hidden && r.to.id === S.me.id) {
        notify('Friend request', `${r.from.display_name} (@${r.from.username}) wants to be your friend`,
          `webchat-req-${r.id}`, () => sidebar.setTab('friends'));
      }
      break;
    }
    case 'friend_request_declined': {
      // To the asker: they said no. To the one asked, on their other
      // devices: answered, nothing left to accept.
      const r = ev.request;
      if (!r) break;
      S.incoming.delete(r.id);
      const mine = S.outgoing.delete(r.id) || (r.from && r.from.id === S.me.id);
      if (mine && r.to) friendStatus(`${r.to.display_name || r.to.username} declined your friend request.`, false, true);
      changed();
      break;
    }
    case 'friend_added':
      st.addFriend(ev.friend);
      changed({ chat: true });
      refreshSoon(); // the new friend's online dot and last message
      break;
    case 'friend_removed':
      st.removeFriend(ev.friend.id);
      changed();
      break;
    case 'group_invite': {
      const iv = ev.invite;
      if (!iv || !iv.group) break;
      st.addInvite(iv);
      changed();
      if (live && self.leader && document.hidden && S.invites.has(iv.id)) {
        notify('Group invitation', `${iv.from.display_name} (@${iv.from.username}) invited you to ${iv.group.name}`,
          `webchat-invite-${iv.id}`, () => sidebar.setTab('friends'));
      }
      break;
    }
    case 'group_invite_declined': {
      // To the one who invited: they said no. To the invitee, on their
      // other devices: answered, nothing left to accept.
      const iv = ev.invite;
      if (!iv || !iv.group) break;
      S.invites.delete(iv.id);
      if (iv.from && iv.from.id === S.me.id && iv.to) inviteDeclined(iv);
      changed();
      break;
    }
    case 'group_invite_cancelled':
      // Withdrawn by whoever made it, or gone with its group.
      if (ev.invite) S.invites.delete(ev.invite.id);
      changed();
      break;
    case 'group_joined':
    case 'group_updated':
      // A group joined (here, or by accepting on another device) takes its
      // invitations with it (upsertGroup).
      st.upsertGroup(ev.group);
      if (openGroup() === ev.group.id) loadMembers(ev.group.id);
      changed();
      break;
    case 'group_left':
      st.removeGroup(ev.group.id);
      if (openGroup() === ev.group.id) {
        closeChat();
        banner(`You are no longer a member of ${ev.group.name}.`);
      }
      changed();
      break;
    case 'read':
      st.applyRead(ev.conv, ev.seq);
      changed();
      break;
    case 'presence':
      if (applyPresence(ev)) changed({ chat: !!S.open });
      break;
    case 'typing':
      applyTyping(ev);
      break;
    case 'receipt':
      if (applyReceipt(ev)) changed({ chat: S.open === ev.conv });
      break;
    default:
      // Newer servers may send more: ignore the unknown.
      break;
  }
}

let refreshing = null;

// refreshPast reloads the conversations with past friends.
export async function refreshPast() {
  try {
    const data = await get('/api/conversations/past');
    if (!S.me) return;
    st.loadPast(data);
    changed({ chat: !!S.open });
  } catch {
    // Shown again on the next refresh.
  }
}

// refreshMe reloads /api/me: friends, groups, requests, unread counts and
// online dots. Concurrent calls share one request.
export function refreshMe() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const data = await get('/api/me');
      if (S.me && data.user.id !== S.me.id) {
        // Someone else logged in, in another tab: start over as them.
        location.reload();
        return;
      }
      st.loadMe(data);
      resolveSummaries();
      refreshPast();
      if (S.open && st.parseConv(S.open).type === 'group' && !knownConv(S.open)) closeChat();
      changed({ chat: !!S.open });
      readOpen();
    } catch {
      // The next refresh or poll tells more.
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

let refreshTimer = null;

export function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshMe, 300);
}

// resync rebuilds after the server dropped this device's queue.
export async function resync() {
  await refreshMe();
  if (S.open) await loadLatest(S.open);
}
