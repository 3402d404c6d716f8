// The notification centre: a bell in the top bar with the unread count, kept current by
// PocketBase's realtime (the server sends each user only her own notifications), a list
// with mark-as-read and all-read, and the preferences page (time zone, language, what to be
// notified of). Everything is rendered as text by htm/preact: no HTML from the server.
import { useEffect, useState, useCallback } from 'preact/hooks';
import { pb, relata, me, formatDate, errorMessage, debounce } from './api.js';
import { html, navigate, recordHref, ErrorBox, toast } from './ui.js';
import { t, lang, setLanguage, languages } from './i18n.js';

const kinds = [
  ['assigned', 'prefs.kind.assigned'],
  ['mention', 'prefs.kind.mention'],
  ['due', 'prefs.kind.due'],
  ['reply', 'prefs.kind.reply'],
  ['workflow', 'prefs.kind.workflow'],
];

// Plain characters every font has (headless and older phones lack emoji fonts).
const icon = { assigned: '→', mention: '@', due: '!', reply: '↩', workflow: '≡' };

// The bell, drawn as an SVG so it looks the same everywhere.
const bellIcon = html`<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor"
  stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
  <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" /></svg>`;

export function Bell() {
  const [items, setItems] = useState([]);
  const [unread, setUnread] = useState(0);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState('');
  const load = useCallback(async () => {
    try {
      const [list, count] = await Promise.all([
        pb.collection('notifications').getList(1, 30, { sort: '-created' }),
        pb.collection('notifications').getList(1, 1, { filter: 'read_at = ""', fields: 'id' }),
      ]);
      setItems(list.items);
      setUnread(count.totalItems);
      setError('');
    } catch (err) {
      setError(errorMessage(err));
    }
  }, []);
  const [live, setLive] = useState(false);
  useEffect(() => {
    load();
    // Load again once the subscription stands: what arrived in between is not missed.
    let stopped = false;
    let unsubscribe = null;
    // A burst of changes (a reassignment of many records) loads the list once, not per event,
    // and raises one toast: "250 new notifications" rather than 250 toasts.
    let fresh = [];
    const settle = debounce(() => {
      load();
      if (fresh.length === 1) toast(fresh[0]);
      else if (fresh.length > 1) toast(t('bell.newMany', { count: fresh.length }));
      fresh = [];
    }, 250);
    pb.collection('notifications').subscribe('*', (e) => {
      if (e.action === 'create') fresh.push(e.record.title);
      settle();
    }).then((fn) => {
      if (stopped) { fn(); return; }
      unsubscribe = fn;
      setLive(true);
      load();
    }).catch(() => {});
    return () => { stopped = true; if (unsubscribe) unsubscribe(); };
  }, []);
  useEffect(() => {
    if (!open) return undefined;
    const onKey = (e) => e.key === 'Escape' && setOpen(false);
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open]);
  const markRead = async (n) => {
    if (!n.read_at) {
      await pb.collection('notifications').update(n.id, { read_at: new Date().toISOString() });
    }
  };
  // Opening a notification goes to its record at once and marks it read meanwhile: waiting
  // for the update first made the page change a round trip later, even after the user had
  // gone on to another page.
  const openItem = (n) => {
    setOpen(false);
    if (n.object && n.record_id) navigate(recordHref(n.object, n.record_id).slice(1));
    markRead(n).catch((err) => toast(errorMessage(err), 'error')).finally(load);
  };
  const allRead = async () => {
    try {
      // Every unread one, including those older than the list shows, in one request.
      await relata('/notifications/read', { method: 'POST' });
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
    load();
  };
  return html`<div class="bell-wrap" data-live=${live ? 'true' : 'false'}>
    <button class="bell" type="button" data-testid="bell" aria-haspopup="true" aria-expanded=${open ? 'true' : 'false'}
      aria-label=${unread ? t('bell.unread', { count: unread }) : t('bell.title')} onClick=${() => setOpen((v) => !v)}>
      ${bellIcon}${unread ? html`<span class="badge" data-testid="bell-count">${unread > 99 ? '99+' : unread}</span>` : null}
    </button>
    ${open ? html`<div class="bell-panel" role="dialog" aria-label=${t('bell.title')} data-testid="bell-panel">
      <header>
        <strong>${t('bell.title')}</strong>
        <span class="spacer"></span>
        <button class="link" type="button" data-testid="all-read" disabled=${!unread} onClick=${allRead}>${t('bell.allRead')}</button>
        <a class="link" href="#/preferences" onClick=${() => setOpen(false)}>${t('topbar.preferences')}</a>
      </header>
      <${ErrorBox} error=${error} />
      ${items.length === 0 ? html`<p class="muted empty-note">${t('bell.empty')}</p>` : null}
      <ul>
        ${items.map((n) => html`<li key=${n.id} class=${n.read_at ? 'read' : 'unread'} data-testid="notification">
          <button type="button" class="item" onClick=${() => openItem(n)}>
            <span class="icon-dot">${icon[n.kind] || '•'}</span>
            <span class="text">
              <span class="title">${n.title}</span>
              ${n.body ? html`<span class="body">${n.body.length > 160 ? n.body.slice(0, 159) + '…' : n.body}</span>` : null}
              <span class="when muted small">${formatDate(n.created, true)}</span>
            </span>
          </button>
          ${n.read_at ? null : html`<button type="button" class="icon" title=${t('bell.markRead')} aria-label=${t('bell.markRead')}
            onClick=${async () => { try { await markRead(n); } catch (err) { toast(errorMessage(err), 'error'); } load(); }}>✓</button>`}
        </li>`)}
      </ul>
    </div>` : null}
  </div>`;
}

// zones lists the IANA time zones the browser knows (with the current one first).
function zones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC', 'Europe/Rome', 'Europe/London', 'America/New_York'];
  }
}

