// Incoming webhooks (admins): signed posts from other systems that create or update records
// of one object through a mapping of JSON pointers, as a chosen user (see schemas/webhooks).
// The signing secret is shown once, when made.
import { useEffect, useState } from 'preact/hooks';
import { pb, relata, allObjects, objectNamed, objectLabel, fieldLabel, allUsers, userNamed, formatDate, errorMessage } from './api.js';
import { html, Spinner, ErrorBox, Empty, toast } from './ui.js';
import { t } from './i18n.js';

const blank = () => ({ name: '', slug: '', object: allObjects()[0]?.name || '', mode: 'upsert', key: '', mapping: [{ field: '', pointer: '' }], run_as: '', max_per_day: '', enabled: true });

export function WebhooksPage() {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  const [form, setForm] = useState(blank());
  const [secret, setSecret] = useState(null); // { name, url, secret } just made
  const [busy, setBusy] = useState(false);
  const load = () => pb.collection('incoming_webhooks').getFullList({ sort: 'name' })
    .then((r) => { setItems(r); setError(''); }).catch((err) => setError(errorMessage(err)));
  useEffect(() => { load(); }, []);
  const o = objectNamed(form.object);
  const fields = o ? o.fields : [];
  const newSecret = async (w) => {
    try {
      const r = await relata(`/webhooks/${encodeURIComponent(w.id)}/secret`, { method: 'POST' });
      setSecret({ name: w.name, url: location.origin + r.url, secret: r.secret });
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
  };
  const create = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const mapping = Object.fromEntries(form.mapping.filter((m) => m.field).map((m) => [m.field, m.pointer]));
      const w = await pb.collection('incoming_webhooks').create({ ...form, mapping, key: form.mode === 'create' ? '' : form.key });
      setForm(blank());
      await load();
      await newSecret(w);
    } catch (err) {
      const data = err.response?.data || {};
      toast(err.response?.message || errorMessage(err), 'error');
      setError(Object.entries(data).map(([k, v]) => `${k}: ${v.message}`).join('\n'));
    } finally {
      setBusy(false);
    }
  };
  const toggle = async (w) => {
    try {
      await pb.collection('incoming_webhooks').update(w.id, { enabled: !w.enabled });
      load();
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
  };
  const setRow = (i, patch) => setForm((f) => ({ ...f, mapping: f.mapping.map((m, j) => (j === i ? { ...m, ...patch } : m)) }));
  return html`<section class="tokens-page webhooks-page">
    <header class="page-head"><h1>${t('webhooks.title')}</h1>
      <span class="muted">${t('webhooks.intro')}</span></header>
    ${secret ? html`<div class="card token-made" data-testid="webhook-secret">
      <p><b>${t('webhooks.secretOf', { name: secret.name })}</b> ${t('webhooks.copyNow')} <code>${secret.url}</code>
        ${t('webhooks.with')} <code>X-Relata-Timestamp</code> ${t('webhooks.unixSeconds')} <code>X-Relata-Signature: sha256=HMAC(secret, timestamp + "." + body)</code>.</p>
      <code class="token" data-testid="webhook-secret-value">${secret.secret}</code>
      <button type="button" onClick=${() => navigator.clipboard?.writeText(secret.secret).then(() => toast(t('webhooks.copied')))}>${t('webhooks.copy')}</button>
      <button type="button" class="link" onClick=${() => setSecret(null)}>${t('webhooks.done')}</button>
    </div>` : null}
    <div class="card">
      <h2>${t('webhooks.new')}</h2>
      <form class="token-form" onSubmit=${create} data-testid="webhook-form">
        <label>${t('webhooks.name')} <input id="webhook-name" required value=${form.name} onInput=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, name: v })); }} /></label>
        <label>${t('webhooks.slug')} <input id="webhook-slug" required pattern="[a-z0-9][a-z0-9\\-]*" placeholder="shop-signups" value=${form.slug} onInput=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, slug: v })); }} /></label>
        <label>${t('webhooks.object')} <select id="webhook-object" value=${form.object} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, object: v, key: '', mapping: [{ field: '', pointer: '' }] })); }}>
          ${allObjects().map((x) => html`<option value=${x.name}>${objectLabel(x)}</option>`)}</select></label>
        <label>${t('webhooks.mode')} <select id="webhook-mode" value=${form.mode} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, mode: v })); }}>
          <option value="create">${t('webhooks.modeCreate')}</option><option value="upsert">${t('webhooks.modeUpsert')}</option><option value="update">${t('webhooks.modeUpdate')}</option></select></label>
        ${form.mode !== 'create' ? html`<label>${t('webhooks.key')} <select id="webhook-key" required value=${form.key} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, key: v })); }}>
          <option value="">—</option>${fields.map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}</select></label>` : null}
        <label>${t('webhooks.actsAs')} <select id="webhook-runas" required value=${form.run_as} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, run_as: v })); }}>
          <option value="">—</option>${allUsers().map((u) => html`<option value=${u.id}>${u.name || u.email}</option>`)}</select></label>
        <label>${t('webhooks.maxPerDay')} <input id="webhook-max" type="number" min="0" max="100000" step="1" placeholder="10000" value=${form.max_per_day} onInput=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, max_per_day: v })); }} /></label>
        <fieldset data-testid="webhook-mapping"><legend>${t('webhooks.mapping')}</legend>
          ${form.mapping.map((m, i) => html`<div class="mapping-row" key=${i}>
            <select value=${m.field} onChange=${(e) => setRow(i, { field: e.target.value, pointer: m.pointer || '/' + e.target.value })}>
              <option value="">—</option>${fields.map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}</select>
            <input placeholder="/customer/email" value=${m.pointer} onInput=${(e) => setRow(i, { pointer: e.target.value })} />
          </div>`)}
          <button type="button" onClick=${() => setForm((f) => ({ ...f, mapping: [...f.mapping, { field: '', pointer: '' }] }))}>${t('webhooks.addField')}</button>
        </fieldset>
        <button class="primary" type="submit" disabled=${busy}>${t('webhooks.make')}</button>
      </form>
      <${ErrorBox} error=${error} />
    </div>
    <div class="card">
      ${!items ? html`<${Spinner} />` : !items.length ? html`<${Empty}>${t('webhooks.none')}</${Empty}>` : html`
      <div class="table-wrap"><table class="records" data-testid="webhooks">
        <thead><tr><th>${t('webhooks.name')}</th><th>${t('webhooks.url')}</th><th>${t('webhooks.writes')}</th><th>${t('webhooks.as')}</th><th>${t('webhooks.received')}</th><th>${t('webhooks.failed')}</th><th>${t('webhooks.last')}</th><th></th></tr></thead>
        <tbody>${items.map((w) => html`<tr key=${w.id}>
          <td><b>${w.name}</b>${w.enabled ? null : html` <span class="pill">${t('webhooks.off')}</span>`}</td>
          <td><code>/api/relata/hooks/${w.slug}</code></td>
          <td>${objectNamed(w.object) ? objectLabel(objectNamed(w.object)) : w.object} (${w.key ? t('webhooks.by', { mode: w.mode, key: w.key }) : w.mode})</td>
          <td>${userNamed(w.run_as)?.name || w.run_as}</td>
          <td>${w.received || 0}</td>
          <td title=${w.last_error || ''}>${w.failed || 0}</td>
          <td>${w.last_received ? formatDate(w.last_received, true) : t('webhooks.never')}</td>
          <td><button onClick=${() => newSecret(w)}>${t('webhooks.newSecret')}</button> <button onClick=${() => toggle(w)}>${w.enabled ? t('webhooks.turnOff') : t('webhooks.turnOn')}</button></td>
        </tr>`)}</tbody></table></div>`}
    </div>
  </section>`;
}
