// The trash: records deleted in the last 30 days that the user could see, newest first, each
// restorable with its id, fields and links (Relata's trash API decides who sees what).
import { useEffect, useState } from 'preact/hooks';
import { relata, objectNamed, objectLabel, userNamed, formatDate, errorMessage } from './api.js';
import { html, navigate, recordHref, Spinner, ErrorBox, Empty, toast } from './ui.js';
import { t } from './i18n.js';

// deletedBy names who deleted an entry: a user by name (their id when no longer listed), a
// superuser, a workflow or an import by kind, the rest as the system.
function deletedBy(it) {
  if (it.deletedBy && it.deletedByKind === 'user') return userNamed(it.deletedBy)?.name || it.deletedBy;
  switch (it.deletedByKind) {
    case 'superuser': return t('trash.superuser');
    case 'workflow': return t('trash.workflow');
    case 'import': return t('trash.import');
    default: return t('trash.system');
  }
}

export function TrashPage() {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState('');
  const load = () => relata('/trash').then((r) => { setItems(r.items); setError(''); }).catch((err) => setError(errorMessage(err)));
  useEffect(() => { load(); }, []);
  const restore = async (it) => {
    setBusy(it.id);
    try {
      const r = await relata(`/trash/${encodeURIComponent(it.id)}/restore`, { method: 'POST' });
      toast(t('trash.restored', { title: it.title || it.record }));
      navigate(recordHref(r.object, r.id).slice(1));
    } catch (err) {
      toast(errorMessage(err), 'error');
      load();
    } finally {
      setBusy('');
    }
  };
  return html`<section class="trash-page">
    <header class="page-head"><h1>${t('nav.trash')}</h1><span class="muted">${t('trash.note')}</span></header>
    <${ErrorBox} error=${error} />
    ${!items ? html`<${Spinner} />` : !items.length ? html`<${Empty}>${t('trash.empty')}</${Empty}>` : html`
    <div class="table-wrap"><table class="records trash" data-testid="trash">
      <thead><tr><th>${t('trash.record')}</th><th>${t('trash.deletedBy')}</th><th>${t('trash.deleted')}</th><th>${t('trash.restoreUntil')}</th><th></th></tr></thead>
      <tbody>${items.map((it) => {
        const o = objectNamed(it.object);
        return html`<tr key=${it.id} data-record=${it.record}>
          <td><b>${it.title || it.record}</b> <span class="muted small">${o ? objectLabel(o, false) : it.object}</span></td>
          <td>${deletedBy(it)}</td>
          <td>${formatDate(it.deletedAt, true)}</td>
          <td>${formatDate(it.expiresAt)}</td>
          <td><button data-testid="restore" disabled=${busy === it.id} onClick=${() => restore(it)}>${t('trash.restore')}</button></td>
        </tr>`;
      })}</tbody></table></div>`}
  </section>`;
}
