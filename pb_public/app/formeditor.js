// The form editor (admins and managers): forms stored in the web_forms collection, built from
// an object's fields — relation fields as pickers over a filter — checked by the server on
// save exactly as form files are (its located errors are shown as they come), previewed in
// an iframe of the published page, with the embed code to copy. File forms (--formsDir) are
// listed by the server's definition endpoint only; they take precedence over web forms.
import { useEffect, useState } from 'preact/hooks';
import { pb, allObjects, objectLabel, fieldLabel, errorMessage } from './api.js';
import { html, navigate, Spinner, ErrorBox, Empty, toast } from './ui.js';
import { t } from './i18n.js';

const formable = (f) => !['owner', 'json'].includes(f.type) && f.showInForms !== false;

export function FormsPage() {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    pb.collection('web_forms').getFullList({ sort: 'slug' }).then(setItems).catch((err) => setError(errorMessage(err)));
  }, []);
  return html`<section class="page forms-page">
    <header class="page-head"><h1>${t('forms.title')}</h1><a class="btn primary" id="new-form" href="#/forms/new">${t('forms.new')}</a></header>
    <${ErrorBox} error=${error} />
    ${items === null && !error ? html`<${Spinner} />` : null}
    ${items?.length === 0 ? html`<${Empty}>${t('forms.none')}</${Empty}>` : null}
    <ul class="plain-list">${(items || []).map((r) => html`<li key=${r.id}><a href=${'#/forms/' + r.id}>${r.definition?.title || r.slug}</a> <span class="muted">/forms/${r.slug}</span></li>`)}</ul>
  </section>`;
}

const emptyDef = () => ({ slug: '', title: '', object: '', fields: [], spam: { minFillSeconds: 3 } });