export function PreferencesPage() {
  const u = me();
  const prefs = u?.notify_prefs || {};
  const [timezone, setTimezone] = useState(u?.timezone || '');
  const [language, setLang] = useState(u?.language || lang());
  const [channels, setChannels] = useState(Object.fromEntries(kinds.map(([k]) => [k, { app: true, email: false, ...(prefs.kinds?.[k] || {}) }])));
  const [digest, setDigest] = useState(prefs.digest !== false);
  const [reminder, setReminder] = useState(prefs.reminderMinutes ?? 15);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k, ch, v) => setChannels((c) => ({ ...c, [k]: { ...c[k], [ch]: v } }));
  const save = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await pb.collection('users').update(u.id, {
        timezone, language,
        notify_prefs: { kinds: channels, digest, reminderMinutes: Math.max(0, Math.min(1440, Number(reminder) || 0)) },
      });
      await pb.collection('users').authRefresh();
      setLanguage(language);
      toast(t('prefs.saved'));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return html`<section class="preferences">
    <h1>${t('topbar.preferences')}</h1>
    <p><a href="#/tokens" data-testid="tokens-link">${t('prefs.tokensLink')}</a>${t('prefs.tokensNote')}</p>
    <form class="card" onSubmit=${save}>
      <h2>${t('prefs.timeAndLanguage')}</h2>
      <label>${t('prefs.timezone')}
        <select id="pref-timezone" value=${timezone} onChange=${(e) => setTimezone(e.target.value)}>
          <option value="">${t('prefs.utcNotSet')}</option>
          ${zones().map((z) => html`<option key=${z} value=${z}>${z}${z === here ? t('prefs.thisDevice') : ''}</option>`)}
        </select>
      </label>
      <label>${t('topbar.language')}
        <select id="pref-language" value=${language} onChange=${(e) => setLang(e.target.value)}>
          ${languages.map(([code, name]) => html`<option key=${code} value=${code}>${name}</option>`)}
        </select>
      </label>
      <h2>${t('bell.title')}</h2>
      <table class="pref-kinds">
        <thead><tr><th></th><th>${t('prefs.inApp')}</th><th>${t('prefs.byEmail')}</th></tr></thead>
        <tbody>
          ${kinds.map(([k, label]) => html`<tr key=${k}>
            <th scope="row">${t(label)}</th>
            <td><input type="checkbox" aria-label=${t('prefs.inAppOf', { kind: t(label) })} data-testid=${'pref-' + k + '-app'} checked=${channels[k].app} onChange=${(e) => set(k, 'app', e.target.checked)} /></td>
            <td><input type="checkbox" aria-label=${t('prefs.byEmailOf', { kind: t(label) })} data-testid=${'pref-' + k + '-email'} checked=${channels[k].email} onChange=${(e) => set(k, 'email', e.target.checked)} /></td>
          </tr>`)}
        </tbody>
      </table>
      <label class="inline"><input type="checkbox" id="pref-digest" checked=${digest} onChange=${(e) => setDigest(e.target.checked)} />
        ${t('prefs.digest')}</label>
      <label>${t('prefs.reminder')}
        <input id="pref-reminder" type="number" min="0" max="1440" value=${reminder} onInput=${(e) => setReminder(e.target.value)} />
      </label>
      <${ErrorBox} error=${error} />
      <button class="primary" type="submit" disabled=${busy}>${busy ? t('common.saving') : t('common.save')}</button>
    </form>
  </section>`;
}
