// Several tabs of one browser share one session, hence one device, and a
// device may have only one poll at a time (a second one supersedes the
// first). So exactly one tab polls — the leader — and passes what it gets
// to the others over a BroadcastChannel.
//
// The leader is chosen with Web Locks where the page is a secure context
// (HTTPS, localhost); the lock is released when the tab closes or crashes.
// Over plain HTTP navigator.locks does not exist, and a lease in
// localStorage stands in: the leader renews it every couple of seconds and
// another tab takes it once it lapses (or at once when the leader closes).

export const tabId = Math.random().toString(36).slice(2) + Date.now().toString(36);

const LOCK = 'webchat-poll';
const LEASE = 'webchat:poll-lease';
const LEASE_TTL = 6000;
const LEASE_BEAT = 2000;

// useLocks says whether to use Web Locks. localStorage "webchat:locks" =
// "off" forces the lease, so the fallback can be tried on localhost too.
function useLocks() {
  let off = false;
  try {
    off = localStorage.getItem('webchat:locks') === 'off';
  } catch { /* storage blocked */ }
  return !off && window.isSecureContext && !!(navigator.locks && navigator.locks.request);
}

// Leadership calls onAcquire when this tab becomes the poller and
// onRelease when it stops being it. start() competes; stop() gives up.
export function leadership(onAcquire, onRelease) {
  return useLocks() ? new LockLeader(onAcquire, onRelease) : new LeaseLeader(onAcquire, onRelease);
}

class LockLeader {
  constructor(onAcquire, onRelease) {
    this.kind = 'web-locks';
    this.onAcquire = onAcquire;
    this.onRelease = onRelease;
    this.active = false;
    this.leader = false;
    this.release = null;
  }

  start() {
    if (this.active) return;
    this.active = true;
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    navigator.locks.request(LOCK, { signal: ctrl.signal }, () => new Promise((resolve) => {
      if (!this.active || this.ctrl !== ctrl) {
        resolve();
        return;
      }
      this.release = resolve;
      this.leader = true;
      this.onAcquire();
    })).catch(() => { /* aborted while waiting */ });
  }

  // follow gives up leading but stays in line for the lock.
  follow() {
    this.stop();
    this.start();
  }

  stop() {
    this.active = false;
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    if (this.release) {
      const r = this.release;
      this.release = null;
      this.leader = false;
      this.onRelease();
      r();
    }
  }
}

function readLease() {
  try {
    const l = JSON.parse(localStorage.getItem(LEASE) || 'null');
    return l && typeof l.tab === 'string' && typeof l.until === 'number' ? l : null;
  } catch {
    return null;
  }
}

function writeLease() {
  try {
    localStorage.setItem(LEASE, JSON.stringify({ tab: tabId, until: Date.now() + LEASE_TTL }));
  } catch { /* storage full or blocked: we simply never lead */ }
}

class LeaseLeader {
  constructor(onAcquire, onRelease) {
    this.kind = 'lease';
    this.onAcquire = onAcquire;
    this.onRelease = onRelease;
    this.active = false;
    this.leader = false;
    this.onStorage = (e) => {
      if (!this.active || e.key !== LEASE) return;
      if (!e.newValue) {
        // The leader left: try at once, spread out a little so the
        // remaining tabs do not all write together.
        setTimeout(() => this.tick(), Math.random() * 200);
      } else if (this.leader && readLease()?.tab !== tabId) {
        this.lose();
      }
    };
    this.onHide = () => {
      // Closing, or going into the back-forward cache: hand over now.
      if (this.leader) {
        this.lose();
        try {
          localStorage.removeItem(LEASE);
        } catch { /* ignore */ }
      }
    };
    this.onShow = (e) => {
      if (e.persisted && this.active) this.tick();
    };
  }

  start() {
    if (this.active) return;
    this.active = true;
    addEventListener('storage', this.onStorage);
    addEventListener('pagehide', this.onHide);
    addEventListener('pageshow', this.onShow);
    this.timer = setInterval(() => this.tick(), LEASE_BEAT);
    this.tick();
  }

  tick() {
    if (!this.active) return;
    const l = readLease();
    const now = Date.now();
    if (this.leader) {
      if (l && l.tab !== tabId && l.until > now) this.lose();
      else writeLease();
      return;
    }
    if (!l || l.until < now || l.tab === tabId) {
      writeLease();
      // Two tabs can both see a lapsed lease and both write; the later
      // write wins. Read it back a moment later before leading.
      clearTimeout(this.confirm);
      this.confirm = setTimeout(() => {
        if (this.active && !this.leader && readLease()?.tab === tabId) {
          this.leader = true;
          this.onAcquire();
        }
      }, 150 + Math.random() * 150);
    }
  }

  // follow gives up leading but keeps competing: the tab leads again once
  // the lease lapses or its holder leaves.
  follow() {
    this.lose();
  }

  lose() {
    if (!this.leader) return;
    this.leader = false;
    this.onRelease();
  }

  stop() {
    if (!this.active) return;
    this.active = false;
    clearInterval(this.timer);
    clearTimeout(this.confirm);
    removeEventListener('storage', this.onStorage);
    removeEventListener('pagehide', this.onHide);
    removeEventListener('pageshow', this.onShow);
    if (this.leader) {
      this.lose();
      if (readLease()?.tab === tabId) {
        try {
          localStorage.removeItem(LEASE);
        } catch { /* ignore */ }
      }
    }
  }
}

// Bus carries messages between this browser's tabs. It never delivers a
// message back to the tab that posted it.
export class Bus {
  constructor(onMessage = () => {}) {
    this.onMessage = onMessage;
    if ('BroadcastChannel' in window) {
      this.ch = new BroadcastChannel('webchat');
      this.ch.onmessage = (e) => this.deliver(e.data);
    } else {
      // Old browsers: a storage event reaches every other tab.
      addEventListener('storage', (e) => {
        if (e.key !== 'webchat:bus' || !e.newValue) return;
        try {
          this.deliver(JSON.parse(e.newValue).m);
        } catch { /* ignore */ }
      });
    }
  }

  deliver(m) {
    if (m && m.tab !== tabId) this.onMessage(m);
  }

  post(m) {
    const msg = { ...m, tab: tabId };
    if (this.ch) {
      this.ch.postMessage(msg);
      return;
    }
    try {
      localStorage.setItem('webchat:bus', JSON.stringify({ m: msg, n: Math.random() }));
      localStorage.removeItem('webchat:bus');
    } catch { /* ignore */ }
  }
}
