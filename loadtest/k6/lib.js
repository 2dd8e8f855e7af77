// Shared helpers of the webchat k6 scenarios (direct.js, group.js).
// k6 runs these files; `node --check` only checks their syntax.
import http from 'k6/http';
import { check, fail } from 'k6';
import { Counter, Trend } from 'k6/metrics';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const USERS = parseInt(__ENV.USERS || '200', 10);
export const RATE = parseFloat(__ENV.RATE || '200');
export const DURATION = parseInt(__ENV.DURATION || '30', 10); // seconds of sending
export const WARM = parseInt(__ENV.WARM || '5', 10); // seconds of polling before the first send
export const DRAIN = parseInt(__ENV.DRAIN || '10', 10); // seconds of polling after the last send
export const POLL_TIMEOUT = parseInt(__ENV.POLL_TIMEOUT || '25', 10);
export const GROUP_SIZE = parseInt(__ENV.GROUP_SIZE || '50', 10);
const RUN = (__ENV.RUN_ID || Math.random().toString(36).slice(2, 8)).toLowerCase();

// Send time → receive time of every message, on every recipient device.
export const deliveryLatency = new Trend('delivery_latency', true);
export const messagesSent = new Counter('messages_sent'); // answered 201/200
export const messagesReceived = new Counter('messages_received'); // first receipt per device
export const duplicates = new Counter('duplicates'); // a (conv, seq) again after acknowledging it
export const resyncs = new Counter('resyncs');

const JSON_HEADERS = { 'Content-Type': 'application/json' };

function cookieOf(res) {
  const parts = [];
  for (const name in res.cookies) {
    parts.push(`${name}=${res.cookies[name][0].value}`);
  }
  return parts.join('; ');
}

function post(path, cookie, body, tag) {
  return http.post(`${BASE_URL}${path}`, body === undefined ? null : JSON.stringify(body), {
    headers: Object.assign({ Cookie: cookie || '' }, JSON_HEADERS),
    tags: { name: tag },
  });
}

// signUp creates n users in batches; each gets its own session cookie.
// The server must run with BCRYPT_COST=4 RATE_AUTH=0 RATE_AUTH_USER=0 RATE_ADD=0 RATE_FANOUT=0 RATE_SEND=0.
export function signUp(n) {
  const users = [];
  for (let start = 0; start < n; start += 50) {
    const reqs = [];
    for (let i = start; i < Math.min(n, start + 50); i++) {
      reqs.push(['POST', `${BASE_URL}/api/signup`, JSON.stringify({
        username: `k6${RUN}_${i}`, password: `k6-password-${RUN}`, display_name: `k6 ${i}`,
      }), { headers: JSON_HEADERS, tags: { name: 'signup' } }]);
    }
    const resps = http.batch(reqs);
    resps.forEach((res, j) => {
      if (!check(res, { 'signup 201': (r) => r.status === 201 })) {
        fail(`sign up: ${res.status} ${res.body}`);
      }
      users.push({ id: res.json('user.id'), name: `k6${RUN}_${start + j}`, cookie: cookieOf(res) });
    });
  }
  return users;
}

// befriend makes a and b friends: a asks, b accepts.
export function befriend(a, b) {
  const req = post('/api/friend-requests', a.cookie, { username: b.name }, 'friend_request');
  check(req, { 'friend request 201': (r) => r.status === 201 }) || fail(`friend request: ${req.status} ${req.body}`);
  const acc = post(`/api/friend-requests/${req.json('request.id')}/accept`, b.cookie, undefined, 'accept');
  check(acc, { 'accept 200': (r) => r.status === 200 }) || fail(`accept: ${acc.status} ${acc.body}`);
}

