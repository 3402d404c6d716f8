// Bulk actions on a list: update a field, add or remove tags, change owner or delete, on the
// ticked records or on every record matching the list's filter. The server runs them as one
// job, each record under the user's own access rules (records they may not change are counted
// with the reason, never touched); this dialog previews the counts (a dry run), then starts
// the job and shows its progress, polled, with a cancel button.
import { useEffect, useRef, useState } from 'preact/hooks';
import { relata, fieldLabel, objectLabel, errorMessage, userLocale } from './api.js';
import { html, Modal, ErrorBox, toast } from './ui.js';
import { FieldEditor } from './fields.js';
import { t } from './i18n.js';

const actions = [
  ['update', 'bulk.update'],
  ['addTags', 'bulk.addTags'],
  ['removeTags', 'bulk.removeTags'],
  ['owner', 'bulk.owner'],
  ['delete', 'bulk.delete'],
];

const tagField = (f) => f.type === 'tags' || (f.type === 'select' && f.multiple);
const editable = (f) => !['file', 'json'].includes(f.type) && f.name !== 'last_touched' && f.type !== 'owner';

// JobProgress shows a job's counts as a bar and words; used by the reassignment screen too.
export function JobProgress({ job }) {
  if (!job) return null;
  const pct = job.total ? Math.round((100 * job.processed) / job.total) : 100;
  const reasons = Object.entries(job.reasons || {});
  return html`<div class="job" data-testid="job" data-kind=${job.kind} data-status=${job.status} data-dry=${job.dryRun ? 'true' : 'false'}>
    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax=${job.total} aria-valuenow=${job.processed}>
      <span style=${{ width: pct + '%' }}></span></div>
    <p data-testid="job-counts">${job.dryRun ? t('bulk.dryRun') + ' ' : ''}${t(job.dryRun ? 'bulk.countsDry' : 'bulk.counts', { processed: job.processed.toLocaleString(userLocale()), total: job.total.toLocaleString(userLocale()), changed: job.changed.toLocaleString(userLocale()), unchanged: job.unchanged.toLocaleString(userLocale()), refused: job.refused.toLocaleString(userLocale()), failed: job.failed.toLocaleString(userLocale()) })}${job.status === 'running' ? '' : html` <b>(${job.status})</b>`}</p>
    ${reasons.length ? html`<ul class="reasons" data-testid="job-reasons">${reasons.map(([r, n]) => html`<li key=${r}>${n.toLocaleString(userLocale())} × ${r}</li>`)}</ul>` : null}
    ${job.error ? html`<div class="error" role="alert">${job.error}</div>` : null}
  </div>`;
}

// useJob polls a running job every half second until it stops; it returns the job and a cancel.
export function useJob(initial, onFinished) {
  const [job, setJob] = useState(initial);
  const timer = useRef();
  useEffect(() => {
    setJob(initial);
    if (!initial || initial.status !== 'running') return undefined;
    const poll = async () => {
      try {
        const j = await relata(`/bulk/${encodeURIComponent(initial.id)}`);
        setJob(j);
        if (j.status === 'running') timer.current = setTimeout(poll, 500);
        else if (onFinished) onFinished(j);
      } catch (err) {
        toast(errorMessage(err), 'error');
      }
    };
    timer.current = setTimeout(poll, 300);
    return () => clearTimeout(timer.current);
  }, [initial?.id]);
  const cancel = () => relata(`/bulk/${encodeURIComponent(job.id)}/cancel`, { method: 'POST' }).catch((err) => toast(errorMessage(err), 'error'));
  return [job, cancel];
}

