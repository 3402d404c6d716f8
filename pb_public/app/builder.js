// The workflow builder for business users: pick the object and trigger, write the condition
// with field autocomplete and live validation by the server's own checker, add actions from a
// palette (a form per action type), test on a chosen record (a dry run), save, enable and
// disable. Workflows are records of the workflows collection; validation, dry runs and
// autocomplete are Relata's workflow API.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { pb, relata, isManager, allObjects, objectNamed, objectLabel, fieldLabel, titleOf, errorMessage, subscribe, debounce } from './api.js';
import { html, Spinner, ErrorBox, Empty, toast } from './ui.js';
import { stageOptions, options as optionsOf, RelationPicker } from './fields.js';
import { conditionFields, kindOf, opsFor, newRow, needsValue, defaultValue, toExpr, fromExpr } from './condition.js';
import { t } from './i18n.js';

// triggerTypes lists the trigger types with their names in the current language.
export const triggerTypes = () => [
  ['record_created', t('wf.trigger.record_created')],
  ['record_updated', t('wf.trigger.record_updated')],
  ['record_deleted', t('wf.trigger.record_deleted')],
  ['field_changed', t('wf.trigger.field_changed')],
  ['stage_changed', t('wf.trigger.stage_changed')],
  ['date', t('wf.trigger.date')],
  ['dormant', t('wf.trigger.dormant')],
  ['schedule', t('wf.trigger.schedule')],
  ['form_submitted', t('wf.trigger.form_submitted')],
  ['manual', t('wf.trigger.manual')],
  ['segment_entered', t('wf.trigger.segment_entered')],
  ['segment_left', t('wf.trigger.segment_left')],
];

// sequenceTemplate is the t('wf.newSequence') starting point: a multi-step nurture of a contact
// (email → wait → email → wait → task) with exit criteria checked before every step.
export function sequenceTemplate() {
  return {
    ...blank, name: 'nurture-sequence', object: 'contacts',
    description: 'Nurture: email, wait 3 days, email, wait 2 days, call task. Stops on a reply, an unsubscribe or when the contact becomes a customer.',
    trigger: { type: 'record_created' },
    stopIf: 'replied() || unsubscribed() || record.lifecycle_stage == "customer"',
    actions: [
      { type: 'send_email', name: 'First email', to: 'email', category: 'marketing', subject: '="Hello " + record.full_name', text: 'Thanks for your interest. {{.unsubscribe_url}}' },
      { type: 'wait', for: '3d' },
      { type: 'send_email', name: 'Follow-up email', to: 'email', category: 'marketing', subject: '="Following up, " + record.full_name', text: 'Any questions? Just reply. {{.unsubscribe_url}}' },
      { type: 'wait', for: '2d' },
      { type: 'create_task', name: 'Call', subject: '="Call " + record.full_name', due: '1d', assignee: 'owner' },
    ],
  };
}

// Exit criteria a sequence offers as one-click additions to its stopIf.
const exitCriteria = () => [
  ['replied()', t('wf.exit.replied')],
  ['unsubscribed()', t('wf.exit.unsubscribed')],
  ['record.lifecycle_stage == "customer"', t('wf.exit.stagereached')],
  ['inSegment("…")', t('wf.exit.inasegment')],
  ['!inSegment("…")', t('wf.exit.leftasegment')],
];

// The palette: each action type with its form, field by field: [key, kind, label, help, choices].
// actionSpecs is the palette in the current language.
export const actionSpecs = () => ({
  create_task: { label: t('wf.action.create_task'), icon: '☐', init: { subject: '', due: '1d', assignee: 'owner' }, fields: [
    ['subject', 'text', t('wf.field.create_task.subject'), t('wf.help.create_task.subject')],
    ['body', 'textarea', t('wf.field.create_task.body')],
    ['due', 'text', t('wf.field.create_task.due'), t('wf.help.create_task.due')],
    ['assignee', 'text', t('wf.field.create_task.assignee'), t('wf.help.create_task.assignee')],
    ['activityType', 'select', t('wf.field.create_task.activityType'), '', ['', 'task', 'call', 'meeting', 'email', 'note']],
  ] },
  update_record: { label: t('wf.action.update_record'), icon: '✎', init: { values: {} }, fields: [
    ['target', 'relationField', t('wf.field.update_record.target'), t('wf.help.update_record.target')],
    ['values', 'values', t('wf.field.update_record.values'), t('wf.help.update_record.values')],
  ] },
  change_stage: { label: t('wf.action.change_stage'), icon: '➜', init: { stage: '' }, fields: [
    ['stage', 'stage', t('wf.field.change_stage.stage')],
  ] },
  create_record: { label: t('wf.action.create_record'), icon: '＋', init: { object: '', values: {} }, fields: [
    ['object', 'object', t('wf.field.create_record.object')],
    ['values', 'values', t('wf.field.create_record.values')],
    ['link', 'checkbox', t('wf.field.create_record.link')],
  ] },
  send_email: { label: t('wf.action.send_email'), icon: '✉', init: { to: 'email', category: 'transactional' }, fields: [
    ['to', 'text', t('wf.field.send_email.to'), t('wf.help.send_email.to')],
    ['subject', 'text', t('wf.field.send_email.subject')],
    ['text', 'textarea', t('wf.field.send_email.text')],
    ['template', 'text', t('wf.field.send_email.template'), t('wf.help.send_email.template')],
    ['category', 'select', t('wf.field.send_email.category'), t('wf.help.send_email.category'), ['transactional', 'marketing']],
  ] },
  assign_owner: { label: t('wf.action.assign_owner'), icon: '👤', init: { strategy: 'round_robin', role: 'sales' }, fields: [
    ['strategy', 'select', t('wf.field.assign_owner.strategy'), '', ['round_robin', 'least_loaded']],
    ['role', 'select', t('wf.field.assign_owner.role'), '', ['sales', 'manager', 'admin']],
    ['team', 'text', t('wf.field.assign_owner.team')],
  ] },
  webhook: { label: t('wf.action.webhook'), icon: '⇄', init: { url: '', method: 'POST' }, fields: [
    ['url', 'text', t('wf.field.webhook.url')],
    ['method', 'select', t('wf.field.webhook.method'), '', ['POST', 'PUT', 'PATCH']],
    ['secret', 'secretRef', t('wf.field.webhook.secret'), t('wf.help.webhook.secret')],
    ['timeout', 'text', t('wf.field.webhook.timeout'), t('wf.help.webhook.timeout')],
  ] },
  script: { label: t('wf.action.script'), icon: '{ }', init: { source: '' }, fields: [
    ['source', 'code', t('wf.field.script.source'), t('wf.help.script.source')],
    ['timeout', 'text', t('wf.field.script.timeout'), t('wf.help.script.timeout')],
  ] },
  wait: { label: t('wf.action.wait'), icon: '⏸', init: { for: '1d' }, fields: [
    ['for', 'text', t('wf.field.wait.for'), t('wf.help.wait.for')],
    ['until', 'expr', t('wf.field.wait.until'), t('wf.help.wait.until')],
  ] },
  branch: { label: t('wf.action.branch'), icon: '⑂', init: { if: '', then: [], else: [] }, fields: [
    ['if', 'expr', t('wf.field.branch.if')],
  ] },
  for_each: { label: t('wf.action.for_each'), icon: '↻', init: { over: '', actions: [] }, fields: [
    ['over', 'over', t('wf.field.for_each.over'), t('wf.help.for_each.over')],
  ] },
  notify: { label: t('wf.action.notify'), icon: '!', init: { to: 'owner', title: '' }, fields: [
    ['to', 'text', t('wf.field.notify.to'), t('wf.help.notify.to')],
    ['title', 'text', t('wf.field.notify.title'), t('wf.help.notify.title')],
    ['body', 'textarea', t('wf.field.notify.body')],
    ['template', 'text', t('wf.field.notify.template'), t('wf.help.notify.template')],
    ['email', 'checkbox', t('wf.field.notify.email')],
  ] },
});