// createGroup makes a group owned by users[0] with every other user in it.
export function createGroup(members) {
  const owner = members[0];
  const g = post('/api/groups', owner.cookie, { name: `k6 ${RUN}`, brief: '', max_members: Math.max(members.length, 2) }, 'create_group');
  check(g, { 'create group 201': (r) => r.status === 201 }) || fail(`create group: ${g.status} ${g.body}`);
  const gid = g.json('group.id');
  for (const m of members.slice(1)) {
    const r = post(`/api/groups/${gid}/members`, owner.cookie, { username: m.name }, 'add_member');
    check(r, { 'add member 201/202': (x) => x.status === 201 || x.status === 202 }) || fail(`add member: ${r.status} ${r.body}`);
    if (r.status === 202) {
      // Not the owner's friend: invited, and the member accepts.
      const a = post(`/api/group-invites/${r.json('invite.id')}/accept`, m.cookie, undefined, 'accept_invite');
      check(a, { 'accept invite 200': (x) => x.status === 200 }) || fail(`accept invite: ${a.status} ${a.body}`);
    }
  }
  return gid;
}

// send posts one message whose body carries its send time (ms).
export function send(from, to, type, seq) {
  const sentAt = Date.now();
  const res = post('/api/messages', from.cookie, {
    to, type, body: `k6:${RUN}-${seq}:${sentAt}:` + 'x'.repeat(32), client_id: `k6-${RUN}-${seq}`,
  }, 'send');
  const ok = check(res, { 'send 201': (r) => r.status === 201 || r.status === 200 });
  if (ok) {
    messagesSent.add(1);
  }
  return ok;
}

// pollLoop is one device's real poll loop until endAt (ms): poll with the
// cursor, take what came, poll again at once.
export function pollLoop(user, endAt) {
  let cursor = '';
  const seen = new Set();
  // Empty what sign-up and friendship left waiting first.
  for (;;) {
    const r = pollOnce(user, cursor, 0);
    if (r === null) break;
    cursor = r.cursor;
    if (r.events.length === 0) break;
  }
  while (Date.now() < endAt) {
    const r = pollOnce(user, cursor, POLL_TIMEOUT);
    if (r === null) continue;
    cursor = r.cursor;
    const now = Date.now();
    if (r.resync) resyncs.add(1);
    for (const ev of r.events) {
      if (ev.type !== 'message') continue;
      const m = ev.message;
      const key = `${m.conv}/${m.seq}`;
      if (seen.has(key)) {
        duplicates.add(1);
        continue;
      }
      seen.add(key);
      const parts = m.body.split(':');
      if (parts[0] !== 'k6') continue;
      messagesReceived.add(1);
      deliveryLatency.add(now - parseInt(parts[2], 10));
    }
  }
}

function pollOnce(user, cursor, timeout) {
  let url = `${BASE_URL}/api/poll?timeout=${timeout}`;
  if (cursor) url += `&cursor=${encodeURIComponent(cursor)}`;
  const res = http.get(url, { headers: { Cookie: user.cookie }, timeout: `${timeout + 15}s`, tags: { name: 'poll' } });
  if (!check(res, { 'poll 200': (r) => r.status === 200 })) {
    return null;
  }
  return res.json();
}

// summary prints the figures a load test is judged by; lost is what was
// answered and never received (expected per message: recipients).
export function summary(data, recipients) {
  const v = (name, field) => (data.metrics[name] ? data.metrics[name].values[field] : 0);
  const sent = v('messages_sent', 'count');
  const received = v('messages_received', 'count');
  const lat = data.metrics.delivery_latency ? data.metrics.delivery_latency.values : {};
  const lines = [
    `webchat k6: ${sent} messages sent, ${received} deliveries received of ${sent * recipients} owed`,
    `lost ${Math.max(sent * recipients - received, 0)}, duplicated ${v('duplicates', 'count')}, resyncs ${v('resyncs', 'count')}`,
    `delivery latency ms: p50 ${fmt(lat.med)} p90 ${fmt(lat['p(90)'])} p99 ${fmt(lat['p(99)'])} max ${fmt(lat.max)}`,
    `checks passed: ${fmt(100 * v('checks', 'rate'))}%`,
  ];
  for (const [name, m] of Object.entries(data.metrics)) {
    if (m.thresholds) {
      for (const [t, r] of Object.entries(m.thresholds)) {
        lines.push(`threshold ${name} ${t}: ${r.ok ? 'ok' : 'FAILED'}`);
      }
    }
  }
  return { stdout: lines.join('\n') + '\n', 'k6-summary.json': JSON.stringify(data, null, 2) };
}

function fmt(x) {
  return x === undefined ? '-' : x.toFixed(1);
}
