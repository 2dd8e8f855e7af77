// webchat k6 scenario "group": USERS users in groups of GROUP_SIZE, all
// polling; senders send to a random group from a random member at a
// constant arrival rate (RATE per second); every other member must get it.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e USERS=500 -e GROUP_SIZE=500 -e RATE=10 loadtest/k6/group.js
import { sleep } from 'k6';
import exec from 'k6/execution';
import {
  USERS, RATE, DURATION, WARM, DRAIN, POLL_TIMEOUT, GROUP_SIZE,
  signUp, createGroup, send, pollLoop, summary,
} from './lib.js';

export const options = {
  setupTimeout: '600s',
  scenarios: {
    pollers: {
      executor: 'per-vu-iterations',
      exec: 'poller',
      vus: USERS,
      iterations: 1,
      maxDuration: `${WARM + DURATION + DRAIN + POLL_TIMEOUT + 30}s`,
    },
    senders: {
      executor: 'constant-arrival-rate',
      exec: 'sender',
      rate: RATE,
      timeUnit: '1s',
      startTime: `${WARM}s`,
      duration: `${DURATION}s`,
      preAllocatedVUs: Math.max(5, Math.ceil(RATE / 5)),
      maxVUs: Math.max(50, Math.ceil(RATE * 2)),
    },
  },
  thresholds: {
    delivery_latency: ['p(99)<250'],
    checks: ['rate>0.99'],
    'http_req_failed{scenario:senders}': ['rate<0.01'],
    duplicates: ['count==0'],
  },
};

export function setup() {
  const users = signUp(USERS);
  const groups = [];
  for (let start = 0; start + GROUP_SIZE <= users.length; start += GROUP_SIZE) {
    const members = users.slice(start, start + GROUP_SIZE);
    groups.push({ id: createGroup(members), members: members.map((_, j) => start + j) });
  }
  return { users, groups };
}

export function poller(data) {
  const me = data.users[exec.scenario.iterationInTest];
  pollLoop(me, Date.now() + (WARM + DURATION + DRAIN) * 1000);
}

export function sender(data) {
  const g = data.groups[Math.floor(Math.random() * data.groups.length)];
  const from = data.users[g.members[Math.floor(Math.random() * g.members.length)]];
  send(from, g.id, 'group', exec.scenario.iterationInTest);
}

export function handleSummary(data) {
  return summary(data, GROUP_SIZE - 1);
}

export default function () {
  sleep(1);
}
