// Reassign a departing rep: every deal, contact, company and open task they own goes to one
// rep, or round robin to several, in one job. The counts per object are previewed (a dry run)
// before anything changes. Managers and admins only (the server decides; the menu hides it).
import { useState } from 'preact/hooks';
import { relata, allUsers, errorMessage, userLocale } from './api.js';
import { html, ErrorBox, toast } from './ui.js';
import { JobProgress, UndoJob, useJob } from './bulk.js';
import { t } from './i18n.js';

const objectChoices = [['deals', 'object.deals.plural'], ['contacts', 'object.contacts.plural'], ['companies', 'object.companies.plural'], ['tasks', 'reassign.openTasks']];

const who = (u) => (u ? `${u.name || u.email}${u.email && u.name !== u.email ? ` <${u.email}>` : ''}` : '');

export function ReassignPage() {
  const users = allUsers();
  const [from, setFrom] = useState('');
  const [to, setTo] = useState([]);
  const [objects, setObjects] = useState(objectChoices.map(([o]) => o));
  const [preview, setPreview] = useState(null);
  const [started, setStarted] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [job, cancel] = useJob(started, (j) => toast(j.refused + j.failed ? t('reassign.doneSome', { count: j.changed.toLocaleString(userLocale()), not: j.refused + j.failed }) : t('reassign.done', { count: j.changed })));
  const reset = (fn) => (v) => { fn(v); setPreview(null); setStarted(null); };
  const toggle = (list, x, on) => (on ? [...list.filter((y) => y !== x), x] : list.filter((y) => y !== x));
  const send = async (dryRun) => {
    setBusy(true);
    setError('');
    try {
      const r = await relata('/reassign', { method: 'POST', body: { from, to, objects, dryRun } });
      setPreview(r.preview);
      if (!dryRun) setStarted(r.job);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const running = job && job.status === 'running';
  return html`<section class="reassign-page" data-testid="reassign">
    <header class="page-head"><h1>${t('reassign.title')}</h1>
      <span class="muted">${t('reassign.note')}</span></header>
    <div class="form-grid">
      <label><span>${t('reassign.from')}</span>
        <select data-testid="reassign-from" value=${from} disabled=${running} onChange=${(e) => { reset(setFrom)(e.target.value); setTo(to.filter((x) => x !== e.target.value)); }}>
          <option value="">—</option>
          ${users.map((u) => html`<option key=${u.id} value=${u.id}>${who(u)}</option>`)}
        </select></label>
      <fieldset class="wide"><legend>${t('reassign.to')}</legend>
        <div class="column-choice">${users.filter((u) => u.id !== from).map((u) => html`<label key=${u.id}><input type="checkbox" data-testid="reassign-to" data-id=${u.id}
          disabled=${running} checked=${to.includes(u.id)} onChange=${(e) => reset(setTo)(toggle(to, u.id, e.target.checked))} /> ${who(u)}</label>`)}</div>
      </fieldset>
      <fieldset class="wide"><legend>${t('reassign.what')}</legend>
        <div class="column-choice">${objectChoices.map(([o, l]) => html`<label key=${o}><input type="checkbox" data-testid="reassign-object" data-object=${o}
          disabled=${running} checked=${objects.includes(o)} onChange=${(e) => reset(setObjects)(toggle(objects, o, e.target.checked))} /> ${t(l)}</label>`)}</div>
      </fieldset>
      <${ErrorBox} error=${error} />
      ${preview ? html`<div class="wide" data-testid="reassign-preview">
        <table class="records compact"><thead><tr><th>${t('reassign.recordsOf', { name: who(users.find((u) => u.id === preview.from.id)) || preview.from.email })}</th><th>${t('dash.count')}</th></tr></thead>
          <tbody>${preview.objects.map((o) => html`<tr key=${o.object} data-object=${o.object}><td>${o.label}</td><td class="num">${o.count.toLocaleString(userLocale())}</td></tr>`)}
          <tr><td><b>${t('board.total')}</b></td><td class="num"><b data-testid="reassign-total">${preview.total.toLocaleString(userLocale())}</b></td></tr></tbody></table>
        <p class="muted">${preview.to.map((p) => `${p.name || p.email}: ${(preview.shares[p.id] || 0).toLocaleString(userLocale())}`).join(' · ')}</p>
      </div>` : null}
      <div class="wide"><${JobProgress} job=${job} /></div>
      <div class="actions wide">
        ${running ? html`<button data-testid="bulk-cancel" onClick=${cancel}>${t('reassign.cancelJob')}</button>` : html`
          <${UndoJob} job=${job} onStarted=${setStarted} />
          <button data-testid="reassign-preview-button" disabled=${busy || !from || !to.length || !objects.length} onClick=${() => send(true)}>${t('reassign.preview')}</button>
          <button class="primary" data-testid="reassign-run" disabled=${busy || !preview || !preview.total || !!job}
            onClick=${() => send(false)}>${t('reassign.run', { count: preview ? preview.total.toLocaleString(userLocale()) : '' })}</button>`}
      </div>
    </div>
  </section>`;
}
