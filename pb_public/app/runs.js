// Run history: every workflow run with its status and error, and the steps of a run with
// their output; failed and dead runs can be queued again. Admins and managers only (the
// workflow_runs and workflow_steps collections' rules).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { pb, relata, objectNamed, titleOf, formatDate, subscribe, debounce, newest, errorMessage } from './api.js';
import { html, navigate, recordHref, Spinner, ErrorBox, Empty, Pill, toast } from './ui.js';
import { t } from './i18n.js';

const statuses = ['', 'pending', 'running', 'waiting', 'retry', 'succeeded', 'failed', 'dead', 'skipped', 'stopped'];

// statusName is a run's or a step's status in the current language (the record page's too).
export const statusName = (s) => ({
  pending: t('runs.st.pending'), running: t('runs.st.running'), waiting: t('runs.st.waiting'), retry: t('runs.st.retry'),
  succeeded: t('runs.st.succeeded'), failed: t('runs.st.failed'), dead: t('runs.st.dead'), skipped: t('runs.st.skipped'),
  stopped: t('runs.st.stopped'), done: t('runs.st.done'),
})[s] || s;
const perPage = 50;

export function Runs({ workflow }) {
  const [status, setStatus] = useState('');
  const [page, setPage] = useState(1);
  const [items, setItems] = useState(null);
  const [open, setOpen] = useState(null);
  const [error, setError] = useState('');
  const filter = [workflow && pb.filter('workflow_name = {:w}', { w: workflow }), status && pb.filter('status = {:s}', { s: status })].filter(Boolean).join(' && ');
  const [names, setNames] = useState({}); // "object/id" -> the record's title
  // Reloads (realtime events) ask with the current filter and page; only the newest answer shows.
  const current = useRef();
  current.current = { filter, page };
  const loader = useMemo(newest, []);
  const load = () => {
    const q = current.current;
    return loader(() => pb.collection('workflow_runs').getList(q.page, perPage, { filter: q.filter, sort: '-@rowid', skipTotal: true, fields: 'id,workflow_name,object,record_id,event,status,attempts,error,created,started,finished' }),
      (r) => { setItems(r.items); setError(''); loadNames(r.items); }, (err) => setError(errorMessage(err)));
  };
  // The records' names, read through the REST API (so with the reader's rules), one request per
  // object on the page.
  const loadNames = async (runs) => {
    const byObject = {};
    for (const r of runs) if (r.record_id && objectNamed(r.object)) (byObject[r.object] ||= new Set()).add(r.record_id);
    const found = {};
    await Promise.all(Object.entries(byObject).map(async ([object, ids]) => {
      const list = [...ids];
      const f = list.map((id, i) => `id = {:i${i}}`).join(' || ');
      const params = Object.fromEntries(list.map((id, i) => ['i' + i, id]));
      const res = await pb.collection(object).getList(1, list.length, { filter: pb.filter(f, params), skipTotal: true }).catch(() => ({ items: [] }));
      for (const rec of res.items) found[object + '/' + rec.id] = titleOf(objectNamed(object), rec);
    }));
    setNames(found);
  };
  useEffect(() => { load(); }, [filter, page]);
  useEffect(() => subscribe('workflow_runs', '*', debounce(load, 300)), [filter, page]);
  return html`<section class="runs-page">
    <header class="page-head"><h1>${t('nav.runs')}${workflow ? `: ${workflow}` : ''}</h1><div class="spacer"></div>
      ${workflow ? html`<button class="link" onClick=${() => navigate('/runs')}>${t('runs.allWorkflows')}</button>` : null}
      <select aria-label=${t('runs.status')} value=${status} onChange=${(e) => { setStatus(e.target.value); setPage(1); }}>
        ${statuses.map((s) => html`<option value=${s}>${s ? statusName(s) : t('runs.anyStatus')}</option>`)}</select>
    </header>
    <${ErrorBox} error=${error} />
    ${!items ? html`<${Spinner} />` : !items.length ? html`<${Empty}>${t('runs.none')}</${Empty}>` : html`
    <table class="records runs" data-testid="runs"><thead><tr><th>${t('record.workflow')}</th><th>${t('trash.record')}</th><th>${t('runs.event')}</th><th>${t('runs.status')}</th><th>${t('runs.started')}</th><th>${t('runs.error')}</th></tr></thead>
    <tbody>${items.map((r) => html`<${RunRow} key=${r.id} run=${r} name=${names[r.object + '/' + r.record_id]} open=${open === r.id} onToggle=${() => setOpen(open === r.id ? null : r.id)} onRetried=${load} />`)}</tbody></table>`}
    <footer class="pager">
      <button disabled=${page === 1} onClick=${() => setPage(page - 1)}>${t('runs.newer')}</button><span>${t('runs.page', { n: page })}</span>
      <button disabled=${!items || items.length < perPage} onClick=${() => setPage(page + 1)}>${t('runs.older')}</button>
    </footer>
  </section>`;
}

function RunRow({ run: r, name, open, onToggle, onRetried }) {
  const [steps, setSteps] = useState(null);
  useEffect(() => {
    if (!open) return;
    pb.collection('workflow_steps').getFullList({ filter: pb.filter('run = {:r}', { r: r.id }), sort: '@rowid' }).then(setSteps).catch(() => setSteps([]));
  }, [open, r.status]);
  const retry = async (e) => {
    e.stopPropagation();
    try {
      await relata(`/runs/${r.id}/retry`, { method: 'POST' });
      toast(t('runs.queued'));
      onRetried();
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
  };
  const o = objectNamed(r.object);
  return html`
    <tr class=${'run ' + r.status} onClick=${onToggle}>
      <td><a href=${'#/runs?workflow=' + encodeURIComponent(r.workflow_name)} onClick=${(e) => e.stopPropagation()}>${r.workflow_name}</a></td>
      <td>${r.record_id && o ? html`<a href=${recordHref(r.object, r.record_id)} onClick=${(e) => e.stopPropagation()}>${name || html`${o.label.singular} <span class="muted">${r.record_id}</span>`}</a>
        ${name ? html` <span class="muted small">${o.label.singular}</span>` : null}` : '—'}</td>
      <td>${r.event}</td>
      <td><${Pill} kind=${r.status}>${statusName(r.status)}</${Pill}>${r.attempts > 1 ? html` <span class="muted small">${t('runs.attempts', { n: r.attempts })}</span>` : null}</td>
      <td>${formatDate(r.started || r.created, true)}</td>
      <td class="error-cell">${r.error}${r.status === 'failed' || r.status === 'dead' ? html` <button class="small" onClick=${retry}>${t('runs.retry')}</button>` : null}</td>
    </tr>
    ${open ? html`<tr class="steps-row"><td colspan="6">${!steps ? html`<${Spinner} />` : !steps.length ? html`<span class="muted">${t('runs.noSteps')}</span>` : html`
      <ol class="steps">${steps.map((s) => html`<li key=${s.id}><b>${s.action}</b> <span class="muted">${t('runs.step', { path: s.path })}</span> <${Pill} kind=${s.status}>${statusName(s.status)}</${Pill}>
        ${s.error ? html`<div class="error small">${s.error}</div>` : null}
        ${s.output ? html`<pre class="json small">${JSON.stringify(s.output, null, 2)}</pre>` : null}</li>`)}</ol>`}</td></tr>` : null}`;
}