export function FormEditor({ id }) {
  const [rec, setRec] = useState(id ? null : { id: '' });
  const [def, setDef] = useState(emptyDef());
  const [problems, setProblems] = useState('');
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(0); // bumps the preview after each save
  useEffect(() => {
    if (!id) return;
    pb.collection('web_forms').getOne(id).then((r) => { setRec(r); setDef({ ...emptyDef(), ...r.definition }); setSaved(1); })
      .catch((err) => setProblems(errorMessage(err)));
  }, [id]);
  if (!rec) return html`<${Spinner} />`;

  const obj = allObjects().find((o) => o.name === def.object);
  const set = (k, v) => setDef((d) => ({ ...d, [k]: v }));
  const setField = (i, patch) => setDef((d) => ({ ...d, fields: d.fields.map((f, j) => (j === i ? { ...f, ...patch } : f)) }));
  const addField = (name) => {
    if (!name) return;
    const of = obj?.fields.find((f) => f.name === name);
    const entry = { name };
    if (of?.type === 'relation') entry.picker = { filter: '' };
    setDef((d) => ({ ...d, fields: [...d.fields, entry] }));
  };
  const removeField = (i) => setDef((d) => ({ ...d, fields: d.fields.filter((_, j) => j !== i) }));

  const save = async () => {
    setBusy(true);
    setProblems('');
    const data = { slug: def.slug, definition: JSON.stringify(def, null, 2) };
    try {
      const r = rec.id ? await pb.collection('web_forms').update(rec.id, data) : await pb.collection('web_forms').create(data);
      setRec(r);
      setSaved((n) => n + 1);
      toast(t('forms.saved'));
      if (!rec.id) history.replaceState(null, '', '#/forms/' + r.id);
    } catch (err) {
      const d = err.response?.data || {};
      setProblems([d.definition?.message, d.slug?.message].filter(Boolean).join('\n') || errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!rec.id || !confirm(t('forms.confirmDelete'))) return;
    try { await pb.collection('web_forms').delete(rec.id); navigate('/forms'); } catch (err) { setProblems(errorMessage(err)); }
  };

  const used = new Set(def.fields.map((f) => f.name));
  const embed = `<script src="${location.origin}/forms/${def.slug}/embed.js" async></script>`;
  return html`<section class="page form-editor">
    <header class="page-head"><h1>${rec.id ? t('forms.edit') : t('forms.new')}</h1>
      <button class="btn primary" id="form-save" disabled=${busy} onClick=${save}>${t('forms.save')}</button>
      ${rec.id ? html`<button class="btn danger" onClick=${remove}>${t('forms.delete')}</button>` : null}</header>
    <div class="form-editor-grid">
      <div class="form-editor-main">
        <label>${t('forms.slug')}<input id="form-slug" value=${def.slug} onInput=${(e) => set('slug', e.currentTarget.value)} /></label>
        <label>${t('forms.formTitle')}<input id="form-title" value=${def.title} onInput=${(e) => set('title', e.currentTarget.value)} /></label>
        <label>${t('forms.object')}<select id="form-object" value=${def.object} onChange=${(e) => setDef((d) => ({ ...d, object: e.currentTarget.value, fields: [] }))}>
          <option value="">${t('forms.choose')}</option>
          ${allObjects().map((o) => html`<option key=${o.name} value=${o.name}>${objectLabel(o)}</option>`)}
        </select></label>
        ${obj ? html`<fieldset class="form-fields"><legend>${t('forms.fields')}</legend>
          ${def.fields.map((f, i) => {
            const of = obj.fields.find((x) => x.name === f.name);
            return html`<div class="form-field-row" key=${f.name} data-field=${f.name}>
              <strong>${of ? fieldLabel(of) : f.name}</strong> <span class="muted">${of?.type}</span>
              <label>${t('forms.label')}<input id=${'ff-' + f.name + '-label'} value=${f.label || ''} onInput=${(e) => setField(i, { label: e.currentTarget.value || undefined })} /></label>
              <label class="check"><input type="checkbox" id=${'ff-' + f.name + '-required'} checked=${!!f.required || !!of?.required} disabled=${!!of?.required} title=${of?.required ? t('forms.objectRequires') : ''} onChange=${(e) => setField(i, { required: e.currentTarget.checked || undefined })} /> ${t('forms.required')}</label>
              <label class="check"><input type="checkbox" id=${'ff-' + f.name + '-prefill'} checked=${!!f.prefill} onChange=${(e) => setField(i, { prefill: e.currentTarget.checked || undefined })} /> ${t('forms.prefill')}</label>
              ${f.picker ? html`<label>${t('forms.offerOnly', { objects: of?.target })}<input id=${'ff-' + f.name + '-filter'} placeholder="status = 'open'" value=${f.picker.filter || ''}
                onInput=${(e) => setField(i, { picker: { ...f.picker, filter: e.currentTarget.value } })} /></label>` : null}
              <button class="btn small" onClick=${() => removeField(i)}>${t('forms.remove')}</button>
            </div>`;
          })}
          <label>${t('forms.addField')}<select id="form-add-field" value="" onChange=${(e) => { addField(e.currentTarget.value); e.currentTarget.value = ''; }}>
            <option value="">${t('forms.chooseField')}</option>
            ${obj.fields.filter((f) => formable(f) && !used.has(f.name)).map((f) => html`<option key=${f.name} value=${f.name}>${fieldLabel(f)}${f.type === 'relation' ? ' ' + t('forms.picker') : ''}</option>`)}
          </select></label>
        </fieldset>` : null}
        <label>${t('forms.message')}<input id="form-success" value=${def.successMessage || ''} onInput=${(e) => set('successMessage', e.currentTarget.value || undefined)} /></label>
        ${problems ? html`<pre class="error" role="alert" data-testid="form-problems">${problems}</pre>` : null}
        <details><summary>${t('forms.definition')}</summary><pre data-testid="form-json">${JSON.stringify(def, null, 2)}</pre></details>
      </div>
      <div class="form-editor-side">
        ${rec.id && saved ? html`
          <h2>${t('forms.preview')}</h2>
          <iframe key=${saved} id="form-preview" title=${t('forms.previewOf')} src=${`/forms/${encodeURIComponent(rec.slug)}?preview=${saved}`}></iframe>
          <h2>${t('forms.embed')}</h2>
          <textarea id="form-embed" readonly rows="3" value=${embed}></textarea>
          <button class="btn small" onClick=${() => navigator.clipboard?.writeText(embed).then(() => toast(t('forms.copied')))}>${t('forms.copy')}</button>
          <p><a href=${'/forms/' + encodeURIComponent(rec.slug)} target="_blank" rel="noopener">${t('forms.open')}</a></p>`
        : html`<p class="muted">${t('forms.saveFirst')}</p>`}
      </div>
    </div>
  </section>`;
}
