// Group invitations made to this person: accepting (which opens the
// group), declining, what the page says of each, and where the keyboard
// focus goes once an invitation is answered; and the news that one this
// person made was declined.

import { $, show } from './dom.js';
import { post } from './api.js';
import * as st from './state.js';
import { S } from './state.js';
import {
  bus, sidebar, membersView, changed, flush, openGroup, news,
} from './ui.js';
import { openConv } from './convs.js';

// othersRefresh asks this browser's other tabs to reload /api/me.
function othersRefresh() {
  bus.post({ type: 'refresh' });
}

let inviteStatusTimer = null;

// inviteStatus says how answering a group invitation went, under the
// invitations; good news fades.
function inviteStatus(text, error = false) {
  const el = $('#invites-status');
  el.textContent = text;
  el.classList.toggle('error', error);
  show(el, !!text);
  clearTimeout(inviteStatusTimer);
  if (text && !error) inviteStatusTimer = setTimeout(() => inviteStatus(''), 6000);
}

// focusAfterInvite puts keyboard focus, once an invitation is gone from the
// list, on the next thing to answer, or else on the Friends tab.
function focusAfterInvite() {
  const next = document.querySelector('#invite-list [data-testid="invite-accept"]:not(:disabled)')
    || document.querySelector('#incoming [data-testid="request-accept"]')
    || $('#tab-friends');
  next.focus();
}

const inviteButton = (iv, testid) => document.querySelector(`#invite-list [data-invite="${iv.id}"] [data-testid="${testid}"]`);

// answerInvite sends the answer to an invitation, with both its buttons
// off meanwhile. It answers the server's answer, or null when it failed
// (and said why); after a failure, focus goes back to the button pressed.
async function answerInvite(iv, how) {
  if (S.answering.has(iv.id)) return null;
  const testid = `invite-${how}`;
  const hadFocus = document.activeElement === inviteButton(iv, testid);
  S.answering.add(iv.id);
  changed();
  let data = null;
  try {
    data = (await post(`/api/group-invites/${iv.id}/${how}`)) || {};
  } catch (e) {
    const name = iv.group.name;
    if (e.status === 404) {
      // Answered on another device, or the group is gone.
      S.invites.delete(iv.id);
      inviteStatus(`The invitation to ${name} is no longer open.`, true);
      othersRefresh();
    } else if (e.code === 'group_full') {
      const size = iv.group.max_members ? ` (${iv.group.max_members} of ${iv.group.max_members} members)` : '';
      inviteStatus(`${name} is full${size}, so you cannot join it now. The invitation stays: accept it once someone leaves.`, true);
    } else {
      inviteStatus(`Could not ${how} the invitation to ${name}: ${e.message}`, true);
    }
  }
  S.answering.delete(iv.id);
  changed();
  if (!data && hadFocus) {
    flush();
    const again = inviteButton(iv, testid);
    if (again) again.focus();
    else focusAfterInvite();
  }
  return data;
}

// acceptInvite joins the group and opens it (in the Groups tab, where it
// now is).
export async function acceptInvite(iv) {
  const data = await answerInvite(iv, 'accept');
  if (!data) return;
  S.invites.delete(iv.id);
  const g = data.group || iv.group;
  st.upsertGroup(g);
  inviteStatus('');
  othersRefresh();
  sidebar.setTab('groups');
  changed();
  openConv(g.conv || `g${g.id}`);
}

export async function declineInvite(iv) {
  const data = await answerInvite(iv, 'decline');
  if (!data) return;
  S.invites.delete(iv.id);
  inviteStatus(`You declined the invitation to ${iv.group.name}.`);
  othersRefresh();
  changed();
  flush();
  focusAfterInvite();
}

// inviteDeclined tells the one who invited that the invitee said no: in
// the group's members panel when it is on screen, else in the banner.
export function inviteDeclined(iv) {
  const who = iv.to.display_name || iv.to.username;
  const text = `${who} (@${iv.to.username}) declined your invitation to ${iv.group.name}.`;
  if (openGroup() === iv.group.id && $('#members-panel').getClientRects().length) {
    membersView.status(text, false, true);
    return;
  }
  news(text);
}
