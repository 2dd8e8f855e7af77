// Getting attention while the tab is in the background: the unread total in
// the title and as a badge on the favicon, and desktop notifications when
// the person allowed them.

export class Attention {
  constructor() {
    this.base = 'webchat';
    this.total = 0;
    this.shown = -1;
    this.baseHref = 'favicon.svg';
    document.addEventListener('visibilitychange', () => this.update());
  }

  setTotal(n) {
    this.total = n;
    this.update();
  }

  update() {
    const n = document.hidden ? this.total : 0;
    const title = n > 0 ? `(${n > 99 ? '99+' : n}) ${this.base}` : this.base;
    if (document.title !== title) document.title = title;
    if (n === this.shown) return;
    this.shown = n;
    setIcon(n > 0 ? badgeIcon(n) : this.baseHref, n > 0 ? 'image/png' : 'image/svg+xml');
  }
}

// setIcon replaces the icon link: browsers notice a new element more
// reliably than a changed href.
function setIcon(href, type) {
  const old = document.getElementById('favicon');
  const link = document.createElement('link');
  link.id = 'favicon';
  link.rel = 'icon';
  link.type = type;
  link.href = href;
  if (old) old.replaceWith(link);
  else document.head.append(link);
}

// badgeIcon draws the app icon with a red count.
function badgeIcon(n) {
  const c = document.createElement('canvas');
  c.width = 64;
  c.height = 64;
  const g = c.getContext('2d');
  if (!g) return 'favicon.svg';
  g.fillStyle = '#1f6fd1';
  g.beginPath();
  if (g.roundRect) g.roundRect(0, 0, 64, 64, 14);
  else g.rect(0, 0, 64, 64);
  g.fill();
  g.fillStyle = '#fff';
  g.beginPath();
  g.ellipse(30, 30, 21, 16, 0, 0, Math.PI * 2);
  g.fill();
  g.beginPath();
  g.moveTo(17, 40);
  g.lineTo(12, 54);
  g.lineTo(29, 44);
  g.fill();
  g.fillStyle = '#e53935';
  g.beginPath();
  g.arc(45, 19, 19, 0, Math.PI * 2);
  g.fill();
  g.fillStyle = '#fff';
  const text = n > 99 ? '99+' : String(n);
  g.font = `bold ${text.length > 2 ? 16 : text.length > 1 ? 22 : 28}px sans-serif`;
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(text, 45, 20);
  return c.toDataURL('image/png');
}

export function canNotify() {
  return 'Notification' in window;
}

export function notifyPermission() {
  return canNotify() ? Notification.permission : 'denied';
}

// askPermission must run in a user gesture (a click).
export async function askPermission() {
  if (!canNotify()) return 'denied';
  try {
    return await Notification.requestPermission();
  } catch {
    return Notification.permission;
  }
}

// notify shows a desktop notification if permitted. tag coalesces repeats.
export function notify(title, body, tag, onClick) {
  if (notifyPermission() !== 'granted') return;
  try {
    const n = new Notification(title, { body, tag, icon: 'favicon.svg' });
    n.onclick = () => {
      window.focus();
      onClick();
      n.close();
    };
  } catch {
    // Some browsers (Android Chrome) allow notifications only from a
    // service worker; the title badge still tells.
  }
}