const blank = { name: '', description: '', enabled: false, object: '', trigger: { type: 'record_created' }, condition: '', stopIf: '', runAs: '', actions: [] };

// clean drops empty settings, as the definition format has no empty values.
function clean(v) {
  if (Array.isArray(v)) return v.map(clean);
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k.startsWith('_') || x === '' || x == null || x === false) continue;
      if (typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 0 && k !== 'values') continue;
      if (Array.isArray(x) && x.length === 0 && k !== 'actions') continue;
      out[k] = clean(x);
    }
    return out;
  }
  return v;
}

function definitionOf(w) {
  const d = clean({ object: w.object, trigger: w.trigger, condition: w.condition, stopIf: w.stopIf, runAs: w.runAs, actions: w.actions });
  d.actions = d.actions || [];
  return d;
}

// ManagersOnly explains, to a sales rep who opens a workflow address, why there is nothing to see:
// the workflows collection is readable by managers and admins only.
function ManagersOnly() {
  return html`<section class="workflows-page"><header class="page-head"><h1>${t('wf.title')}</h1></header>
    <div class="panel" data-testid="workflows-managers-only"><p>${t('wf.managersOnly')}</p>
    <p class="muted">${t('wf.managersOnlyNote')}</p></div></section>`;
}

export function Workflows() {
  if (!isManager()) return html`<${ManagersOnly} />`;
  return html`<${WorkflowList} />`;
}

function WorkflowList() {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  const load = () => pb.collection('workflows').getFullList({ sort: 'name' }).then(setItems).catch((err) => setError(errorMessage(err)));
  useEffect(() => { load(); return subscribe('workflows', '*', debounce(load, 200)); }, []);
  const toggle = async (w) => {
    await pb.collection('workflows').update(w.id, { enabled: !w.enabled }).catch((err) => toast(errorMessage(err), 'error'));
    load();
  };
  return html`<section class="workflows-page">
    <header class="page-head"><h1>${t('wf.title')}</h1><div class="spacer"></div>
      <a class="button" href="#/runs">${t('wf.runHistory')}</a>
      <a class="button" href="#/workflows/new-sequence" id="new-sequence">${t('wf.newSequence')}</a>
      <a class="button primary" href="#/workflows/new" id="new-workflow">${t('wf.new')}</a></header>
    <${ErrorBox} error=${error} />
    ${!items ? html`<${Spinner} />` : !items.length ? html`<${Empty}>${t('wf.none')}</${Empty}>` : html`
    <table class="records"><thead><tr><th>${t('wf.name')}</th><th>${t('wf.object')}</th><th>${t('wf.when')}</th><th>${t('wf.enabled')}</th><th></th></tr></thead>
    <tbody>${items.map((w) => html`<tr key=${w.id}>
      <td><a href=${'#/workflows/' + w.id}>${w.name}</a><div class="muted small">${w.description}</div></td>
      <td>${objectNamed(w.object) ? objectLabel(objectNamed(w.object)) : w.object}</td>
      <td>${(triggerTypes().find((x) => x[0] === w.definition?.trigger?.type) || [])[1] || w.definition?.trigger?.type}</td>
      <td><label class="switch"><input type="checkbox" checked=${w.enabled} onChange=${() => toggle(w)} aria-label=${t('wf.enabledOf', { name: w.name })} /><span></span></label></td>
      <td><a href=${'#/runs?workflow=' + encodeURIComponent(w.name)}>${t('wf.runs')}</a></td>
    </tr>`)}</tbody></table>`}
  </section>`;
}

export function WorkflowEditor({ id, template }) {
  if (!isManager()) return html`<${ManagersOnly} />`;
  return html`<${Editor} id=${id} template=${template} />`;
}

