// The audit trail in the app: a record's History (who changed which field from what to what,
// through what) for whoever may view the record, and the admins' view of the whole trail with
// filters. Values are shown as text, never as markup.
import { useEffect, useState } from 'preact/hooks';
import { relata, userNamed, objectNamed, objectLabel, allObjects, allUsers, fieldLabel, formatDate, errorMessage } from './api.js';
import { html, Spinner, ErrorBox, Empty } from './ui.js';
import { t, label as tLabel } from './i18n.js';

// who names an entry's actor.
function who(e) {
  switch (e.actorKind) {
    case 'user': return userNamed(e.actorId)?.name || userNamed(e.actorId)?.email || t('audit.aUser');
    case 'superuser': return t('audit.superuser');
    case 'workflow': return t('audit.workflow', { name: (e.via || '').replace(/^workflow:/, '') });
    case 'import': return t('audit.import');
    default: return e.via ? `Relata (${e.via})` : 'Relata';
  }
}

// text renders one value of a change as plain text.
function text(v) {
  if (v === undefined || v === null || v === '') return '—';
  if (Array.isArray(v)) return v.length ? v.join(', ') : '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const verbs = { create: 'created', update: 'changed', delete: 'deleted', erase: 'erased personal data' };

function Changes({ entry, object }) {
  const o = objectNamed(object);
  const rows = Object.entries(entry.changes || {});
  if (!rows.length) return null;
  return html`<ul class="changes">${rows.map(([name, c]) => {
    const f = o?.fields.find((x) => x.name === name);
    const label = f ? fieldLabel(f) : name;
    if (c.redacted) return html`<li key=${name}><b>${label}</b> <span class="muted">${t('audit.notKept')}</span></li>`;
    if (entry.action === 'create') return html`<li key=${name}><b>${label}</b>: ${text(c.new)}</li>`;
    if (entry.action === 'delete') return html`<li key=${name}><b>${label}</b> ${t('audit.was', { value: text(c.old) })}</li>`;
    return html`<li key=${name}><b>${label}</b>: <s class="muted">${text(c.old)}</s> → ${text(c.new)}</li>`;
  })}</ul>`;
}

function Entries({ items, showRecord }) {
  return html`<ol class="history" data-testid="history">${items.map((e) => html`<li key=${e.id} class="history-entry" data-action=${e.action}>
    <div><b>${who(e)}</b> ${(verbs[e.action] && tLabel('audit.verb.' + e.action, verbs[e.action])) || e.action} ${showRecord
      ? html`<a href=${`#/record/${e.object}/${e.record}`}>${objectNamed(e.object) ? objectLabel(objectNamed(e.object), false) : e.object === 'users' ? t('audit.user') : e.object} ${e.record}</a>` : null}
      <span class="muted small" title=${e.at}> · ${formatDate(e.at, true)}</span></div>
    <${Changes} entry=${e} object=${e.object} />
  </li>`)}</ol>`;
}

// useTrail pages through an audit endpoint, newest first.
function useTrail(path) {
  const [items, setItems] = useState(null);
  const [next, setNext] = useState(0);
  const [error, setError] = useState('');
  const load = async (before = 0) => {
    try {
      const sep = path.includes('?') ? '&' : '?';
      const r = await relata(`${path}${sep}limit=50${before ? `&before=${before}` : ''}`);
      setItems((cur) => (before ? [...(cur || []), ...r.items] : r.items));
      setNext(r.next);
      setError('');
    } catch (err) {
      setError(errorMessage(err));
      setItems((cur) => cur || []);
    }
  };
  useEffect(() => { setItems(null); load(); }, [path]);
  return { items, next, error, more: () => load(next), reload: () => load() };
}

// RecordHistory is the History tab of a record page.
export function RecordHistory({ object, id, version }) {
  const trail = useTrail(`/audit/${object}/${id}`);
  useEffect(() => { if (version) trail.reload(); }, [version]);
  if (!trail.items) return html`<${Spinner} />`;
  return html`<div>
    <${ErrorBox} error=${trail.error} />
    ${trail.items.length ? html`<${Entries} items=${trail.items} />` : html`<p class="muted">${t('audit.noChanges')}</p>`}
    ${trail.next ? html`<button class="link" onClick=${trail.more}>${t('audit.older')}</button>` : null}
  </div>`;
}

// AuditPage is the admins' view of the whole trail.
export function AuditPage() {
  const [f, setF] = useState({ object: '', user: '', field: '', from: '', to: '' });
  const [applied, setApplied] = useState(f);
  const q = Object.entries(applied).filter(([, v]) => v).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  const trail = useTrail(`/audit${q ? '?' + q : ''}`);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  return html`<section>
    <header class="page-head"><h1>${t('audit.title')}</h1></header>
    <form class="filters panel" data-testid="audit-filters" onSubmit=${(e) => { e.preventDefault(); setApplied(f); }}>
      <label>${t('audit.object')} <select value=${f.object} onChange=${set('object')}>
        <option value="">${t('audit.all')}</option>
        ${allObjects().map((o) => html`<option key=${o.name} value=${o.name}>${objectLabel(o)}</option>`)}
        <option value="users">${t('audit.usersObject')}</option>
      </select></label>
      <label>${t('audit.user')} <select value=${f.user} onChange=${set('user')}>
        <option value="">${t('audit.anyone')}</option>
        ${allUsers().map((u) => html`<option key=${u.id} value=${u.id}>${u.name || u.email}</option>`)}
      </select></label>
      <label>${t('audit.field')} <input value=${f.field} onInput=${set('field')} placeholder=${t('audit.fieldPlaceholder')} /></label>
      <label>${t('audit.from')} <input type="date" value=${f.from} onInput=${set('from')} /></label>
      <label>${t('audit.to')} <input type="date" value=${f.to} onInput=${set('to')} /></label>
      <button class="primary" type="submit">${t('audit.filter')}</button>
    </form>
    <${ErrorBox} error=${trail.error} />
    ${!trail.items ? html`<${Spinner} />` : trail.items.length ? html`<div class="panel"><${Entries} items=${trail.items} showRecord=${true} /></div>`
      : html`<${Empty}>${t('audit.noMatch')}</${Empty}>`}
    ${trail.next ? html`<button class="link" onClick=${trail.more}>${t('audit.olderEntries')}</button>` : null}
  </section>`;
}
