// The privacy page for admins: answer a person's access request (download their data) and
// erasure request (with confirmation), see the register of requests with their 30-day
// deadline, the retention policies with their last run and a preview of the next, and
// consent counts — a compliance report to print.
import { useEffect, useState } from 'preact/hooks';
import { pb, relata, formatDate, errorMessage } from './api.js';
import { html, Spinner, ErrorBox, Modal, toast } from './ui.js';
import { t, tx } from './i18n.js';

async function download(subject) {
  const res = await fetch('/api/relata/privacy/export', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: pb.authStore.token },
    body: JSON.stringify(subject),
  });
  if (!res.ok) throw new Error((await res.json()).message || res.statusText);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = 'personal-data.zip';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function subjectOf(kind, value) {
  return kind === 'phone' ? { phone: value } : kind === 'record' ? { recordId: value } : { email: value };
}

function Requests({ version }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    pb.collection('privacy_requests').getList(1, 100, { sort: '-requested_at' })
      .then((r) => setItems(r.items)).catch((err) => { setError(errorMessage(err)); setItems([]); });
  }, [version]);
  if (!items) return html`<${Spinner} />`;
  return html`<div><${ErrorBox} error=${error} />
    <table class="grid" data-testid="privacy-requests"><thead><tr><th>${t('privacy.kind')}</th><th>${t('privacy.status')}</th><th>${t('privacy.requested')}</th><th>${t('privacy.due')}</th><th>${t('privacy.completed')}</th><th>${t('privacy.what')}</th></tr></thead>
    <tbody>${items.map((r) => {
      const late = r.status === 'open' && r.due_at && new Date(r.due_at) < new Date();
      const c = r.certificate || {};
      const what = r.kind === 'erasure'
        ? t('privacy.erasedWhat', { deleted: Object.entries(c.deleted || {}).map(([k, n]) => `${n} ${k}`).join(', ') || t('privacy.nothing'), scrubbed: Object.values(c.scrubbed || {}).reduce((a, b) => a + b, 0), audit: c.auditErased || 0 })
        : t('privacy.foundWhat', { found: Object.entries(c.found || {}).map(([k, n]) => `${n} ${k}`).join(', ') || t('privacy.nothing') });
      const kinds = { erasure: t('privacy.kind.erasure'), export: t('privacy.kind.export') };
      const statuses = { open: t('privacy.status.open'), done: t('privacy.status.done') };
      return html`<tr key=${r.id}><td>${kinds[r.kind] || r.kind}</td><td class=${late ? 'rot-text' : ''}>${statuses[r.status] || r.status}</td><td>${formatDate(r.requested_at, true)}</td>
        <td>${formatDate(r.due_at)}</td><td>${formatDate(r.completed_at, true)}</td><td class="small">${what}</td></tr>`;
    })}</tbody></table>
    ${items.length ? null : html`<p class="muted">${t('privacy.none')}</p>`}</div>`;
}

function Policies({ version }) {
  const [items, setItems] = useState(null);
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    pb.collection('retention_policies').getFullList({ sort: 'name' }).then(setItems).catch((err) => { setError(errorMessage(err)); setItems([]); });
    relata('/privacy/retention').then((r) => setPreview(Object.fromEntries((r.outcomes || []).map((o) => [o.policy, o])))).catch(() => {});
  }, [version]);
  if (!items) return html`<${Spinner} />`;
  return html`<div><${ErrorBox} error=${error} />
    <table class="grid" data-testid="retention-policies"><thead><tr><th>${t('privacy.policy')}</th><th>${t('privacy.on')}</th><th>${t('privacy.lastRun')}</th><th>${t('privacy.lastResult')}</th><th>${t('privacy.dueNow')}</th></tr></thead>
    <tbody>${items.map((p) => html`<tr key=${p.id}><td>${p.name}</td><td>${p.enabled ? t('privacy.yes') : t('privacy.no')}</td>
      <td>${p.last_run_at ? formatDate(p.last_run_at, true) : t('privacy.never')}</td>
      <td class="small">${p.last_report ? t('privacy.doneOf', { done: p.last_report.done, matched: p.last_report.matched }) + (p.last_report.error ? ' — ' + p.last_report.error : '') : ''}</td>
      <td>${p.enabled ? preview?.[p.name]?.matched ?? '…' : '—'}</td></tr>`)}</tbody></table>
    <p class="muted small">${tx('privacy.policiesRun', { dashboard: html`<a href="/_/#/collections?collection=retention_policies">${t('privacy.dashboard')}</a>` })}</p></div>`;
}

