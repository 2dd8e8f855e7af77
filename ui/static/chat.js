// The message window and the composer.
//
// Messages are kept in the DOM keyed by seq ("s12") or, while pending, by
// client_id ("c<uuid>"), and reconciled in place, so a pending message
// becomes its confirmed self without flicker and a repeat never shows twice.
// The window stays at the newest message unless the person scrolled up; then
// new messages raise a "new messages" pill instead of moving the text, and
// older history loaded at the top keeps what they were reading in place.

import { h, $, show, fmtTime, fmtFull } from './dom.js';
import { S, sortedMessages, displayName } from './state.js';
import { avatar } from './sidebar.js';
import * as saved from './saved.js';
import { composerInput, composerSent, newestSeen, receiptFor, readers } from './presence.js';

const EMOJI = ['😀', '😂', '😊', '😍', '😘', '😎', '🤔', '😢', '😭', '😡', '👍', '👏', '🙏', '👋', '🎉', '❤️', '🔥', '🌹', '☕', '🍻'];
const BOTTOM_SLACK = 48; // px from the bottom that still counts as "at the newest"
const TOP_LOAD = 80; // px from the top that loads older history
export const MAX_BODY = 4000; // code points, as the server counts

export class ChatView {
  // hd: {send(body), retry(clientId), discard(clientId), nearTop(), atBottom()}
  constructor(hd = {}) {
    this.hd = hd;
    this.box = $('#messages');
    this.list = $('#message-list');
    this.note = $('#history-note');
    this.pill = $('#new-messages');
    this.composer = $('#composer');
    this.nodes = new Map();
    this.conv = null;
    this.drafts = new Map();
    this.composing = false;

    // stick: the window was at the newest message when last scrolled, so
    // it stays there when it shrinks (a phone's keyboard coming up, the
    // composer growing) or grows.
    this.stick = true;
    this.box.addEventListener('scroll', () => {
      this.stick = this.atBottom();
      if (this.stick) {
        this.hidePill();
        this.hd.atBottom();
      }
      if (this.box.scrollTop < TOP_LOAD) this.hd.nearTop();
    }, { passive: true });
    new ResizeObserver(() => {
      if (this.stick && !this.atBottom()) this.box.scrollTop = this.box.scrollHeight;
    }).observe(this.box);
    this.pill.addEventListener('click', () => {
      this.toBottom();
      this.composer.focus();
    });

    // The emoji are one tab stop (a toolbar with a roving tabindex): the
    // arrow keys, Home and End move between them, and Tab goes on to the
    // composer instead of through twenty buttons.
    const bar = $('#emoji-bar');
    EMOJI.forEach((e, i) => {
      bar.append(h('button', {
        type: 'button', class: 'emoji', 'data-testid': 'emoji', 'data-emoji': e, title: `Insert ${e}`, 'aria-label': `Insert ${e}`,
        tabindex: i === 0 ? '0' : '-1',
        // Keep the caret (and focus) in the text area.
        onmousedown: (ev) => ev.preventDefault(),
        onclick: () => {
          this.emojiAt(i, false);
          this.insert(e);
        },
      }, e));
    });
    bar.addEventListener('keydown', (ev) => {
      const all = [...bar.querySelectorAll('button')];
      const at = all.indexOf(document.activeElement);
      if (at < 0) return;
      const to = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: all.length - 1 }[ev.key];
      if (to === undefined) return;
      ev.preventDefault();
      this.emojiAt((to + all.length) % all.length, true);
    });

