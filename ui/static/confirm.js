// Asking before what a click cannot undo (leaving or deleting a group,
// removing a member, handing a group over): a modal <dialog>, which keeps
// keyboard focus inside while open and closes on Escape. Focus goes back
// to where it was, or to a fallback when that element was redrawn.
//
// The answer is taken from the button pressed (the form's submit) or from
// Escape (the dialog's cancel), at once: the dialog's close event comes a
// task later, and a question asked again quickly would take the earlier
// question's close for its own answer.

import { $, h, show } from './dom.js';

let current = null; // the question waiting: {resolve, options, before, back}
let refocus = null; // the question answered, whose focus goes back on close

function answer(ok) {
  const q = current;
  if (!q) return;
  current = null;
  refocus = q;
  q.resolve({ ok, pick: q.options ? $('#confirm-pick').value : null });
}

let wired = false;
function wire() {
  if (wired) return;
  wired = true;
  const d = $('#confirm');
  d.querySelector('form').addEventListener('submit', (e) => answer(!!e.submitter && e.submitter.value === 'ok'));
  d.addEventListener('cancel', () => answer(false));
  d.addEventListener('close', () => {
    if (d.open) return; // the close of an earlier question, come after the next was asked
    answer(false);
    const q = refocus;
    refocus = null;
    if (!q) return;
    const to = q.before && q.before.isConnected && q.before !== document.body ? q.before : q.back && q.back();
    if (to) to.focus();
  });
}

// ask shows the question and answers {ok, pick}: ok when confirmed, pick
// the chosen option's value when options were given.
//   text     the question (plain text)
//   ok       the confirming button's label
//   options  [{value, label}] to choose from (optional), pickLabel its label
//   back     a function answering the element to focus afterwards, for when
//            the one focused before is gone
export function ask({ text, ok, options = null, pickLabel = '', back = null }) {
  wire();
  const d = $('#confirm');
  if (d.open) return Promise.resolve({ ok: false, pick: null }); // one question at a time
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = ok;
  const pick = $('#confirm-pick');
  show($('#confirm-pick-row'), !!options);
  if (options) {
    $('#confirm-pick-label').textContent = pickLabel;
    pick.replaceChildren(...options.map((o) => h('option', { value: String(o.value) }, o.label)));
  }
  return new Promise((resolve) => {
    current = { resolve, options, before: document.activeElement, back };
    d.returnValue = '';
    d.showModal();
    // The safe choice first, so Enter on a question not read keeps things;
    // with a choice to make, the choice.
    (options ? pick : $('#confirm-cancel')).focus();
  });
}
