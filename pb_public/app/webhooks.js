// Incoming webhooks (admins): signed posts from other systems that create or update records
// of one object through a mapping of JSON pointers, as a chosen user (see schemas/webhooks).
// The signing secret is shown once, when made.
import { useEffect, useState } from 'preact/hooks';
import { pb, relata, allObjects, objectNamed, objectLabel, fieldLabel, allUsers, userNamed, formatDate, errorMessage } from './api.js';
import { html, Spinner, ErrorBox, Empty, toast } from './ui.js';

const blank = () => ({ name: '', slug: '', object: allObjects()[0]?.name || '', mode: 'upsert', key: '', mapping: [{ field: '', pointer: '' }], run_as: '', enabled: true });

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
    <header class="page-head"><h1>Incoming webhooks</h1>
      <span class="muted">Other systems create or update records here with a signed JSON post (see docs/sign-in.md).</span></header>
    ${secret ? html`<div class="card token-made" data-testid="webhook-secret">
      <p><b>Signing secret of "${secret.name}"</b> — copy it now, it is not shown again. Post to <code>${secret.url}</code>
        with <code>X-Relata-Timestamp</code> (Unix seconds) and <code>X-Relata-Signature: sha256=HMAC(secret, timestamp + "." + body)</code>.</p>
      <code class="token" data-testid="webhook-secret-value">${secret.secret}</code>
      <button type="button" onClick=${() => navigator.clipboard?.writeText(secret.secret).then(() => toast('Copied'))}>Copy</button>
      <button type="button" class="link" onClick=${() => setSecret(null)}>Done</button>
    </div>` : null}
    <div class="card">
      <h2>New webhook</h2>
      <form class="token-form" onSubmit=${create} data-testid="webhook-form">
        <label>Name <input id="webhook-name" required value=${form.name} onInput=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, name: v })); }} /></label>
        <label>URL name <input id="webhook-slug" required pattern="[a-z0-9][a-z0-9\\-]*" placeholder="shop-signups" value=${form.slug} onInput=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, slug: v })); }} /></label>
        <label>Object <select id="webhook-object" value=${form.object} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, object: v, key: '', mapping: [{ field: '', pointer: '' }] })); }}>
          ${allObjects().map((x) => html`<option value=${x.name}>${objectLabel(x)}</option>`)}</select></label>
        <label>Mode <select id="webhook-mode" value=${form.mode} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, mode: v })); }}>
          <option value="create">Create a record each time</option><option value="upsert">Update by key, else create</option><option value="update">Update by key only</option></select></label>
        ${form.mode !== 'create' ? html`<label>Key <select id="webhook-key" required value=${form.key} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, key: v })); }}>
          <option value="">—</option>${fields.map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}</select></label>` : null}
        <label>Acts as <select id="webhook-runas" required value=${form.run_as} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, run_as: v })); }}>
          <option value="">—</option>${allUsers().map((u) => html`<option value=${u.id}>${u.name || u.email}</option>`)}</select></label>
        <fieldset data-testid="webhook-mapping"><legend>Mapping: field ← JSON pointer into the payload</legend>
          ${form.mapping.map((m, i) => html`<div class="mapping-row" key=${i}>
            <select value=${m.field} onChange=${(e) => setRow(i, { field: e.target.value, pointer: m.pointer || '/' + e.target.value })}>
              <option value="">—</option>${fields.map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}</select>
            <input placeholder="/customer/email" value=${m.pointer} onInput=${(e) => setRow(i, { pointer: e.target.value })} />
          </div>`)}
          <button type="button" onClick=${() => setForm((f) => ({ ...f, mapping: [...f.mapping, { field: '', pointer: '' }] }))}>Add a field</button>
        </fieldset>
        <button class="primary" type="submit" disabled=${busy}>Make the webhook</button>
      </form>
      <${ErrorBox} error=${error} />
    </div>
    <div class="card">
      ${!items ? html`<${Spinner} />` : !items.length ? html`<${Empty}>No webhooks yet.</${Empty}>` : html`
      <div class="table-wrap"><table class="records" data-testid="webhooks">
        <thead><tr><th>Name</th><th>URL</th><th>Writes</th><th>As</th><th>Received</th><th>Failed</th><th>Last</th><th></th></tr></thead>
        <tbody>${items.map((w) => html`<tr key=${w.id}>
          <td><b>${w.name}</b>${w.enabled ? null : html` <span class="pill">off</span>`}</td>
          <td><code>/api/relata/hooks/${w.slug}</code></td>
          <td>${objectNamed(w.object) ? objectLabel(objectNamed(w.object)) : w.object} (${w.mode}${w.key ? ' by ' + w.key : ''})</td>
          <td>${userNamed(w.run_as)?.name || w.run_as}</td>
          <td>${w.received || 0}</td>
          <td title=${w.last_error || ''}>${w.failed || 0}</td>
          <td>${w.last_received ? formatDate(w.last_received, true) : 'never'}</td>
          <td><button onClick=${() => newSecret(w)}>New secret</button> <button onClick=${() => toggle(w)}>${w.enabled ? 'Turn off' : 'Turn on'}</button></td>
        </tr>`)}</tbody></table></div>`}
    </div>
  </section>`;
}
