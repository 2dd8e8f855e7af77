// The long-poll loop, run by the one tab that leads (see tabs.js).
//
// GET /api/poll?cursor=<c>: the first poll has no cursor; after an answer
// the next poll goes out at once with the answer's cursor, which also
// acknowledges what was answered. The first poll after a start or an
// error asks timeout=0, so it answers at once and the page says
// "connected" as soon as that is true, not when a long poll ends. Network
// errors and 5xx back off with jitter (the page shows "reconnecting"); a
// draining node's 503 is retried at once; 409 superseded stops this tab;
// 401 logs out. A poll the browser fails because the page is going away
// (Chrome fails in-flight fetches after pagehide) is no outage.

import { api } from './api.js';

const WATCHDOG_MS = 75_000; // longer than the longest server poll (55 s)
const MAX_BACKOFF_MS = 30_000;

// backoff is the wait before retry number n (1, 2, ...): exponential up
// to 30 s, and a random half of it so many clients do not come back in step.
export function backoff(n) {
  const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(n, 10));
  return base / 2 + Math.random() * (base / 2);
}

export class Poller {
  // h: {uid(), onEvents(events), onResync(), onState('connected'|
  // 'reconnecting'), onSuperseded(), onUnauthorized()}
  constructor(h) {
    this.h = h;
    this.running = false;
    this.wake = null;
    this.leaving = false;
    addEventListener('online', () => this.wake && this.wake());
    addEventListener('pagehide', () => { this.leaving = true; });
    addEventListener('pageshow', () => { this.leaving = false; });
  }

  cursorKey() {
    return `webchat:cursor:${this.h.uid()}`;
  }

  loadCursor() {
    try {
      return localStorage.getItem(this.cursorKey());
    } catch {
      return null;
    }
  }

  saveCursor(c) {
    try {
      if (c == null) localStorage.removeItem(this.cursorKey());
      else localStorage.setItem(this.cursorKey(), c);
    } catch { /* ignore */ }
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.ctrl = new AbortController();
    this.loop(this.ctrl.signal);
  }

  stop() {
    if (!this.running) return;
    this.running = false;
    this.ctrl.abort();
    if (this.wake) this.wake();
  }

  sleep(ms, signal) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wake = null;
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake = done;
      signal.addEventListener('abort', done);
    });
  }

  async loop(signal) {
    // The cursor lives in localStorage so that a tab taking over from one
    // that closed carries on where it stopped instead of getting again
    // everything not yet acknowledged.
    let cursor = this.loadCursor();
    let failures = 0;
    let quick = true; // the next poll answers at once (timeout=0)
    while (!signal.aborted) {
      const req = new AbortController();
      const onAbort = () => req.abort();
      signal.addEventListener('abort', onAbort);
      const watchdog = setTimeout(() => req.abort(), WATCHDOG_MS);
      const q = [];
      if (cursor) q.push(`cursor=${encodeURIComponent(cursor)}`);
      if (quick) q.push('timeout=0');
      const url = q.length ? `/api/poll?${q.join('&')}` : '/api/poll';
      try {
        const data = await api('GET', url, undefined, { signal: req.signal, auth: false });
        if (signal.aborted) break;
        failures = 0;
        quick = false;
        this.h.onState('connected');
        if (data && Array.isArray(data.events) && data.events.length) this.h.onEvents(data.events);
        if (data && data.cursor != null) {
          cursor = String(data.cursor);
          this.saveCursor(cursor);
        }
        if (data && data.resync) await this.h.onResync();
      } catch (e) {
        if (signal.aborted) break;
        quick = true;
        if (this.leaving) {
          // The page is being unloaded or put in the back-forward cache;
          // if it comes back (pageshow), poll again.
          await this.sleep(250, signal);
          continue;
        }
        const status = e.status ?? 0;
        if (status === 401) {
          this.running = false;
          this.h.onUnauthorized();
          break;
        }
        if (status === 409 && e.code === 'superseded') {
          this.running = false;
          this.h.onSuperseded();
          break;
        }
        if (status === 400 && e.code === 'invalid_cursor') {
          // A cursor of an earlier device (logged out and in again).
          cursor = null;
          this.saveCursor(null);
          continue;
        }
        if (status === 503 && e.code === 'draining') {
          // The node is shutting down; the balancer sends us elsewhere.
          await this.sleep(e.retryAfter ? e.retryAfter * 1000 : Math.random() * 250, signal);
          continue;
        }
        failures++;
        this.h.onState('reconnecting');
        let wait = backoff(failures);
        if (e.retryAfter != null) wait = Math.max(wait, e.retryAfter * 1000);
        await this.sleep(wait, signal);
      } finally {
        clearTimeout(watchdog);
        signal.removeEventListener('abort', onAbort);
      }
    }
  }
}
