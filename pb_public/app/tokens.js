// The signed-in user's sign-in security and API tokens: a code by email at sign-in (when the
// administrator turned multi-factor sign-in on), and personal tokens for integrations —
// made here, shown once, listed with their last use, revoked with one click. The server
// stores only each token's hash (see schemas/tokens).
import { useEffect, useState } from 'preact/hooks';
import { pb, me, relata, allObjects, objectLabel, formatDate, errorMessage } from './api.js';
import { html, Spinner, ErrorBox, Empty, toast } from './ui.js';
import { t } from './i18n.js';

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
  const revoke = async (tok) => {
    setRevoking('');
    try {
      await pb.collection('api_tokens').delete(tok.id);
      toast(t('tokens.revoked', { name: tok.name }));
      load();
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
  };
  const toggleMfa = async (on) => {
    try {
      await pb.collection('users').update(me().id, { mfa: on });
      setMfa(on);
      toast(on ? t('tokens.mfaOn') : t('tokens.mfaOff'));
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
  };
  const toggleObject = (name, on) => setForm((f) => ({ ...f, objects: on ? [...f.objects, name] : f.objects.filter((x) => x !== name) }));
  return html`<section class="tokens-page">
    <header class="page-head"><h1>${t('prefs.tokensLink')}</h1></header>
    <div class="card">
      <h2>${t('tokens.signIn')}</h2>
      <label class="check"><input type="checkbox" data-testid="mfa-toggle" checked=${mfa} onChange=${(e) => toggleMfa(e.target.checked)} />
        ${t('tokens.mfaAsk')}</label>
      <p class="muted small">${t('tokens.mfaNote')} (<code>serve --mfa admins</code>).</p>
    </div>
    <div class="card">
      <h2>${t('tokens.apiTokens')}</h2>
      <p class="muted small">${t('tokens.about')}
        <code>Authorization: Bearer rlt_…</code>. ${t('tokens.reach')}</p>
      ${made ? html`<div class="token-made" data-testid="token-made">
        <p><b>${t('tokens.copyNow', { name: made.name })}</b> ${t('tokens.notShownAgain')}</p>
        <code class="token" data-testid="token-value">${made.token}</code>
        <button type="button" onClick=${() => navigator.clipboard?.writeText(made.token).then(() => toast(t('tokens.copied')))}>${t('tokens.copy')}</button>
        <button type="button" class="link" onClick=${() => setMade(null)}>${t('tokens.done')}</button>
      </div>` : null}
      <form class="token-form" onSubmit=${create} data-testid="token-form">
        <label>${t('list.viewName')} <input id="token-name" required maxlength="100" placeholder=${t('tokens.namePlaceholder')} value=${form.name} onInput=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, name: v })); }} /></label>
        <label>${t('tokens.access')} <select id="token-scope" value=${form.scope} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, scope: v })); }}>
          <option value="read">${t('tokens.readOnly')}</option><option value="write">${t('tokens.readWrite')}</option></select></label>
        <label>${t('tokens.expiresAfter')} <select value=${form.expiresInDays} onChange=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, expiresInDays: v })); }}>
          ${[7, 30, 90, 366].map((d) => html`<option value=${d}>${t('unit.days', { n: d })}</option>`)}</select></label>
        <fieldset><legend>${t('tokens.objectsLegend')}</legend>
          ${allObjects().map((o) => html`<label key=${o.name} class="check"><input type="checkbox" checked=${form.objects.includes(o.name)}
            onChange=${(e) => toggleObject(o.name, e.target.checked)} /> ${objectLabel(o)}</label>`)}
        </fieldset>
        <button class="primary" type="submit" disabled=${busy}>${t('tokens.make')}</button>
      </form>
      <${ErrorBox} error=${error} />
      ${!items ? html`<${Spinner} />` : !items.length ? html`<${Empty}>${t('tokens.none')}</${Empty}>` : html`
      <div class="table-wrap"><table class="records" data-testid="tokens">
        <thead><tr><th>${t('list.viewName')}</th><th>${t('tokens.token')}</th><th>${t('tokens.access')}</th><th>${t('tokens.objects')}</th><th>${t('tokens.lastUsed')}</th><th>${t('tokens.expires')}</th><th></th></tr></thead>
        <tbody>${items.map((tok) => html`<tr key=${tok.id}>
          <td><b>${tok.name}</b></td><td><code>${tok.hint}…</code></td>
          <td>${tok.scope === 'write' ? t('tokens.readWrite') : t('tokens.readOnly')}</td>
          <td>${(tok.objects || []).length ? tok.objects.join(', ') : t('tokens.all')}</td>
          <td>${tok.last_used ? formatDate(tok.last_used, true) : t('tokens.never')}</td>
          <td>${formatDate(tok.expires)}</td>
          <td>${revoking === tok.id ? html`<span class="small">${t('tokens.revokeNote')}</span>
            <button class="danger" data-testid="confirm-revoke" onClick=${() => revoke(tok)}>${t('tokens.revoke')}</button>
            <button class="link" onClick=${() => setRevoking('')}>${t('tokens.keep')}</button>`
          : html`<button data-testid="revoke" onClick=${() => setRevoking(tok.id)}>${t('tokens.revoke')}…</button>`}</td>
        </tr>`)}</tbody></table></div>`}
    </div>
  </section>`;
}
