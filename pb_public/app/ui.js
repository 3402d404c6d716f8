// Small shared pieces: the html tag, the hash router, links, notices and dialogs.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { t } from './i18n.js';

export const html = htm.bind(h);

// The route is the part of the URL after "#": "/record/deals/abc?tab=x".
export function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path, parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

export function useRoute() {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function navigate(path) {
  location.hash = '#' + path;
}

export const recordHref = (object, id) => `#/record/${encodeURIComponent(object)}/${encodeURIComponent(id)}`;

export function Spinner({ label = t('common.loading') }) {
  return html`<div class="spinner" role="status">${label}</div>`;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">${error}</div>`;
}

export function Empty({ children }) {
  return html`<div class="empty">${children}</div>`;
}

// Toasts: short notices at the bottom of the screen.
let pushToast = () => {};
// maxToasts is how many toasts show at once; older ones give way.
const maxToasts = 4;

export function toast(message, kind = 'info') {
  pushToast({ message, kind, id: Math.random() });
}

export function Toasts() {
  const [items, setItems] = useState([]);
  useEffect(() => {
    pushToast = (t) => {
      setItems((xs) => [...xs.slice(-(maxToasts - 1)), t]); // the newest few: a burst cannot fill the screen
      setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== t.id)), 4000);
    };
  }, []);
  return html`<div class="toasts">${items.map((t) => html`<div class="toast ${t.kind}" key=${t.id}>${t.message}</div>`)}</div>`;
}

export function Modal({ title, onClose, children, wide }) {
  useEffect(() => {
    const onKey = (e) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return html`
    <div class="modal-backdrop" onClick=${(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal ${wide ? 'wide' : ''}" role="dialog" aria-label=${title}>
        <header><h2>${title}</h2><button class="icon" title=${t('common.close')} onClick=${onClose}>×</button></header>
        ${children}
      </div>
    </div>`;
}

export function Pill({ kind = '', children, title }) {
  return html`<span class="pill ${kind}" title=${title}>${children}</span>`;
}
