// DOM helpers. Everything the page shows is built with createElement and
// textContent: no HTML string ever carries user data, so a message like
// "<img onerror=...>" is shown as those characters and runs nothing.

// h builds an element. props: "class", "text", "on<event>" handlers, and
// anything else as an attribute (false/null/undefined are left out, true is
// an empty attribute). Children may be nodes, strings (text nodes) or arrays.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// $ finds one element by data-testid or id ("#id").
export function $(sel, root = document) {
  return root.querySelector(sel.startsWith('#') ? sel : `[data-testid="${sel}"]`);
}

export function show(el, on = true) {
  el.hidden = !on;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

// fmtTime is a message's local time: "14:03", or "Mar 4, 14:03" when not today.
export function fmtTime(ts) {
  const d = new Date(ts);
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (sameDay(d, new Date())) return t;
  return `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })}, ${t}`;
}

// fmtListTime is the short time beside a contact: today's time, else a
// weekday within the week, else a date.
export function fmtListTime(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  const now = new Date();
  if (sameDay(d, now)) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (now - d < 6 * 86400e3) return d.toLocaleDateString([], { weekday: 'short' });
  return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

export function fmtFull(ts) {
  return new Date(ts).toLocaleString();
}

// initial is the first character (code point) of a name, for an avatar.
export function initial(name) {
  const first = [...(name || '?').trim()][0] || '?';
  return first.toUpperCase();
}

// hue picks a stable avatar colour from an id.
export function hue(id) {
  return (Number(id) * 137) % 360;
}
