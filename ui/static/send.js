// Sending: a message shows as pending at once, goes out in the order typed,
// is kept in the outbox (saved.js) until the server has it, and is sent
// again with its own client_id after a failure or a reload.

import { post, newClientId } from './api.js';
import * as st from './state.js';
import { S } from './state.js';
import * as saved from './saved.js';
import { bus, changed, chatView } from './ui.js';
import { scheduleGapCheck } from './convs.js';

// Sends go out one at a time per conversation, in the order typed: two
// requests in flight together could be numbered the other way round, and a
// message held back by "too fast" holds back the ones after it.
const sendQueues = new Map(); // conv -> promise of the last queued send

function enqueue(p) {
  const prev = sendQueues.get(p.conv) || Promise.resolve();
  const next = prev.then(() => attemptSend(p));
  sendQueues.set(p.conv, next);
  next.then(() => {
    if (sendQueues.get(p.conv) === next) sendQueues.delete(p.conv);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// sendMessage shows the message as pending at once and sends it. It
// answers false when the open conversation takes no messages.
export function sendMessage(body) {
  const id = S.open;
  const t = id && st.target(id);
  if (!t) return false;
  const p = {
    client_id: newClientId(), conv: id, from: S.me.id, to: t.to, type: t.type, body,
    ts: Date.now(), state: 'sending', error: null, retryAt: 0,
  };
  st.conv(id).pending.set(p.client_id, p);
  saved.outboxPut(S.me.id, p);
  changed({ chat: true, bottom: true });
  enqueue(p);
  return true;
}

// retrySend sends a failed message again, with its same client_id.
export function retrySend(clientId) {
  const p = S.open && st.conv(S.open).pending.get(clientId);
  if (!p || p.state !== 'failed') return;
  p.state = 'sending';
  p.error = null;
  changed({ chat: true });
  enqueue(p);
}

// discardSend gives up a failed message (the server refused it).
export function discardSend(clientId) {
  const c = S.open && st.conv(S.open);
  const p = c && c.pending.get(clientId);
  if (!p || p.state !== 'failed') return;
  c.pending.delete(clientId);
  saved.outboxDrop(S.me.id, clientId);
  changed({ chat: true });
}

// restoreOutbox takes the messages a reload interrupted, or that failed
// before it, and sends them again with their own client_ids: one the
// server already has is answered with that copy, not sent twice.
export function restoreOutbox() {
  for (const e of saved.outbox(S.me.id)) {
    const c = st.conv(e.conv);
    if (c.pending.has(e.client_id)) continue;
    const p = { ...e, from: S.me.id, state: 'sending', error: null, retryAt: 0 };
    c.pending.set(p.client_id, p);
    enqueue(p);
  }
  changed({ chat: !!S.open });
}

// retryFailed sends again what failed because the server could not be
// reached (it answers again); what it refused waits for the person.
export function retryFailed() {
  if (!S.me) return;
  let any = false;
  for (const c of S.convs.values()) {
    for (const p of c.pending.values()) {
      if (p.state === 'failed' && p.transient) {
        p.state = 'sending';
        p.error = null;
        enqueue(p);
        any = true;
      }
    }
  }
  if (any) changed({ chat: !!S.open });
}

// attemptSend sends until the server answers: confirmed, or marked failed
// (with a retry button), or after "too fast" again once Retry-After passed.
async function attemptSend(p) {
  const c = st.conv(p.conv);
  for (;;) {
    if (!c.pending.has(p.client_id)) return;
    p.state = 'sending';
    p.error = null;
    changed({ chat: S.open === p.conv });
    try {
      // Always this message's own client_id: a retry after a lost answer
      // is answered with the first copy instead of sending twice.
      const data = await post('/api/messages', { to: p.to, type: p.type, body: p.body, client_id: p.client_id });
      const m = data.message;
      if (S.open === p.conv) chatView.confirmed(p.client_id, m.seq);
      c.pending.delete(p.client_id);
      saved.outboxDrop(p.from, p.client_id);
      st.addMessage(m, true);
      // This device does not get its own message by poll: tell the other tabs.
      bus.post({ type: 'sent', message: m });
      changed({ chat: S.open === m.conv });
      if (S.open === m.conv) scheduleGapCheck(m.conv);
      return;
    } catch (e) {
      if (e.status === 401) return;
      if (e.status !== 429) {
        p.state = 'failed';
        p.error = e.message;
        // Not reached (or not answering): sent again once the poll is back.
        p.transient = !e.status || e.status >= 500;
        changed({ chat: S.open === p.conv });
        return;
      }
      const wait = Math.max(1, e.retryAfter ?? 1) * 1000;
      p.state = 'throttled';
      p.retryAt = Date.now() + wait;
      changed({ chat: S.open === p.conv });
      await sleep(wait);
    }
  }
}