function Editor({ id, template }) {
  const [w, setW] = useState(id ? null : template === 'sequence' ? sequenceTemplate() : { ...blank, object: allObjects().find((o) => o.name === 'deals')?.name || allObjects()[0]?.name });
  const [segs, setSegs] = useState([]);
  useEffect(() => { pb.collection('segments').getFullList({ sort: 'name' }).then(setSegs).catch(() => {}); }, []);
  const [recId, setRecId] = useState(id);
  const [errors, setErrors] = useState([]);
  const [valid, setValid] = useState(null);
  const [saveError, setSaveError] = useState('');
  const [vars, setVars] = useState([]);
  const [report, setReport] = useState(null);
  const [showJSON, setShowJSON] = useState(false);

  useEffect(() => {
    if (!id) return;
    pb.collection('workflows').getOne(id).then((r) => {
      const d = r.definition || {};
      setW({ ...blank, ...d, name: r.name, description: r.description, enabled: r.enabled, actions: d.actions || [], trigger: d.trigger || { type: 'manual' } });
    }).catch((err) => setSaveError(errorMessage(err)));
  }, [id]);
  useEffect(() => {
    if (!w?.object) return;
    relata(`/objects/${w.object}/variables`).then(setVars).catch(() => setVars([]));
  }, [w?.object]);

  // Live validation: the server compiles the definition as it would on save.
  const validate = useMemo(() => debounce(async (cur) => {
    try {
      await relata('/workflows/validate', { method: 'POST', body: { definition: { name: cur.name || 'draft', ...definitionOf(cur) } } });
      setErrors([]);
      setValid(true);
    } catch (err) {
      setErrors(err.response?.errors || [{ pointer: '', message: errorMessage(err) }]);
      setValid(false);
    }
  }, 350), []);
  // A new workflow is not checked until something is typed or chosen: an empty draft is not a
  // problem yet.
  const [pristine, setPristine] = useState(id ? '' : null);
  const draft = JSON.stringify(w);
  useEffect(() => {
    if (!w) return;
    if (pristine === null) { setPristine(draft); return; }
    if (draft === pristine) return;
    setPristine('');
    validate(w);
  }, [draft]);

  if (!w) return html`<${ErrorBox} error=${saveError} /><${Spinner} />`;
  const o = objectNamed(w.object);
  const set = (patch) => setW((cur) => ({ ...cur, ...patch }));
  const setTrigger = (patch) => setW((cur) => ({ ...cur, trigger: clean({ ...cur.trigger, ...patch }) }));

  const save = async (enabled = w.enabled) => {
    setSaveError('');
    const body = { name: w.name, description: w.description, enabled, definition: definitionOf(w) };
    try {
      const rec = recId ? await pb.collection('workflows').update(recId, body) : await pb.collection('workflows').create(body);
      set({ enabled: rec.enabled });
      toast(t(rec.enabled ? 'wf.savedEnabled' : 'wf.saved', { name: rec.name }));
      if (!recId) { setRecId(rec.id); history.replaceState(null, '', '#/workflows/' + rec.id); }
    } catch (err) {
      setSaveError(errorMessage(err));
    }
  };
  const errorsAt = (prefix) => errors.filter((e) => e.pointer === prefix || (e.pointer.startsWith(prefix + '/') && !/^\/(then|else)\/\d+/.test(e.pointer.slice(prefix.length))));
  const fieldsOf = (types) => (o ? o.fields.filter((f) => types.includes(f.type)) : []);
  const tr = w.trigger;
  const stageF = o && o.fields.find((f) => f.type === 'stage');

  return html`<section class="builder">
    <header class="page-head">
      <div><div class="crumbs"><a href="#/workflows">${t('wf.title')}</a></div><h1>${w.name || t('wf.new')}</h1></div>
      <div class="spacer"></div>
      <span class=${'validity ' + (valid ? 'ok' : valid === false ? 'bad' : '')} data-testid="validity">${valid ? t('wf.valid') : valid === false ? t('wf.problemsN', { count: errors.length }) : pristine ? t('wf.newDraft') : t('wf.checking')}</span>
      <label class="switch-label"><label class="switch"><input type="checkbox" id="wf-enabled" checked=${w.enabled} onChange=${(e) => set({ enabled: e.target.checked })} /><span></span></label> ${t('wf.enabled')}</label>
      <button class="primary" id="wf-save" onClick=${() => save()}>${t('wf.save')}</button>
    </header>
    <${ErrorBox} error=${saveError} />
    <div class="builder-grid">
      <div class="builder-main">
        <div class="panel step-card">
          <h2>${t('wf.step1')}</h2>
          <div class="form-grid">
            <label><span>${t('wf.name')}</span><input id="wf-name" value=${w.name} placeholder="big-deal-alert" pattern="[a-z0-9][a-z0-9_-]*" onInput=${(e) => set({ name: e.target.value })} />
              <small class="muted">${t('wf.nameHelp')}</small></label>
            <label><span>${t('wf.description')}</span><input id="wf-description" value=${w.description} onInput=${(e) => set({ description: e.target.value })} /></label>
          </div>
        </div>
        <div class="panel step-card">
          <h2>${t('wf.step2')}</h2>
          <div class="form-grid">
            <label><span>${t('wf.object')}</span><select id="wf-object" value=${w.object} onChange=${(e) => set({ object: e.target.value })}>
              ${allObjects().map((x) => html`<option value=${x.name}>${objectLabel(x)}</option>`)}</select></label>
            <label><span>${t('wf.trigger')}</span><select id="wf-trigger" value=${tr.type} onChange=${(e) => set({ trigger: { type: e.target.value } })}>
              ${triggerTypes().map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></label>
            ${tr.type === 'field_changed' || tr.type === 'date' ? html`<label><span>${t('wf.field')}</span><select id="wf-trigger-field" value=${tr.field || ''} onChange=${(e) => setTrigger({ field: e.target.value })}>
              <option value="">—</option>${(tr.type === 'date' ? fieldsOf(['date', 'datetime']) : o?.fields || []).map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}</select></label>` : null}
            ${tr.type === 'stage_changed' && stageF ? html`
              <label><span>${t('wf.fromStage')}</span><select id="wf-trigger-from" value=${tr.from || ''} onChange=${(e) => setTrigger({ from: e.target.value })}>
                <option value="">${t('wf.any')}</option>${stageOptions(o, stageF).map((s) => html`<option value=${s.value}>${s.label}</option>`)}</select></label>
              <label><span>${t('wf.toStage')}</span><select id="wf-trigger-to" value=${tr.to || ''} onChange=${(e) => setTrigger({ to: e.target.value })}>
                <option value="">${t('wf.any')}</option>${stageOptions(o, stageF).map((s) => html`<option value=${s.value}>${s.label}</option>`)}</select></label>` : null}
            ${tr.type === 'field_changed' ? html`<label><span>${t('wf.toValue')}</span><input value=${tr.to || ''} onInput=${(e) => setTrigger({ to: e.target.value })} /></label>` : null}
            ${tr.type === 'date' ? html`<label><span>${t('wf.offset')}</span><input value=${tr.offset || ''} placeholder="-30d" onInput=${(e) => setTrigger({ offset: e.target.value })} /></label>` : null}
            ${tr.type === 'dormant' ? html`<label><span>${t('wf.quietDays')}</span><input type="number" min="1" value=${tr.days || ''} onInput=${(e) => setTrigger({ days: Number(e.target.value) || undefined })} /></label>` : null}
            ${tr.type === 'schedule' ? html`<label><span>${t('wf.cron')}</span><input value=${tr.cron || ''} placeholder="0 9 * * 1-5" onInput=${(e) => setTrigger({ cron: e.target.value })} /></label>` : null}
            ${tr.type === 'segment_entered' || tr.type === 'segment_left' ? html`<label><span>${t('wf.segment')}</span><select id="wf-trigger-segment" value=${tr.segment || ''} onChange=${(e) => setTrigger({ segment: e.target.value })}>
              <option value="">—</option>${segs.map((x) => html`<option value=${x.name}>${x.name}</option>`)}</select>
              <small class="muted">${t('wf.segmentNote')}</small></label>` : null}
            ${tr.type === 'form_submitted' ? html`<label><span>${t('wf.form')}</span><input value=${tr.form || ''} placeholder="contact-us" onInput=${(e) => setTrigger({ form: e.target.value })} /></label>` : null}
          </div>
          <${PointerErrors} errors=${errorsAt('/trigger').concat(errorsAt('/object'))} />
        </div>
        <div class="panel step-card">
          <h2>${t('wf.step3')} <span class="muted small">${t('wf.optional')}</span></h2>
          <${ConditionEditor} id="wf-condition" value=${w.condition} object=${o} vars=${vars} onChange=${(v) => set({ condition: v })}
            placeholder='record.amount > 10000 && record.source == "referral"' />
          <${PointerErrors} errors=${errorsAt('/condition')} />
        </div>
        <div class="panel step-card" data-testid="stop-if">
          <h2>${t('wf.stopWhen')} <span class="muted small">${t('wf.exitOptional')}</span></h2>
          <p class="muted small">${t('wf.stopNote')}</p>
          <div class="chips">${exitCriteria().map(([expr, label]) => html`<button type="button" class="chip" key=${label}
            onClick=${() => setW((cur) => ({ ...cur, stopIf: cur.stopIf ? cur.stopIf + ' || ' + expr : expr }))}>+ ${label}</button>`)}</div>
          <${ExprInput} id="wf-stopif" value=${w.stopIf || ''} vars=${vars} onChange=${(v) => set({ stopIf: v })}
            placeholder='replied() || unsubscribed()' />
          <${PointerErrors} errors=${errorsAt('/stopIf')} />
        </div>
        <div class="panel step-card">
          <h2>${t('wf.step4')}</h2>
          <${ActionList} actions=${w.actions} pointer="/actions" object=${o} vars=${vars} errorsAt=${errorsAt}
            onChange=${(actions) => set({ actions })} />
        </div>
        ${errors.length ? html`<div class="panel problems" data-testid="problems"><h2>${t('wf.problems')}</h2><ul>${errors.map((e, i) => html`<li key=${i}>
          <code>${e.pointer || '/'}</code> ${e.message}</li>`)}</ul></div>` : null}
        <p><button class="link" onClick=${() => setShowJSON(!showJSON)}>${showJSON ? t('wf.hideJSON') : t('wf.showJSON')}</button></p>
        ${showJSON ? html`<pre class="json">${JSON.stringify({ name: w.name, description: w.description || undefined, enabled: w.enabled, ...definitionOf(w) }, null, 2)}</pre>` : null}
      </div>
      <aside class="builder-side">
        <${TestPanel} w=${w} object=${o} onReport=${setReport} report=${report} />
        ${recId ? html`<div class="panel"><h2>${t('wf.history')}</h2><a href=${'#/runs?workflow=' + encodeURIComponent(w.name)}>${t('wf.runsOf')}</a></div>` : null}
      </aside>
    </div>
  </section>`;
}

