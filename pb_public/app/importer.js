// The import wizard of every list, and the list's export. The wizard sends the file to the
// server, which maps its columns (by name, label and similarity), dry-runs the first rows and
// answers each cell's problem; the person corrects the mapping, may dry-run the whole file,
// then imports it as a job: a progress bar with live counts, a cancel button, and the failed
// rows as a CSV with the reason of each. Every cell is shown as text (htm escapes it).
import { useEffect, useRef, useState } from 'preact/hooks';
import { pb, relata, objectLabel, fieldLabel, errorMessage, userLocale } from './api.js';
import { html, Modal, ErrorBox, toast, recordHref } from './ui.js';
import { t } from './i18n.js';

// download fetches a file from one of Relata's endpoints with the user's token and saves it.
export async function download(path, name) {
  const res = await fetch('/api/relata' + path, { headers: { Authorization: pb.authStore.token } });
  if (!res.ok) {
    let msg = res.statusText;
    try { msg = (await res.json()).message || msg; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// exportList downloads the list as the user sees it: the same filter, sort and columns.
export function exportList(o, { filter, sort, columns, format }) {
  const q = new URLSearchParams({ format });
  if (filter) q.set('filter', filter);
  if (sort) q.set('sort', sort);
  if (columns?.length) q.set('fields', columns.join(','));
  return download(`/export/${encodeURIComponent(o.name)}?${q}`, `${o.name}.${format}`)
    .catch((err) => toast(t('import.exportFailed', { error: err.message }), 'error'));
}

const importable = (o) => o.fields.filter((f) => f.type !== 'file');

// ImportWizard: file and options → mapping and preview → job with progress → summary.
export function ImportWizard({ object: o, onClose, onDone }) {
  const [file, setFile] = useState(null);
  const [opts, setOpts] = useState({ key: '', mode: '', workflows: false, createMissing: false });
  const [preview, setPreview] = useState(null);
  const [mapping, setMapping] = useState(null); // heading -> field ('' skips)
  const [dry, setDry] = useState(null);
  const [job, setJob] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const timer = useRef(null);
  useEffect(() => () => clearTimeout(timer.current), []);

  const form = (extra = {}, m = mapping) => {
    const fd = new FormData();
    fd.append('file', file);
    for (const [k, v] of Object.entries({ ...opts, ...extra })) if (v !== '' && v !== false) fd.append(k, String(v));
    if (m) fd.append('mapping', JSON.stringify(m));
    return fd;
  };
  const run = async (f) => {
    setBusy(true);
    setError('');
    try { await f(); } catch (err) { setError(errorMessage(err)); } finally { setBusy(false); }
  };
  // loadPreview dry-runs the first rows with mapping m (null: the server's automatic one).
  const loadPreview = (m = mapping) => run(async () => {
    const p = await relata(`/import/${encodeURIComponent(o.name)}/preview`, { method: 'POST', body: form({}, m) });
    setPreview(p);
    if (!m) {
      const auto = {};
      for (const h of p.header) auto[h] = p.mapping[h] || '';
      setMapping(auto);
    }
    setDry(null);
  });
  const remap = (h, field) => {
    const m = { ...mapping, [h]: field };
    setMapping(m);
    loadPreview(m);
  };

  const dryRun = () => run(async () => {
    setDry(await relata(`/import/${encodeURIComponent(o.name)}`, { method: 'POST', body: form({ dryRun: true }) }));
  });
  const poll = async (batch) => {
    try {
      const j = await relata(`/import-jobs/${batch}`);
      setJob(j);
      if (j.status === 'running') timer.current = setTimeout(() => poll(batch), 400);
      else onDone?.();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const start = () => run(async () => {
    const r = await relata(`/import/${encodeURIComponent(o.name)}/start`, { method: 'POST', body: form() });
    setJob({ batch: r.batch, total: r.total, rows: 0, status: 'running', created: 0, updated: 0, unchanged: 0, failed: 0 });
    poll(r.batch);
  });
  const cancel = () => run(async () => { await relata(`/import-jobs/${job.batch}/cancel`, { method: 'POST' }); });
  const failedCSV = () => download(`/import-jobs/${job.batch}/failed`, `failed-${file?.name || 'import'}.csv`)
    .catch((err) => setError(err.message));

  const keyFields = o.fields.filter((f) => f.unique || f.type === 'email' || f.name === 'domain');
  const counts = (r) => t('import.counts', { created: r.created, updated: r.updated, unchanged: r.unchanged, failed: r.failed });

  return html`<${Modal} title=${t('import.title', { objects: objectLabel(o).toLowerCase() })} onClose=${onClose} wide>
    <div class="importer">
    ${!job ? html`
      <div class="form-grid">
        <label class="wide"><span>${t('import.file')}</span>
          <input type="file" id="import-file" accept=".csv,.tsv,.txt,.xlsx" onChange=${(e) => { setFile(e.target.files[0] || null); setPreview(null); setMapping(null); setDry(null); }} /></label>
        <label><span>${t('import.matchBy')}</span>
          <select id="import-key" value=${opts.key} onChange=${(e) => setOpts({ ...opts, key: e.target.value, mode: e.target.value ? opts.mode : '' })}>
            <option value="">${t('import.matchNothing')}</option>
            ${keyFields.map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}
          </select></label>
        ${opts.key ? html`<label><span>${t('import.rowsThatMatch')}</span>
          <select id="import-mode" value=${opts.mode} onChange=${(e) => setOpts({ ...opts, mode: e.target.value })}>
            <option value="">${t('import.upsert')}</option>
            <option value="update">${t('import.updateOnly')}</option>
            <option value="create">${t('import.createOnly')}</option>
          </select></label>` : null}
        <label class="checkbox"><span><input type="checkbox" id="import-workflows" checked=${opts.workflows}
          onChange=${(e) => setOpts({ ...opts, workflows: e.target.checked })} /> ${t('import.workflows')}</span></label>
        <label class="checkbox"><span><input type="checkbox" id="import-create-missing" checked=${opts.createMissing}
          onChange=${(e) => setOpts({ ...opts, createMissing: e.target.checked })} /> ${t('import.createMissing')}</span></label>
      </div>
      <div class="actions"><button id="import-preview" class=${preview ? '' : 'primary'} disabled=${!file || busy} onClick=${() => loadPreview()}>${preview ? t('import.previewAgain') : t('import.preview')}</button></div>
      ${preview && mapping ? html`
        <h3>${t('import.columns')}</h3>
        <table class="records import-map"><thead><tr><th>${t('import.column')}</th><th>${t('import.field')}</th></tr></thead><tbody>
          ${preview.header.map((h) => html`<tr key=${h}><td>${h}</td><td>
            <select data-column=${h} aria-label=${t('import.fieldFor', { column: h })} value=${mapping[h] || ''} onChange=${(e) => remap(h, e.target.value)}>
              <option value="">${t('import.skip')}</option>
              ${importable(o).map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}
            </select></td></tr>`)}
        </tbody></table>
        <h3>${t('import.firstRows')} <span class="muted">(${counts(preview)})</span></h3>
        <div class="table-wrap"><table class="records import-preview" data-testid="import-preview"><thead><tr><th>${t('import.row')}</th>
          ${preview.header.map((h) => html`<th key=${h}>${h}${mapping[h] ? html`<div class="muted">→ ${fieldLabel(o.fields.find((f) => f.name === mapping[h]) || { name: mapping[h] })}</div>` : html`<div class="muted">${t('import.skipped')}</div>`}</th>`)}
          <th>${t('import.problem')}</th></tr></thead>
          <tbody>${preview.rows.map((r) => html`<tr key=${r.row} class=${Object.keys(r.errors).length || r.error ? 'row-error' : ''}>
            <td>${r.row}</td>
            ${preview.header.map((h, i) => html`<td key=${h} class=${r.errors[h] ? 'cell-error' : ''} title=${r.errors[h] || ''}>${r.cells[i] ?? ''}
              ${r.errors[h] ? html`<div class="cell-message">${r.errors[h]}</div>` : null}</td>`)}
            <td class="error-cell">${r.error || ''}
              ${r.duplicates?.length ? html`<div class="dup-note" data-testid="import-duplicate">${t('import.mayDuplicate')}
                ${r.duplicates.map((d, i) => html`${i ? ', ' : ' '}<a href=${recordHref(o.name, d.id)} target="_blank" rel="noopener">${d.title || d.id}</a>`)}</div>` : null}</td></tr>`)}</tbody>
        </table></div>
        ${dry ? html`<p data-testid="import-dry-result">${t('import.dryResult', { counts: counts(dry) })}${opts.workflows ? ' ' + t('import.wouldQueue', { count: dry.runsQueued ?? 0 }) : ''}</p>` : null}
        <div class="actions">
          <button id="import-dry-run" disabled=${busy} onClick=${dryRun}>${t('import.dryRun')}</button>
          <button id="import-start" class="primary" disabled=${busy} onClick=${start}>${t('import.import')}</button>
        </div>` : null}
    ` : html`
      <p>${job.file || file?.name}: ${job.status === 'running' ? t('import.importing') : ({ done: t('import.status.done'), failed: t('import.status.failed'), cancelled: t('import.status.cancelled') })[job.status] || job.status}</p>
      <progress id="import-progress" max=${Math.max(1, job.total)} value=${job.rows}></progress>
      <p data-testid="import-counts">${t('import.progress', { rows: job.rows.toLocaleString(userLocale()), total: job.total.toLocaleString(userLocale()), counts: counts(job) })}</p>
      ${opts.workflows ? html`<p data-testid="import-runs">${t('import.runsQueued', { count: job.runsQueued ?? 0 })}</p>` : null}
      ${job.error ? html`<${ErrorBox} error=${job.error} />` : null}
      ${job.status === 'cancelled' ? html`<p class="muted">${t('import.stopped')}</p>` : null}
      ${job.duplicates ? html`<div class="warning" role="status" data-testid="import-duplicates">${t('import.duplicates', { n: job.duplicates.toLocaleString(userLocale()) })}
        <ul>${(job.duplicateSamples || []).map((d) => html`<li key=${d.id}><a href=${recordHref(o.name, d.id)}>${d.title || d.id}</a> ≈ <a href=${recordHref(o.name, d.existing)}>${d.existingTitle || d.existing}</a>
          <span class="muted small"> ${Math.round(d.score * 100)}%</span> <a href=${`#/merge/${encodeURIComponent(o.name)}/${encodeURIComponent(d.existing)}/${encodeURIComponent(d.id)}`}>${t('import.merge')}</a></li>`)}</ul></div>` : null}
      <div class="actions">
        ${job.status === 'running' ? html`<button id="import-cancel" onClick=${cancel}>${t('import.cancel')}</button>` : null}
        ${job.status !== 'running' && job.failed > 0 ? html`<button id="import-failed" onClick=${failedCSV}>${t('import.failedRows')}</button>` : null}
        ${job.status !== 'running' ? html`<button class="primary" id="import-close" onClick=${onClose}>${t('import.close')}</button>` : null}
      </div>`}
    <${ErrorBox} error=${error} />
    </div>
  </${Modal}>`;
}