function Consents() {
  const [counts, setCounts] = useState(null);
  useEffect(() => {
    // Counted by the server in one query (reading every consent to count them took a request
    // per 500 consents).
    relata('/privacy/consents').then((r) => {
      setCounts(Object.fromEntries((r.forms || []).map((f) => [f.form, f.count])));
    }).catch(() => setCounts({}));
  }, []);
  if (!counts) return html`<${Spinner} />`;
  const rows = Object.entries(counts);
  return rows.length ? html`<table class="grid"><thead><tr><th>${t('privacy.givenThrough')}</th><th>${t('privacy.consents')}</th></tr></thead>
    <tbody>${rows.map(([f, n]) => html`<tr key=${f}><td>${f}</td><td>${n}</td></tr>`)}</tbody></table>` : html`<p class="muted">${t('privacy.noConsents')}</p>`;
}

// certificateText sums up an erasure certificate in a sentence.
function certificateText(cert) {
  const deleted = Object.entries(cert.deleted || {}).map(([k, n]) => t('privacy.fromObject', { n, object: k })).join(', ') || t('privacy.noOwnRecords');
  const scrubbed = Object.values(cert.scrubbed || {}).reduce((a, b) => a + b, 0);
  return t('privacy.certificate', { request: cert.request, deleted, scrubbed, audit: cert.auditErased, note: cert.note || '' }).trim();
}

export function PrivacyPage() {
  const [kind, setKind] = useState('email');
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [version, setVersion] = useState(0);
  const [cert, setCert] = useState(null);
  const exportData = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      await download(subjectOf(kind, value.trim()));
      toast(t('privacy.downloaded'));
      setVersion(version + 1);
    } catch (err) {
      toast(errorMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  const erase = async () => {
    setBusy(true);
    try {
      setCert(await relata('/privacy/erase', { method: 'POST', body: { ...subjectOf(kind, value.trim()), confirm: true } }));
      setConfirm(false);
      setValue('');
      setVersion(version + 1);
    } catch (err) {
      toast(errorMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="privacy-page">
    <header class="page-head"><h1>${t('privacy.title')}</h1><div class="spacer"></div>
      <button onClick=${() => window.print()}>${t('privacy.print')}</button></header>
    <div class="panel">
      <h2>${t('privacy.request')}</h2>
      <form class="filters" onSubmit=${exportData} data-testid="privacy-request">
        <select value=${kind} onChange=${(e) => setKind(e.target.value)}>
          <option value="email">${t('privacy.email')}</option><option value="phone">${t('privacy.phone')}</option><option value="record">${t('privacy.recordId')}</option>
        </select>
        <input required value=${value} onInput=${(e) => setValue(e.target.value)} placeholder="ada@example.com" />
        <button class="primary" type="submit" disabled=${busy}>${t('privacy.download')}</button>
        <button type="button" class="danger" disabled=${busy || !value.trim()} onClick=${() => setConfirm(true)}>${t('privacy.erase')}</button>
      </form>
      <p class="muted small">${t('privacy.downloadNote')}</p>
      ${cert ? html`<div class="notice" data-testid="erasure-certificate">${certificateText(cert)}</div>` : null}
    </div>
    ${confirm ? html`<${Modal} title=${t('privacy.eraseTitle')} onClose=${() => setConfirm(false)}>
      <p>${tx('privacy.eraseText', { who: html`<b>${value}</b>` })}</p>
      <div class="actions"><button onClick=${() => setConfirm(false)}>${t('privacy.cancel')}</button>
        <button class="danger" data-testid="confirm-erase" disabled=${busy} onClick=${erase}>${t('privacy.eraseButton')}</button></div>
    </${Modal}>` : null}
    <div class="panel"><h2>${t('privacy.requests')}</h2><p class="muted small">${t('privacy.answerWithin')}</p><${Requests} version=${version} /></div>
    <div class="panel"><h2>${t('privacy.retention')}</h2><${Policies} version=${version} /></div>
    <div class="panel"><h2>${t('privacy.consents')}</h2><${Consents} /></div>
  </section>`;
}