function PointerErrors({ errors }) {
  if (!errors.length) return null;
  return html`<ul class="field-errors">${errors.map((e, i) => html`<li key=${i}>${e.message}</li>`)}</ul>`;
}

// ExprInput is a textarea for expr expressions with autocomplete of the variables the server
// lists for the object (record.<field>, old.<field>, user.*, helpers).
export function ExprInput({ id, value, vars, onChange, placeholder, rows = 2, class: cls = '' }) {
  const ref = useRef();
  const [sugg, setSugg] = useState([]);
  const [sel, setSel] = useState(0);
  const token = () => {
    const el = ref.current;
    const before = el.value.slice(0, el.selectionStart);
    return (before.match(/[A-Za-z_][\w.]*$/) || [''])[0];
  };
  const update = () => {
    const tok = token();
    setSugg(tok ? vars.filter((v) => v.name.startsWith(tok) && v.name !== tok).slice(0, 8) : []);
    setSel(0);
  };
  const accept = (v) => {
    const el = ref.current;
    const tok = token();
    const start = el.selectionStart - tok.length;
    const insert = v.function ? v.name + '(' : v.name;
    el.value = el.value.slice(0, start) + insert + el.value.slice(el.selectionStart);
    el.selectionStart = el.selectionEnd = start + insert.length;
    el.focus();
    onChange(el.value);
    setSugg([]);
  };
  const keys = (e) => {
    if (!sugg.length) return;
    if (e.key === 'ArrowDown') { e.preventDefault(); setSel((sel + 1) % sugg.length); }
    if (e.key === 'ArrowUp') { e.preventDefault(); setSel((sel + sugg.length - 1) % sugg.length); }
    if (e.key === 'Tab' || e.key === 'Enter') { e.preventDefault(); accept(sugg[sel]); }
    if (e.key === 'Escape') setSugg([]);
  };
  return html`<div class="expr">
    <textarea id=${id} class=${cls} ref=${ref} rows=${rows} spellcheck="false" placeholder=${placeholder} value=${value}
      onInput=${(e) => { onChange(e.target.value); update(); }} onKeyDown=${keys} onBlur=${() => setTimeout(() => setSugg([]), 150)}></textarea>
    ${sugg.length ? html`<ul class="suggestions" role="listbox">${sugg.map((v, i) => html`<li key=${v.name} class=${i === sel ? 'selected' : ''} role="option"
      onMouseDown=${(e) => { e.preventDefault(); accept(v); }}><code>${v.name}</code> <span class="muted">${v.type}</span><div class="small muted">${v.doc}</div></li>`)}</ul>` : null}
  </div>`;
}

// item is the object of a for_each's items, for the actions inside it (null elsewhere).
function ActionList({ actions, pointer, object, item, vars, errorsAt, onChange }) {
  const [adding, setAdding] = useState(false);
  const setAt = (i, a) => onChange(actions.map((x, j) => (j === i ? a : x)));
  const move = (i, d) => {
    const next = [...actions];
    [next[i], next[i + d]] = [next[i + d], next[i]];
    onChange(next);
  };
  return html`<div class="action-list">
    ${actions.map((a, i) => html`<${ActionCard} key=${i} action=${a} pointer=${`${pointer}/${i}`} object=${object} item=${item} vars=${vars} errorsAt=${errorsAt}
      onChange=${(x) => setAt(i, x)} onRemove=${() => onChange(actions.filter((_, j) => j !== i))}
      onUp=${i > 0 ? () => move(i, -1) : null} onDown=${i < actions.length - 1 ? () => move(i, 1) : null} />`)}
    ${adding ? html`<div class="palette" data-testid="palette">${Object.entries(actionSpecs()).map(([type, spec]) => html`<button key=${type} data-action=${type}
        onClick=${() => { onChange([...actions, { type, ...structuredClone(spec.init) }]); setAdding(false); }}>
        <span class="icon-dot">${spec.icon}</span> ${spec.label}</button>`)}
        <button class="link" onClick=${() => setAdding(false)}>${t('wf.cancel')}</button></div>`
      : html`<button class="add-action" onClick=${() => setAdding(true)}>${t('wf.addAction')}</button>`}
  </div>`;
}