// UndoJob offers to undo a finished bulk job or reassignment (for 30 days, server-checked):
// the undo is itself a job, shown through onStarted. A bulk delete links to the trash instead.
export function UndoJob({ job, onStarted }) {
  const [busy, setBusy] = useState(false);
  if (!job || job.status === 'running' || job.dryRun || job.kind === 'undo' || !job.changed) return null;
  if (job.action === 'delete') return html`<a class="button" data-testid="bulk-trash" href="#/trash">${t('bulk.restoreFromTrash')}</a>`;
  const undo = async () => {
    setBusy(true);
    try {
      onStarted(await relata(`/bulk/${encodeURIComponent(job.id)}/undo`, { method: 'POST' }));
    } catch (err) {
      toast(errorMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  return html`<button data-testid="bulk-undo" disabled=${busy} title=${t('bulk.undoTitle')} onClick=${undo}>${t('bulk.undo')}</button>`;
}

// BulkDialog: ids are the ticked records, filter and total the list's current filter and count.
export function BulkDialog({ object: o, ids: picked, filter, total, onClose, onDone }) {
  const [ids] = useState(picked); // the selection when the dialog opened (onDone clears the list's)
  const [scope, setScope] = useState(ids.length ? 'selected' : 'all');
  const [action, setAction] = useState('update');
  const fields = o.fields.filter(editable);
  const tagFields = o.fields.filter(tagField);
  const [field, setField] = useState(fields[0]?.name || '');
  const [tagsField, setTagsField] = useState(tagFields[0]?.name || '');
  const [value, setValue] = useState('');
  const [tags, setTags] = useState('');
  const [preview, setPreview] = useState(null);
  const [started, setStarted] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [job, cancel] = useJob(started, (j) => {
    toast(j.refused + j.failed ? t('bulk.doneSome', { action: j.action, changed: j.changed, not: j.refused + j.failed }) : t('bulk.done', { action: j.action, changed: j.changed }));
    if (onDone) onDone(j);
  });
  const owner = o.fields.find((f) => f.type === 'owner');
  const f = o.fields.find((x) => x.name === field);
  const body = (dryRun) => {
    const b = { action, dryRun };
    if (scope === 'selected') b.ids = ids; else { b.all = true; b.filter = filter; }
    if (action === 'update') { b.field = field; b.value = value; }
    if (action === 'addTags' || action === 'removeTags') { b.field = tagsField; b.tags = tags.split(/[;,]/).map((t) => t.trim()).filter(Boolean); }
    if (action === 'owner') b.value = value;
    return b;
  };
  const send = async (dryRun) => {
    setBusy(true);
    setError('');
    try {
      const j = await relata(`/bulk/${encodeURIComponent(o.name)}`, { method: 'POST', body: body(dryRun) });
      if (dryRun) setPreview(j); else setStarted(j);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const change = (fn) => (v) => { fn(v); setPreview(null); };
  const running = job && job.status === 'running';
  return html`<${Modal} title=${t('bulk.title', { objects: objectLabel(o).toLowerCase() })} onClose=${running ? () => {} : onClose} wide>
    <div class="form-grid bulk" data-testid="bulk-dialog">
      <label class="wide"><span>${t('bulk.records')}</span>
        <select data-testid="bulk-scope" value=${scope} disabled=${!!started} onChange=${(e) => change(setScope)(e.target.value)}>
          ${ids.length ? html`<option value="selected">${t('bulk.theSelected', { count: ids.length })}</option>` : null}
          <option value="all">${total != null ? t('bulk.allMatchingN', { n: total.toLocaleString(userLocale()) }) : t('bulk.allMatching')}</option>
        </select></label>
      <label><span>${t('bulk.action')}</span>
        <select data-testid="bulk-action" value=${action} disabled=${!!started} onChange=${(e) => { change(setAction)(e.target.value); setValue(''); }}>
          ${actions.filter(([a]) => (a !== 'owner' || owner) && (!a.endsWith('Tags') || tagFields.length)).map(([a, l]) => html`<option value=${a}>${t(l)}</option>`)}
        </select></label>
      ${action === 'update' ? html`<label><span>${t('bulk.field')}</span>
        <select data-testid="bulk-field" value=${field} disabled=${!!started} onChange=${(e) => { change(setField)(e.target.value); setValue(''); }}>
          ${fields.map((x) => html`<option value=${x.name}>${fieldLabel(x)}</option>`)}</select></label>
        <label class="wide" data-testid="bulk-value"><span>${t('bulk.newValue')}</span>
          ${f ? html`<${FieldEditor} key=${field} object=${o} field=${{ ...f, required: false }} value=${value} onChange=${change(setValue)} />` : null}</label>` : null}
      ${action === 'addTags' || action === 'removeTags' ? html`<label><span>${t('bulk.field')}</span>
        <select value=${tagsField} onChange=${(e) => change(setTagsField)(e.target.value)}>${tagFields.map((x) => html`<option value=${x.name}>${fieldLabel(x)}</option>`)}</select></label>
        <label class="wide"><span>${t('bulk.tags')}</span><input data-testid="bulk-tags" value=${tags} onInput=${(e) => change(setTags)(e.target.value)} /></label>` : null}
      ${action === 'owner' ? html`<label class="wide" data-testid="bulk-owner"><span>${t('bulk.newOwner')}</span>
        <${FieldEditor} object=${o} field=${{ ...owner, required: false }} value=${value} onChange=${change(setValue)} /></label>` : null}
      ${action === 'delete' ? html`<p class="wide muted">${t('bulk.deleteNote')}</p>` : null}
      <${ErrorBox} error=${error} />
      <div class="wide">${job ? html`<${JobProgress} job=${job} />` : preview ? html`<${JobProgress} job=${preview} />` : null}</div>
      <div class="actions wide">
        ${running ? html`<button data-testid="bulk-cancel" onClick=${cancel}>${t('reassign.cancelJob')}</button>`
          : job ? html`<${UndoJob} job=${job} onStarted=${setStarted} /><button class="primary" onClick=${onClose}>${t('common.close')}</button>`
          : html`<button type="button" onClick=${onClose}>${t('common.cancel')}</button>
            <button data-testid="bulk-preview" disabled=${busy} onClick=${() => send(true)}>${t('reassign.preview')}</button>
            <button class=${action === 'delete' ? 'danger' : 'primary'} data-testid="bulk-run" disabled=${busy || !preview || !preview.changed}
              title=${preview ? '' : t('bulk.previewFirst')} onClick=${() => send(false)}>${t(action === 'delete' ? 'bulk.deleteTo' : 'bulk.applyTo', { n: preview ? preview.changed.toLocaleString(userLocale()) : '…' })}</button>`}
      </div>
    </div>
  </${Modal}>`;
}