    const ta = this.composer;
    // Drafts are kept as typed, so a reload (or a crash) loses nothing.
    ta.addEventListener('input', () => {
      if (this.conv && S.me) saved.setDraft(S.me.id, this.conv, ta.value);
      if (!ta.disabled) composerInput(this.conv, ta.value);
    });
    ta.addEventListener('compositionstart', () => { this.composing = true; });
    ta.addEventListener('compositionend', () => { this.composing = false; });
    ta.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' || e.shiftKey || e.altKey || e.ctrlKey || e.metaKey) return;
      // Enter that commits an input-method composition (Chinese, Japanese)
      // must not send. Chrome marks it isComposing; Safari sends keyCode
      // 229 after compositionend.
      if (e.isComposing || e.keyCode === 229 || this.composing) return;
      e.preventDefault();
      this.submit();
    });
    $('#composer-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  // emojiAt makes emoji i the toolbar's tab stop, focused if asked.
  emojiAt(i, focus) {
    const all = [...$('#emoji-bar').querySelectorAll('button')];
    all.forEach((b, j) => b.setAttribute('tabindex', j === i ? '0' : '-1'));
    if (focus) all[i].focus();
  }

  // announce has screen readers say a new message (the message window is
  // not a live region).
  announce(text) {
    $('#announcer').textContent = text;
  }

  insert(text) {
    const ta = this.composer;
    if (ta.disabled) return;
    const start = ta.selectionStart ?? ta.value.length;
    const end = ta.selectionEnd ?? start;
    ta.setRangeText(text, start, end, 'end');
    ta.focus();
    ta.dispatchEvent(new Event('input', { bubbles: true }));
  }

  submit() {
    const ta = this.composer;
    const body = ta.value;
    if (ta.disabled || !body.trim()) return;
    if ([...body].length > MAX_BODY) {
      this.notice(`A message can be at most ${MAX_BODY.toLocaleString()} characters (this one has ${[...body].length.toLocaleString()}).`);
      return;
    }
    if (this.hd.send(body)) {
      composerSent();
      ta.value = '';
      this.drafts.delete(this.conv);
      if (S.me) saved.setDraft(S.me.id, this.conv, '');
      this.notice('');
    }
    ta.focus();
  }

  notice(text) {
    const n = $('#chat-notice');
    n.textContent = text;
    show(n, !!text);
  }

  setWritable(ok, why) {
    // why names the person, whose name can arrive after the first render.
    if (this.writable === ok && (ok || this.why === why)) return;
    this.writable = ok;
    this.why = why;
    this.composer.disabled = !ok;
    $('#send-btn').disabled = !ok;
    for (const b of $('#emoji-bar').querySelectorAll('button')) b.disabled = !ok;
    this.notice(ok ? '' : why);
  }

  switchTo(convId) {
    if (this.conv === convId) return;
    if (this.conv) this.drafts.set(this.conv, this.composer.value);
    this.conv = convId;
    this.readersShown = null; // {seq, names} of the "Read by" list open
    this.nodes.clear();
    this.list.replaceChildren();
    this.note.textContent = '';
    this.hidePill();
    this.announce('');
    const kept = convId && S.me ? saved.draft(S.me.id, convId) : undefined;
    this.composer.value = kept ?? (this.drafts.get(convId) || '');
    this.writable = undefined;
    this.notice('');
  }

  atBottom() {
    const b = this.box;
    return b.scrollHeight - b.scrollTop - b.clientHeight <= BOTTOM_SLACK;
  }

  overflowing() {
    return this.box.scrollHeight > this.box.clientHeight + 4;
  }

  toBottom() {
    this.stick = true;
    this.box.scrollTop = this.box.scrollHeight;
    this.hidePill();
  }

  hidePill() {
    show(this.pill, false);
  }

  // confirmed moves a pending node to its seq, so it is updated, not redrawn.
  confirmed(clientId, seq) {
    const el = this.nodes.get(`c${clientId}`);
    if (!el) return;
    this.nodes.delete(`c${clientId}`);
    if (!this.nodes.has(`s${seq}`)) this.nodes.set(`s${seq}`, el);
  }

  // render brings the window in line with the conversation's messages.
  render(c, { forceBottom = false } = {}) {
    if (!c || c.conv !== this.conv) return;
    const wasBottom = this.atBottom();
    let anchor = null;
    if (!wasBottom && !forceBottom) {
      // The first message visible at the top, and where it is, so the view
      // stays put when older messages go in above it.
      for (const el of this.list.children) {
        if (el.offsetTop + el.offsetHeight > this.box.scrollTop) {
          anchor = { el, at: el.offsetTop - this.box.scrollTop };
          break;
        }
      }
    }
    const prevLast = this.list.lastElementChild;

    const confirmed = sortedMessages(c);
    const seen = newestSeen(c, confirmed);
    const items = confirmed.map((m) => ({ key: `s${m.seq}`, m, p: null, mark: receiptFor(c, m, seen) }));
    for (const p of c.pending.values()) items.push({ key: `c${p.client_id}`, m: p, p });

    if (c.loading) this.note.textContent = 'Loading earlier messages…';
    else if (c.fetched && !c.hasMore) this.note.textContent = items.length ? 'This is the beginning of the conversation.' : 'No messages yet. Say hello!';
    else this.note.textContent = '';

    let cur = this.list.firstElementChild;
    for (const it of items) {
      let el = this.nodes.get(it.key);
      if (!el) {
        el = h('div');
        this.nodes.set(it.key, el);
      }
      this.fill(el, it);
      if (el === cur) cur = cur.nextElementSibling;
      else this.list.insertBefore(el, cur);
    }
    while (cur) {
      const next = cur.nextElementSibling;
      cur.remove();
      cur = next;
    }
    if (this.nodes.size > items.length) {
      const keep = new Set(items.map((it) => it.key));
      for (const k of this.nodes.keys()) if (!keep.has(k)) this.nodes.delete(k);
    }

    const last = this.list.lastElementChild;
    if (forceBottom || wasBottom) {
      this.toBottom();
    } else {
      if (anchor && anchor.el.isConnected) this.box.scrollTop = anchor.el.offsetTop - anchor.at;
      if (last && last !== prevLast && !last.classList.contains('own')) show(this.pill, true);
    }
  }

  fill(el, { m, p, mark }) {
    const own = !!S.me && m.from === S.me.id;
    const name = own ? S.me.display_name || S.me.username : displayName(m.from);
    const shown = mark && this.readersShown && this.readersShown.seq === m.seq ? this.readersShown.names : null;
    const sig = [m.conv, m.seq, m.body, m.ts, name, own, p ? `${p.state}|${p.error}|${p.retryAt}|${!!p.transient}` : 'ok',
      mark ? `${mark.kind}|${mark.count}|${shown ? shown.join(',') : ''}` : ''].join('\u0000');
    if (el._sig === sig) return;
    el._sig = sig;
    el.className = `msg${own ? ' own' : ''}${p ? ` pending ${p.state}` : ''}`;
    el.setAttribute('data-testid', 'message');
    el.setAttribute('data-conv', m.conv);
    if (p) {
      el.removeAttribute('data-seq');
      el.setAttribute('data-pending', p.state);
    } else {
      el.setAttribute('data-seq', String(m.seq));
      el.removeAttribute('data-pending');
    }
    if (m.client_id) el.setAttribute('data-client-id', m.client_id);
    else el.removeAttribute('data-client-id');
    el.replaceChildren(
      avatar(m.from, name, 'small msg-avatar'),
      h('div', { class: 'msg-main' },
        h('div', { class: 'msg-meta' },
          h('span', { class: 'msg-from', 'data-testid': 'message-from', dir: 'auto' }, name),
          h('time', { class: 'msg-time', datetime: new Date(m.ts).toISOString(), title: fmtFull(m.ts) }, fmtTime(m.ts))),
        h('div', { class: 'msg-bubble' }, h('div', { class: 'msg-body', 'data-testid': 'message-body', dir: 'auto' }, m.body)),
        p ? this.status(p) : this.receipt(m, mark, shown)));
  }

  // receipt is the mark under my newest message read: "Seen" (direct), or
  // "Read by N" (group), which lists the readers' names when pressed.
  receipt(m, mark, shown) {
    if (!mark) return null;
    if (mark.kind === 'seen') return h('div', { class: 'msg-receipt', 'data-testid': 'message-seen' }, 'Seen');
    const open = !!shown;
    return h('div', { class: 'msg-receipt' },
      h('button', {
        type: 'button', class: 'link', 'data-testid': 'message-read-by', 'aria-expanded': String(open),
        onclick: () => this.toggleReaders(m),
      }, `Read by ${mark.count}`),
      open ? h('ul', { class: 'read-by plain', 'data-testid': 'read-by-list', 'aria-label': 'Read by' },
        ...shown.map((n) => h('li', { dir: 'auto' }, n))) : null);
  }

  async toggleReaders(m) {
    const c = this.conv;
    if (this.readersShown && this.readersShown.seq === m.seq) {
      this.readersShown = null;
    } else {
      try {
        this.readersShown = { seq: m.seq, names: await readers(m.conv, m.seq) };
      } catch (e) {
        this.notice(`Could not load who read it: ${e.message}`);
        return;
      }
    }
    if (this.conv === c) this.hd.redraw();
  }

  status(p) {
    if (p.state === 'sending') return h('div', { class: 'msg-status' }, 'Sending…');
    if (p.state === 'throttled') {
      const s = Math.max(1, Math.ceil((p.retryAt - Date.now()) / 1000));
      return h('div', { class: 'msg-status warn', role: 'status' }, `Sending too fast — retrying in ${s} s`);
    }
    return h('div', { class: 'msg-status error', role: 'alert' },
      p.transient
        ? 'Not sent yet: the server could not be reached. It goes by itself once the server answers again. '
        : `Not sent${p.error ? `: ${p.error}` : ''} `,
      h('button', { type: 'button', class: 'link', 'data-testid': 'message-retry', onclick: () => this.hd.retry(p.client_id) }, 'Retry'),
      ' ',
      h('button', { type: 'button', class: 'link', 'data-testid': 'message-discard', onclick: () => this.hd.discard(p.client_id) }, 'Discard'));
  }
}