// itemObjectOf is the object of the records a for_each goes over, when the builder knows it.
function itemObjectOf(over, object) {
  if (over && typeof over === 'object') return objectNamed(over.object);
  if (typeof over !== 'string' || !over) return null;
  const [name, field] = over.split('.');
  if (field) return objectNamed(name);
  return objectNamed(object?.fields.find((f) => f.name === name)?.target);
}

function ActionCard({ action: a, pointer, object, item, vars, errorsAt, onChange, onRemove, onUp, onDown }) {
  const spec = actionSpecs()[a.type] || { label: a.type, fields: [] };
  const itemVars = useItemVars(vars, item);
  const set = (k, v) => onChange({ ...a, [k]: v });
  const input = ([key, kind, label, help, choices]) => {
    const v = a[key] ?? '';
    const id = `${pointer.replace(/\//g, '-').slice(1)}-${key}`;
    let control;
    switch (kind) {
      case 'textarea': control = html`<textarea id=${id} rows="3" value=${v} onInput=${(e) => set(key, e.target.value)}></textarea>`; break;
      case 'code': control = html`<${ExprInput} id=${id} class="code" rows=${6} value=${v} vars=${scriptVars(vars)} onChange=${(x) => set(key, x)} />`; break;
      case 'expr': control = key === 'if'
        ? html`<${ConditionEditor} id=${id} value=${v} object=${object && item ? { ...object, item } : object} vars=${itemVars} onChange=${(x) => set(key, x)} />`
        : html`<${ExprInput} id=${id} value=${v} vars=${itemVars} onChange=${(x) => set(key, x)} />`; break;
      case 'checkbox': control = html`<input id=${id} type="checkbox" checked=${!!v} onChange=${(e) => set(key, e.target.checked)} />`; break;
      case 'select': control = html`<select id=${id} value=${v} onChange=${(e) => set(key, e.target.value)}>${choices.map((c) => html`<option value=${c}>${c || '—'}</option>`)}</select>`; break;
      case 'object': control = html`<select id=${id} value=${v} onChange=${(e) => set(key, e.target.value)}><option value="">—</option>
        ${allObjects().map((x) => html`<option value=${x.name}>${objectLabel(x)}</option>`)}</select>`; break;
      case 'stage': {
        const sf = object?.fields.find((f) => f.type === 'stage');
        control = html`<select id=${id} value=${v} onChange=${(e) => set(key, e.target.value)}><option value="">—</option>
          ${sf ? stageOptions(object, sf).map((s) => html`<option value=${s.value}>${s.label}</option>`) : null}</select>`;
        break;
      }
      case 'relationField':
        control = html`<select id=${id} value=${v} onChange=${(e) => set(key, e.target.value)}><option value="">${t('wf.itself')}</option>
          ${item ? html`<option value="item">${t('wf.eachItem', { object: objectLabel(item, false).toLowerCase() })}</option>` : null}
          ${(object?.fields || []).filter((f) => f.type === 'relation' && !f.multiple).map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}</select>`;
        break;
      case 'values': {
        let target = object;
        if (a.type === 'create_record') target = objectNamed(a.object);
        if (a.type === 'update_record' && a.target) target = a.target === 'item' ? item : objectNamed(object?.fields.find((f) => f.name === a.target)?.target);
        control = html`<${ValuesEditor} id=${id} values=${a.values || {}} object=${target} onChange=${(x) => set('values', x)} />`;
        break;
      }
      case 'over': control = html`<${OverInput} id=${id} value=${a[key]} object=${object} onChange=${(x) => set(key, x)} />`; break;
      case 'secretRef': control = html`<${SecretPicker} id=${id} value=${a[key]?.ref || ''} onChange=${(x) => set(key, x ? { ref: x } : undefined)} />`; break;
      default: control = html`<input id=${id} value=${v} onInput=${(e) => set(key, e.target.value)} />`;
    }
    return html`<label key=${key} class=${['textarea', 'code', 'expr', 'values'].includes(kind) ? 'wide' : ''}><span>${label}</span>${control}
      ${help ? html`<small class="muted">${help}</small>` : null}</label>`;
  };
  return html`<div class="action-card" data-pointer=${pointer}>
    <header>
      <span class="icon-dot">${spec.icon}</span><b>${spec.label}</b>
      <input class="action-name" placeholder=${t('wf.stepName')} value=${a.name || ''} onInput=${(e) => set('name', e.target.value)} />
      <div class="spacer"></div>
      ${onUp ? html`<button class="icon" title=${t('wf.moveUp')} onClick=${onUp}>↑</button>` : null}
      ${onDown ? html`<button class="icon" title=${t('wf.moveDown')} onClick=${onDown}>↓</button>` : null}
      <button class="icon" title=${t('wf.remove')} onClick=${onRemove}>×</button>
    </header>
    <div class="form-grid">${spec.fields.map(input)}</div>
    ${a.type === 'branch' ? html`<div class="branches">
      <div class="branch"><h4>${t('wf.then')}</h4><${ActionList} actions=${a.then || []} pointer=${pointer + '/then'} object=${object} item=${item} vars=${vars} errorsAt=${errorsAt} onChange=${(x) => set('then', x)} /></div>
      <div class="branch"><h4>${t('wf.else')}</h4><${ActionList} actions=${a.else || []} pointer=${pointer + '/else'} object=${object} item=${item} vars=${vars} errorsAt=${errorsAt} onChange=${(x) => set('else', x)} /></div>
    </div>` : null}
    ${a.type === 'for_each' ? html`<div class="branches">
      <div class="branch"><h4>${t('wf.forEachItem')}</h4><${ActionList} actions=${a.actions || []} pointer=${pointer + '/actions'} object=${object} item=${itemObjectOf(a.over, object)} vars=${vars} errorsAt=${errorsAt} onChange=${(x) => set('actions', x)} /></div>
    </div>` : null}
    <${PointerErrors} errors=${errorsAt(pointer)} />
  </div>`;
}

