// Search: a box above the contact list that finds messages in every
// conversation I may read (GET /api/search), lists the hits newest first
// with the match marked, and opens a conversation at the hit, loading
// history back to it.

import { $, h, show, fmtListTime } from './dom.js';
import { get, ApiError } from './api.js';
import * as st from './state.js';
import { S } from './state.js';
import { openConv, loadOlder } from './convs.js';
import { flush } from './ui.js';

const MIN = 2; // characters, as the server counts
const MAX = 100;
const LIMIT = 20;
const MAX_PAGES_BACK = 400; // history pages loaded to reach a hit

let query = '';
let next = '';
let token = 0;

const chars = (s) => [...s].length;

// marked splits body into text and <mark>s around every case-insensitive
// occurrence of q (Latin; other scripts match as they are).
function marked(body, q) {
  const out = [];
  const lower = body.toLowerCase();
  const lq = q.toLowerCase();
  let at = 0;
  // Lower-casing keeps lengths for what search folds (Latin), so indexes
  // line up; where they would not, the body is shown unmarked.
  if (lower.length !== body.length || !lq) return [body];
  for (let i = lower.indexOf(lq); i >= 0; i = lower.indexOf(lq, at)) {
    if (i > at) out.push(body.slice(at, i));
    out.push(h('mark', {}, body.slice(i, i + lq.length)));
    at = i + lq.length;
  }
  if (at < body.length) out.push(body.slice(at));
  return out;
}

function status(text, testid) {
  const el = $('#search-status');
  el.textContent = text;
  if (testid) el.setAttribute('data-testid', testid);
  else el.setAttribute('data-testid', 'search-status');
  el.classList.toggle('error', testid === 'search-error');
}

function hit(m) {
  // Who said it, where that is not the conversation's name already.
  const mine = S.me && m.from === S.me.id;
  const who = mine ? 'You' : m.type === 'group' ? st.displayName(m.from) : '';
  return h('li', {},
    h('button', {
      type: 'button', class: 'search-hit', 'data-testid': 'search-result', 'data-conv': m.conv, 'data-seq': m.seq,
      onclick: () => openAt(m.conv, m.seq),
    },
    h('span', { class: 'search-meta' },
      h('span', { class: 'search-where', dir: 'auto' }, st.convTitle(m.conv)),
      h('span', { class: 'search-who', dir: 'auto' }, who),
      h('time', { class: 'item-time', datetime: new Date(m.ts).toISOString() }, fmtListTime(m.ts))),
    h('span', { class: 'search-body', dir: 'auto' }, marked(m.body, query))));
}

async function run(more) {
  const q = $('#search-input').value.trim();
  const results = $('#search-results');
  if (!q) {
    clear();
    return;
  }
  show(results, true);
  if (chars(q) < MIN || chars(q) > MAX) {
    $('#search-list').replaceChildren();
    show($('#search-more'), false);
    status(chars(q) < MIN ? `Type at least ${MIN} characters to search.` : `Search for at most ${MAX} characters.`, 'search-empty');
    return;
  }
  if (!more) {
    query = q;
    next = '';
    $('#search-list').replaceChildren();
  }
  const mine = ++token;
  status('Searching…');
  let data;
  try {
    const params = new URLSearchParams({ q: query, limit: String(LIMIT) });
    if (more && next) params.set('before', next);
    data = await get(`/api/search?${params}`);
  } catch (e) {
    if (mine !== token) return;
    status(e instanceof ApiError && e.status ? e.message : 'Search failed: the server could not be reached.', 'search-error');
    return;
  }
  if (mine !== token) return;
  const msgs = (data && data.messages) || [];
  $('#search-list').append(...msgs.map(hit));
  next = (data && data.has_more && data.next) || '';
  show($('#search-more'), !!next);
  const n = $('#search-list').children.length;
  if (!n) status(`No messages found for “${query}”.`, 'search-empty');
  else status(`${n}${next ? '+' : ''} message${n === 1 ? '' : 's'} found for “${query}”.`);
}

function clear() {
  token++;
  query = '';
  next = '';
  $('#search-input').value = '';
  $('#search-list').replaceChildren();
  show($('#search-more'), false);
  show($('#search-results'), false);
  status('');
}

// openAt opens conv and shows message seq: history is loaded back to it,
// and it is scrolled into view, marked for a moment and focused.
export async function openAt(conv, seq) {
  await openConv(conv);
  const c = st.conv(conv);
  for (let i = 0; i < MAX_PAGES_BACK && !c.msgs.has(seq) && c.hasMore && S.open === conv; i++) {
    const floor = c.floor;
    await loadOlder(conv);
    if (c.floor === floor && !c.msgs.has(seq)) break; // nothing came
  }
  if (S.open !== conv) return;
  flush();
  const el = document.querySelector(`#messages [data-testid="message"][data-seq="${seq}"]`);
  if (!el) return;
  el.scrollIntoView({ block: 'center' });
  el.classList.add('hit');
  el.setAttribute('tabindex', '-1');
  el.focus({ preventScroll: true });
  setTimeout(() => el.classList.remove('hit'), 4000);
}

// moveFocus steps through the hits with the arrow keys.
function moveFocus(from, d) {
  const hits = [...document.querySelectorAll('#search-list .search-hit')];
  if (!hits.length) return;
  const i = hits.indexOf(from);
  const to = i < 0 ? (d > 0 ? 0 : hits.length - 1) : i + d;
  if (to < 0) $('#search-input').focus();
  else if (to < hits.length) hits[to].focus();
}

export function wireSearch() {
  const input = $('#search-input');
  $('#search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    run(false);
  });
  input.addEventListener('input', () => {
    if (!input.value.trim()) clear();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && (input.value || !$('#search-results').hidden)) {
      e.preventDefault();
      clear();
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      moveFocus(null, 1);
    }
  });
  $('#search-list').addEventListener('keydown', (e) => {
    const btn = e.target.closest('.search-hit');
    if (!btn) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      moveFocus(btn, e.key === 'ArrowDown' ? 1 : -1);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      clear();
      input.focus();
    }
  });
  $('#search-more').addEventListener('click', () => run(true));
}

// resetSearch empties the box (log-out, another user).
export function resetSearch() {
  clear();
}
