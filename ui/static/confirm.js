// Asking before what a click cannot undo (leaving or deleting a group,
// removing a member, handing a group over): a modal <dialog>, which keeps
// keyboard focus inside while open and closes on Escape. Focus goes back
// to where it was, or to a fallback when that element was redrawn.

import { $, h, show } from './dom.js';

// ask shows the question and answers {ok, pick}: ok when confirmed, pick
// the chosen option's value when options were given.
//   text     the question (plain text)
//   ok       the confirming button's label
//   options  [{value, label}] to choose from (optional), pickLabel its label
//   back     a function answering the element to focus afterwards, for when
//            the one focused before is gone
export function ask({ text, ok, options = null, pickLabel = '', back = null }) {
  const d = $('#confirm');
  if (d.open) return Promise.resolve({ ok: false, pick: null }); // one question at a time
  const before = document.activeElement;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = ok;
  const pick = $('#confirm-pick');
  show($('#confirm-pick-row'), !!options);
  if (options) {
    $('#confirm-pick-label').textContent = pickLabel;
    pick.replaceChildren(...options.map((o) => h('option', { value: String(o.value) }, o.label)));
  }
  return new Promise((resolve) => {
    d.returnValue = '';
    d.addEventListener('close', () => {
      resolve({ ok: d.returnValue === 'ok', pick: options ? pick.value : null });
      const to = before && before.isConnected && before !== document.body ? before : back && back();
      if (to) to.focus();
    }, { once: true });
    d.showModal();
    // The safe choice first, so Enter on a question not read keeps things;
    // with a choice to make, the choice.
    (options ? pick : $('#confirm-cancel')).focus();
  });
}