function ValuesEditor({ id, values, object, onChange }) {
  const entries = Object.entries(values);
  const fields = object ? object.fields : [];
  const [newField, setNewField] = useState('');
  const add = () => {
    const name = newField || fields.find((f) => !(f.name in values))?.name;
    if (name) onChange({ ...values, [name]: '' });
    setNewField('');
  };
  return html`<div class="values" id=${id}>
    ${entries.map(([k, v]) => html`<div class="value-row" key=${k}>
      <code>${k}</code>
      <input value=${typeof v === 'string' ? v : JSON.stringify(v)} placeholder=t('wf.valuePlaceholder')
        onInput=${(e) => onChange({ ...values, [k]: e.target.value })} />
      <button class="icon" title=${t('wf.remove')} onClick=${() => { const next = { ...values }; delete next[k]; onChange(next); }}>×</button>
    </div>`)}
    <div class="value-row">
      <select aria-label=${t('wf.fieldToSet')} value=${newField} onChange=${(e) => setNewField(e.target.value)}>
        <option value="">${t('wf.fieldPick')}</option>
        ${fields.filter((f) => !(f.name in values)).map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}
      </select>
      <button class="small" onClick=${add}>${t('wf.addValue')}</button>
    </div>
  </div>`;
}

// TestPanel runs the workflow as written, without saving, on a chosen record: a dry run that
// shows what each step would do and changes nothing.
function TestPanel({ w, object: o, report, onReport }) {
  const [q, setQ] = useState('');
  const [found, setFound] = useState([]);
  const [rec, setRec] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!o) return undefined;
    const timer = setTimeout(() => {
      pb.collection(o.name).getList(1, 8, { filter: q ? pb.filter(`${o.titleField} ~ {:q}`, { q }) : '', sort: '-@rowid', skipTotal: true })
        .then((r) => setFound(r.items)).catch(() => setFound([]));
    }, 200);
    return () => clearTimeout(timer);
  }, [q, o?.name]);
  const run = async () => {
    setBusy(true);
    setError('');
    try {
      onReport(await relata('/workflows/test', { method: 'POST', body: { definition: { name: w.name || 'draft', ...definitionOf(w) }, recordId: rec?.id } }));
    } catch (err) {
      setError(err.response?.errors ? err.response.errors.map((e) => `${e.pointer}: ${e.message}`).join('; ') : errorMessage(err));
      onReport(null);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="panel test-panel">
    <h2>${t('wf.test')}</h2>
    <p class="muted small">${t('wf.testNote')}</p>
    ${o ? html`<input type="search" id="wf-test-search" placeholder=${t('wf.find', { object: objectLabel(o, false).toLowerCase() })} value=${q} onInput=${(e) => setQ(e.target.value)} />
      <ul class="pick-list">${found.map((r) => html`<li key=${r.id}><button class=${rec?.id === r.id ? 'picked' : ''} data-id=${r.id}
        onClick=${() => setRec(r)}>${titleOf(o, r)}</button></li>`)}</ul>` : null}
    <button class="primary" id="wf-test" disabled=${busy || (o && !rec)} onClick=${run}>${busy ? t('wf.testing') : rec ? t('wf.testOn', { title: titleOf(o, rec) }) : t('wf.pick')}</button>
    <${ErrorBox} error=${error} />
    ${report ? html`<div class="report" data-testid="test-report">
      <div>${report.triggered ? t('wf.triggerFits') : t('wf.triggerNot')} · ${report.conditionMet ? t('wf.condHolds') : t('wf.condNot')}</div>
      ${report.error ? html`<div class="error">${report.error}</div>` : null}
      <ol>${report.steps.map((s) => html`<li key=${s.path} class=${s.error ? 'failed' : ''}>
        <b>${(actionSpecs()[s.action] || {}).label || s.action}</b>${s.name ? ` (${s.name})` : ''} <span class="muted small">${t('wf.step', { path: s.path })}</span>
        ${s.error ? html`<div class="error small">${s.error}</div>` : null}
        ${s.output ? html`<pre class="json small">${JSON.stringify(s.output, null, 2)}</pre>` : null}
      </li>`)}</ol>
      ${report.conditionMet && report.triggered && !report.steps.length ? html`<p class="muted">${t('wf.noActions')}</p>` : null}
    </div>` : null}
  </div>`;
}


// SecretPicker chooses a stored secret by name and stores new ones. Secrets are write-only:
// the list has names, a value typed here goes to the server and is never read back.
function SecretPicker({ id, value, onChange }) {
  const [names, setNames] = useState([]);
  const [adding, setAdding] = useState(false);
  const [name, setName] = useState('');
  const [secret, setSecret] = useState('');
  const [err, setErr] = useState('');
  const load = () => relata('/secrets').then((l) => setNames(l.map((x) => x.name))).catch(() => setNames([]));
  useEffect(() => { load(); }, []);
  const save = async () => {
    setErr('');
    try {
      await relata('/secrets/' + encodeURIComponent(name), { method: 'PUT', body: { value: secret } });
      setSecret('');
      setAdding(false);
      await load();
      onChange(name);
    } catch (e) {
      setErr(errorMessage(e));
    }
  };
  return html`<span class="secret-picker">
    <select id=${id} value=${value} onChange=${(e) => onChange(e.target.value)}><option value="">${t('wf.noneSecret')}</option>
      ${[...new Set([...names, ...(value ? [value] : [])])].map((n) => html`<option value=${n}>${n}</option>`)}</select>
    ${adding ? html`<input aria-label=${t('wf.secretName')} placeholder="crm-hook" value=${name} onInput=${(e) => setName(e.target.value)} />
      <input aria-label=${t('wf.secretValue')} type="password" autocomplete="new-password" value=${secret} onInput=${(e) => setSecret(e.target.value)} />
      <button type="button" onClick=${save}>${t('wf.store')}</button> <button type="button" class="link" onClick=${() => setAdding(false)}>${t('wf.cancel')}</button>
      ${err ? html`<small class="error">${err}</small>` : null}`
      : html`<button type="button" class="link" onClick=${() => setAdding(true)}>${t('wf.storeNew')}</button>`}
  </span>`;
}

// scriptAPI is what a script sees (docs/scripting.md), for the script editor's autocomplete.
const scriptAPI = [
  ['record', 'object', "The triggering record's values by field name (frozen)"],
  ['old', 'object', 'The values before the change; null on create (frozen)'],
  ['now', 'string', "The run's time as an ISO string"],
  ['set', 'set(field, value)', 'Changes a field of the triggering record, applied when the script ends', true],
  ['find', 'find(object, filter, params?, limit? | {limit, offset, sort})', 'Reads records as the run-as user', true],
  ['create', 'create(object, values)', 'Creates a record and returns it', true],
  ['update', 'update(object, id, values)', 'Changes a record and returns it', true],
  ['log', 'log(...values)', "Writes a line to the step's log", true],
].map(([name, type, doc, fn]) => ({ name, type, doc, function: !!fn }));

// scriptVars: the script API and the record's and old values' fields.
function scriptVars(vars) {
  return [...scriptAPI, ...vars.filter((v) => v.name.startsWith('record.') || v.name.startsWith('old.'))];
}

// useItemVars adds item.<field> (the fields of a for_each's items) to the variables, for the
// expressions inside a for_each.
function useItemVars(vars, item) {
  const [itemVars, setItemVars] = useState([]);
  useEffect(() => {
    if (!item) { setItemVars([]); return; }
    relata(`/objects/${item.name}/variables`).then((l) => setItemVars(l.filter((v) => v.name.startsWith('record.'))
      .map((v) => ({ ...v, name: 'item.' + v.name.slice(7), doc: 'Each item: ' + v.doc })))).catch(() => setItemVars([]));
  }, [item?.name]);
  return useMemo(() => (itemVars.length ? [...itemVars, ...vars] : vars), [vars, itemVars]);
}

// placeholders: the {:name}s of a for_each filter and the params already set, in order.
function placeholders(over) {
  const names = [...(over.filter || '').matchAll(/\{:(\w+)\}/g)].map((m) => m[1]);
  return [...new Set([...names, ...Object.keys(over.params || {})])];
}

// OverInput edits a for_each's over: a relation field, a back-relation, or records of an
// object matching a filter (the {"object", "filter"} form, evaluated as the run-as user).
function OverInput({ id, value, object, onChange }) {
  const query = value && typeof value === 'object';
  const rels = (object?.fields || []).filter((f) => f.type === 'relation');
  const backs = allObjects().flatMap((x) => x.fields.filter((f) => f.type === 'relation' && f.target === object?.name).map((f) => ({ x, f })));
  return html`<div class="over" id=${id + '-form'}>
    <select aria-label=${t('wf.goOver')} data-testid="over-kind" value=${query ? 'query' : 'field'}
      onChange=${(e) => onChange(e.target.value === 'query' ? { object: object?.name || '', filter: '' } : '')}>
      <option value="field">${t('wf.related')}</option><option value="query">${t('wf.matching')}</option></select>
    ${query ? html`
      <select id=${id + '-object'} aria-label=${t('wf.object')} value=${value.object || ''} onChange=${(e) => onChange({ ...value, object: e.target.value })}>
        <option value="">—</option>${allObjects().map((x) => html`<option value=${x.name}>${objectLabel(x)}</option>`)}</select>
      <input id=${id + '-filter'} aria-label=${t('wf.filter')} placeholder='stage = "open" && company = {:id}' value=${value.filter || ''}
        onInput=${(e) => onChange({ ...value, filter: e.target.value })} />
      <small class="muted">${t('wf.filterNote', { objects: objectNamed(value.object) ? objectLabel(objectNamed(value.object)).toLowerCase() : t('wf.records') })}</small>
      ${placeholders(value).map((n) => html`<label key=${n} class="over-param"><code>{:${n}}</code>
        <input id=${id + '-param-' + n} value=${value.params?.[n] ?? ''} placeholder="=record.id"
          onInput=${(e) => onChange({ ...value, params: { ...(value.params || {}), [n]: e.target.value } })} /></label>`)}`
    : html`<input id=${id} list=${id + '-list'} value=${value || ''} placeholder=${t('wf.overPlaceholder')} onInput=${(e) => onChange(e.target.value)} />
      <datalist id=${id + '-list'}>${rels.map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}
        ${backs.map(({ x, f }) => html`<option value=${x.name + '.' + f.name}>${t('wf.whose', { objects: objectLabel(x), field: fieldLabel(f).toLowerCase() })}</option>`)}</datalist>`}
  </div>`;
}

// ConditionEditor edits a condition as rows of field / operator / value in AND/OR groups, and
// shows the expr it writes; t('wf.editText') gives the expression itself. A text the rows cannot
// show (condition.js says why) stays in the text editor.
export function ConditionEditor({ id, value, object, vars, onChange, placeholder }) {
  const read = (text) => fromExpr(object, text || '');
  const [tree, setTree] = useState(() => read(value).tree || { join: 'and', rows: [] });
  const [text, setText] = useState(() => !!read(value).error);
  const parsed = read(value);
  let written = '';
  try { written = toExpr(object, tree); } catch { written = null; }
  useEffect(() => {
    if ((value || '') === written) return;
    if (parsed.tree) setTree(parsed.tree);
    else setText(true);
  }, [value, object?.name, object?.item?.name]);
  const change = (next) => {
    setTree(next);
    onChange(toExpr(object, next));
  };
  if (text || !object) {
    return html`<div class="condition-editor" data-testid=${id + '-editor'}>
      <${ExprInput} id=${id} value=${value} vars=${vars} onChange=${onChange} placeholder=${placeholder} />
      ${parsed.error && value ? html`<small class="muted" data-testid="condition-note">${t('wf.cannotShow', { reason: parsed.error })}</small>` : null}
      ${object ? html`<button type="button" class="link" data-testid="condition-rows" disabled=${!!parsed.error}
        onClick=${() => { setTree(parsed.tree); setText(false); }}>${t('wf.editRows')}</button>` : null}
    </div>`;
  }
  return html`<div class="condition-editor" data-testid=${id + '-editor'}>
    <${ConditionGroup} group=${tree} object=${object} path=${id} top=${true} onChange=${change} />
    <div class="condition-expr"><code id=${id + '-expr'} data-testid="condition-expr">${written || t('wf.always')}</code>
      <button type="button" class="link" data-testid="condition-text" onClick=${() => setText(true)}>${t('wf.editText')}</button></div>
  </div>`;
}

function ConditionGroup({ group, object, path, top, onChange, onRemove }) {
  const rows = group.rows || [];
  const setRow = (i, r) => onChange({ ...group, rows: rows.map((x, j) => (j === i ? r : x)) });
  const removeRow = (i) => onChange({ ...group, rows: rows.filter((_, j) => j !== i) });
  return html`<div class=${'condition-group' + (top ? ' top' : '')} data-path=${path}>
    ${rows.length > 1 || !top ? html`<select class="join" aria-label=${t('wf.join')} value=${group.join} onChange=${(e) => onChange({ ...group, join: e.target.value })}>
      <option value="and">${t('wf.allOf')}</option><option value="or">${t('wf.anyOf')}</option></select>` : null}
    ${rows.map((r, i) => (r.rows
      ? html`<${ConditionGroup} key=${i} group=${r} object=${object} path=${path + '-' + i} onChange=${(x) => setRow(i, x)} onRemove=${() => removeRow(i)} />`
      : html`<${ConditionRow} key=${i} row=${r} object=${object} path=${path + '-' + i} onChange=${(x) => setRow(i, x)} onRemove=${() => removeRow(i)} />`))}
    <div class="condition-add">
      <button type="button" class="small" data-testid="add-row" onClick=${() => onChange({ ...group, rows: [...rows, newRow(object)] })}>${t('wf.addCondition')}</button>
      <button type="button" class="small" data-testid="add-group" onClick=${() => onChange({ ...group, rows: [...rows, { join: group.join === 'and' ? 'or' : 'and', rows: [newRow(object)] }] })}>${t('wf.addGroup')}</button>
      ${onRemove ? html`<button type="button" class="link" onClick=${onRemove}>${t('wf.removeGroup')}</button>` : null}
    </div>
  </div>`;
}

// opLabels names the condition operators in the current language (condition.js has the English).
const opLabels = () => ({
  changed: t('cond.changed'), changedTo: t('cond.changedTo'), changedFromTo: t('cond.changedFromTo'), is: t('cond.is'), isNot: t('cond.isNot'),
  contains: t('cond.contains'), empty: t('cond.empty'), notEmpty: t('cond.notEmpty'), between: t('cond.between'), in: t('cond.in'),
  notIn: t('cond.notIn'), has: t('cond.has'), hasNot: t('cond.hasNot'), before: t('cond.before'), after: t('cond.after'),
  agoMore: t('cond.agoMore'), agoLess: t('cond.agoLess'), nextDays: t('cond.nextDays'), true: t('cond.true'), false: t('cond.false'),
  actor: t('cond.actor'), notActor: t('cond.notActor'),
});

function ConditionRow({ row, object, path, onChange, onRemove }) {
  const fields = conditionFields(object);
  const f = fields.find((x) => x.path === row.field);
  const kind = kindOf(f);
  const ops = opsFor(kind, f?.item);
  // An operator change keeps the value when it is of the same sort (a list, a number of days,
  // or a single value).
  const sort = (op) => (op === 'in' || op === 'notIn' ? 'list' : ['agoMore', 'agoLess', 'nextDays'].includes(op) ? 'days' : needsValue(op) ? 'one' : '');
  const setOp = (op) => onChange({ field: row.field, op, value: sort(op) && sort(op) === sort(row.op) ? row.value : defaultValue(kind, op),
    ...(needsValue(op) === 2 ? { value2: row.value2 ?? defaultValue(kind, op) } : {}) });
  const n = needsValue(row.op);
  return html`<div class="condition-row" data-path=${path}>
    <select id=${path + '-field'} aria-label=${t('wf.field')} value=${f ? f.path : ''} onChange=${(e) => onChange(newRow(object, e.target.value))}>
      ${fields.map((x) => html`<option value=${x.path}>${fieldLabel(x)}</option>`)}</select>
    <select id=${path + '-op'} aria-label=${t('wf.operator')} value=${row.op} onChange=${(e) => setOp(e.target.value)}>
      ${ops.map(([v, l]) => html`<option value=${v}>${opLabels()[v] || l}</option>`)}</select>
    ${n >= 1 ? html`<${ConditionValue} id=${path + '-value'} f=${f} kind=${kind} op=${row.op} object=${object} value=${row.value} onChange=${(v) => onChange({ ...row, value: v })} />` : null}
    ${n === 2 ? html`<span class="muted">${row.op === 'between' ? t('wf.and') : t('wf.to')}</span>
      <${ConditionValue} id=${path + '-value2'} f=${f} kind=${kind} op=${row.op} object=${object} value=${row.value2} onChange=${(v) => onChange({ ...row, value2: v })} />` : null}
    ${['agoMore', 'agoLess', 'nextDays'].includes(row.op) ? html`<span class="muted">${t('wf.days')}</span>` : null}
    <button type="button" class="icon" title=${t('wf.remove')} onClick=${onRemove}>×</button>
  </div>`;
}

function ConditionValue({ id, f, kind, op, object, value, onChange }) {
  const choices = kind === 'select' || (kind === 'list' && f.type === 'select') ? (f.type === 'stage' ? stageOptions(f.item ? object.item : object, f) : optionsOf(f)) : null;
  if (op === 'in' || op === 'notIn') {
    const set = new Set(value || []);
    return html`<span class="option-picker" id=${id}>${choices.map((c) => html`<label key=${c.value} class="chip-check">
      <input type="checkbox" value=${c.value} checked=${set.has(c.value)}
        onChange=${(e) => onChange(choices.map((x) => x.value).filter((v) => (v === c.value ? e.target.checked : set.has(v))))} />${c.label}</label>`)}</span>`;
  }
  if (['agoMore', 'agoLess', 'nextDays'].includes(op) || kind === 'number') {
    return html`<input id=${id} type="number" class="num" value=${value} onInput=${(e) => onChange(e.target.value === '' ? '' : Number(e.target.value))} />`;
  }
  if (op === 'before' || op === 'after') return html`<input id=${id} type="date" value=${value} onInput=${(e) => onChange(e.target.value)} />`;
  if (kind === 'bool') {
    return html`<select id=${id} value=${String(value)} onChange=${(e) => onChange(e.target.value === 'true')}><option value="true">${t('wf.yes')}</option><option value="false">${t('wf.no')}</option></select>`;
  }
  if (choices) {
    return html`<select id=${id} value=${value} onChange=${(e) => onChange(e.target.value)}><option value="">—</option>
      ${choices.map((c) => html`<option value=${c.value}>${c.label}</option>`)}</select>`;
  }
  if (kind === 'user' || kind === 'relation') {
    const target = kind === 'user' ? 'users' : f.target;
    return html`<span id=${id}><${RelationPicker} field=${{ ...f, target, multiple: false }} value=${value} onChange=${onChange} /></span>`;
  }
  return html`<input id=${id} value=${value} onInput=${(e) => onChange(e.target.value)} />`;
}
