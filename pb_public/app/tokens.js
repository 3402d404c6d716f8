// The signed-in user's sign-in security and API tokens: a code by email at sign-in (when the
// administrator turned multi-factor sign-in on), and personal tokens for integrations —
// made here, shown once, listed with their last use, revoked with one click. The server
// stores only each token's hash (see schemas/tokens).
import { useEffect, useState } from 'preact/hooks';
import { pb, me, relata, allObjects, objectLabel, formatDate, errorMessage } from './api.js';
import { html, Spinner, ErrorBox, Empty, toast } from './ui.js';

export function TokensPage() {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  const [made, setMade] = useState(null); // the token just made, shown once
  const [form, setForm] = useState({ name: '', scope: 'read', objects: [], expiresInDays: 90 });
  const [busy, setBusy] = useState(false);
  const [mfa, setMfa] = useState(!!me()?.mfa);
  const load = () => pb.collection('api_tokens').getFullList({ filter: pb.filter('user = {:me}', { me: me().id }), sort: '-created' })
    .then((r) => { setItems(r); setError(''); }).catch((err) => setError(errorMessage(err)));
  useEffect(() => { load(); }, []);
  const create = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const r = await relata('/tokens', { method: 'POST', body: { ...form, expiresInDays: Number(form.expiresInDays) || 0 } });
      setMade(r);
      setForm({ name: '', scope: 'read', objects: [], expiresInDays: 90 });
      load();
    } catch (err) {
      toast(errorMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  const [revoking, setRevoking] = useState(''); // the token whose revocation awaits a confirmation
  const revoke = async (t) => {
    setRevoking('');
    try {
      await pb.collection('api_tokens').delete(t.id);
      toast(`Revoked: ${t.name}`);
      load();
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
  };
  const toggleMfa = async (on) => {
    try {
      await pb.collection('users').update(me().id, { mfa: on });
      setMfa(on);
      toast(on ? 'You will be asked for a code by email when you sign in.' : 'Sign-in codes are off for you (admins always need one when the administrator requires it).');
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
  };
  const toggleObject = (name, on) => setForm((f) => ({ ...f, objects: on ? [...f.objects, name] : f.objects.filter((x) => x !== name) }));
  return html`<section class="tokens-page">
    <header class="page-head"><h1>Sign-in and API tokens</h1></header>
    <div class="card">
      <h2>Sign-in</h2>
      <label class="check"><input type="checkbox" data-testid="mfa-toggle" checked=${mfa} onChange=${(e) => toggleMfa(e.target.checked)} />
        Ask me for a code sent by email when I sign in</label>
      <p class="muted small">It takes effect when the administrator has turned multi-factor sign-in on (<code>serve --mfa admins</code>).</p>
    </div>
    <div class="card">
      <h2>API tokens</h2>
      <p class="muted small">A token acts as you, for integrations, and never reaches more than you do: send it as
        <code>Authorization: Bearer rlt_…</code>. It reaches record, file, import and export routes only.</p>
      ${made ? html`<div class="token-made" data-testid="token-made">
        <p><b>Copy the token "${made.name}" now:</b> it is not shown again.</p>
        <code class="token" data-testid="token-value">${made.token}</code>
        <button type="button" onClick=${() => navigator.clipboard?.writeText(made.token).then(() => toast('Copied'))}>Copy</button>
        <button type="button" class="link" onClick=${() => setMade(null)}>Done</button>
      </div>` : null}
      <form class="token-form" onSubmit=${create} data-testid="token-form">
        <label>Name <input id="token-name" required maxlength="100" placeholder="e.g. Zapier" value=${form.name} onInput=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, name: v })); }} /></label>
        <label>Access <select id="token-scope" value=${form.scope} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, scope: v })); }}>
          <option value="read">Read only</option><option value="write">Read and write</option></select></label>
        <label>Expires after <select value=${form.expiresInDays} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, expiresInDays: v })); }}>
          ${[7, 30, 90, 366].map((d) => html`<option value=${d}>${d} days</option>`)}</select></label>
        <fieldset><legend>Objects (none ticked: every object you can reach)</legend>
          ${allObjects().map((o) => html`<label key=${o.name} class="check"><input type="checkbox" checked=${form.objects.includes(o.name)}
            onChange=${(e) => toggleObject(o.name, e.target.checked)} /> ${objectLabel(o)}</label>`)}
        </fieldset>
        <button class="primary" type="submit" disabled=${busy}>Make a token</button>
      </form>
      <${ErrorBox} error=${error} />
      ${!items ? html`<${Spinner} />` : !items.length ? html`<${Empty}>No tokens yet.</${Empty}>` : html`
      <div class="table-wrap"><table class="records" data-testid="tokens">
        <thead><tr><th>Name</th><th>Token</th><th>Access</th><th>Objects</th><th>Last used</th><th>Expires</th><th></th></tr></thead>
        <tbody>${items.map((t) => html`<tr key=${t.id}>
          <td><b>${t.name}</b></td><td><code>${t.hint}…</code></td>
          <td>${t.scope === 'write' ? 'Read and write' : 'Read only'}</td>
          <td>${(t.objects || []).length ? t.objects.join(', ') : 'all'}</td>
          <td>${t.last_used ? formatDate(t.last_used, true) : 'never'}</td>
          <td>${formatDate(t.expires)}</td>
          <td>${revoking === t.id ? html`<span class="small">Integrations using it stop at once.</span>
            <button class="danger" data-testid="confirm-revoke" onClick=${() => revoke(t)}>Revoke</button>
            <button class="link" onClick=${() => setRevoking('')}>Keep</button>`
          : html`<button data-testid="revoke" onClick=${() => setRevoking(t.id)}>Revoke…</button>`}</td>
        </tr>`)}</tbody></table></div>`}
    </div>
  </section>`;
}
