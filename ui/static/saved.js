// What this browser keeps for a person across reloads, in localStorage:
// unsent messages (the outbox, each with its client_id, so that a send
// repeated after a reload is answered with the first copy instead of going
// twice) and drafts. One key per message and per draft, so tabs writing
// at the same time never overwrite each other's. Keys carry the user id;
// logging out removes them.

const outKey = (uid) => `webchat:out:${uid}:`;
const draftKey = (uid) => `webchat:draft:${uid}:`;

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // blocked: nothing outlives the page
  }
}

function keys(prefix) {
  const ls = storage();
  const out = [];
  if (!ls) return out;
  for (let i = 0; i < ls.length; i++) {
    const k = ls.key(i);
    if (k && k.startsWith(prefix)) out.push(k);
  }
  return out;
}

function put(k, v) {
  try {
    if (v == null) storage()?.removeItem(k);
    else storage()?.setItem(k, v);
  } catch { /* full or blocked */ }
}

// outboxPut keeps an unsent message.
export function outboxPut(uid, p) {
  const { client_id, conv, to, type, body, ts } = p;
  put(outKey(uid) + client_id, JSON.stringify({ client_id, conv, to, type, body, ts }));
}

// outboxDrop forgets a message: sent, or discarded.
export function outboxDrop(uid, clientId) {
  put(outKey(uid) + clientId, null);
}

// outbox lists the unsent messages, oldest first.
export function outbox(uid) {
  const out = [];
  for (const k of keys(outKey(uid))) {
    try {
      const p = JSON.parse(storage().getItem(k));
      if (p && typeof p.client_id === 'string' && typeof p.conv === 'string' && typeof p.body === 'string') out.push(p);
    } catch { /* not ours */ }
  }
  return out.sort((a, b) => a.ts - b.ts);
}

// draft is the saved draft of a conversation, or undefined when nothing
// can be saved here.
export function draft(uid, conv) {
  const ls = storage();
  if (!ls) return undefined;
  try {
    return ls.getItem(draftKey(uid) + conv) || '';
  } catch {
    return undefined;
  }
}

export function setDraft(uid, conv, text) {
  put(draftKey(uid) + conv, text ? text : null);
}

// forgetUser removes everything kept for uid (on log-out).
export function forgetUser(uid) {
  for (const k of [...keys(outKey(uid)), ...keys(draftKey(uid))]) put(k, null);
}
