// webchat k6 scenario "direct": USERS users, each with RING friends on
// each side, all polling; senders send 1:1 messages between random friends
// at a constant arrival rate (RATE per second, open model).
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e USERS=1000 -e RATE=1000 -e DURATION=30 loadtest/k6/direct.js
import { sleep } from 'k6';
import exec from 'k6/execution';
import {
  USERS, RATE, DURATION, WARM, DRAIN, POLL_TIMEOUT,
  signUp, befriend, send, pollLoop, summary,
} from './lib.js';

const RING = parseInt(__ENV.RING || '1', 10);

export const options = {
  setupTimeout: '600s',
  scenarios: {
    pollers: {
      executor: 'per-vu-iterations', // one VU per user, one long iteration: the poll loop
      exec: 'poller',
      vus: USERS,
      iterations: 1,
      maxDuration: `${WARM + DURATION + DRAIN + POLL_TIMEOUT + 30}s`,
    },
    senders: {
      executor: 'constant-arrival-rate', // the rate does not sag when the server slows
      exec: 'sender',
      rate: RATE,
      timeUnit: '1s',
      startTime: `${WARM}s`,
      duration: `${DURATION}s`,
      preAllocatedVUs: Math.max(10, Math.ceil(RATE / 20)),
      maxVUs: Math.max(100, Math.ceil(RATE)),
    },
  },
  thresholds: {
    delivery_latency: ['p(99)<100'],
    checks: ['rate>0.99'],
    'http_req_failed{scenario:senders}': ['rate<0.01'],
    duplicates: ['count==0'],
  },
};

export function setup() {
  const users = signUp(USERS);
  for (let i = 0; i < users.length; i++) {
    for (let k = 1; k <= RING; k++) {
      befriend(users[i], users[(i + k) % users.length]);
    }
  }
  return { users };
}

export function poller(data) {
  const me = data.users[exec.scenario.iterationInTest];
  pollLoop(me, Date.now() + (WARM + DURATION + DRAIN) * 1000);
}

export function sender(data) {
  const n = data.users.length;
  const i = Math.floor(Math.random() * n);
  let k = 1 + Math.floor(Math.random() * RING);
  if (Math.random() < 0.5) k = -k;
  const friend = data.users[(i + k + n) % n];
  send(data.users[i], friend.id, 'single', exec.scenario.iterationInTest);
}

export function handleSummary(data) {
  return summary(data, 1);
}

export default function () {
  sleep(1);
}
