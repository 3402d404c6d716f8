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

export const triggerTypes = [
  ['record_created', 'A record is created'],
  ['record_updated', 'A record is updated'],
  ['record_deleted', 'A record is deleted'],
  ['field_changed', 'A field changes'],
  ['stage_changed', 'The stage changes'],
  ['date', 'A date is reached'],
  ['dormant', 'A record goes quiet'],
  ['schedule', 'On a schedule'],
  ['form_submitted', 'A form is submitted'],
  ['manual', 'Started by hand'],
  ['segment_entered', 'A contact enters a segment'],
  ['segment_left', 'A contact leaves a segment'],
];

// sequenceTemplate is the "New sequence" starting point: a multi-step nurture of a contact
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
const exitCriteria = [
  ['replied()', 'Replied'],
  ['unsubscribed()', 'Unsubscribed'],
  ['record.lifecycle_stage == "customer"', 'Stage reached'],
  ['inSegment("…")', 'In a segment'],
  ['!inSegment("…")', 'Left a segment'],
];

// The palette: each action type with its form, field by field: [key, kind, label, help, choices].
export const actionSpecs = {
  create_task: { label: 'Create task', icon: '☐', init: { subject: '', due: '1d', assignee: 'owner' }, fields: [
    ['subject', 'text', 'Subject', 'Text, or an expression after "=": ="Call " + record.name'],
    ['body', 'textarea', 'Details'],
    ['due', 'text', 'Due', '1d, today+2d, or an expression'],
    ['assignee', 'text', 'Assignee', 'owner, actor, an email, or an expression'],
    ['activityType', 'select', 'Activity type', '', ['', 'task', 'call', 'meeting', 'email', 'note']],
  ] },
  update_record: { label: 'Update fields', icon: '✎', init: { values: {} }, fields: [
    ['target', 'relationField', 'Record to update', 'Empty: the record itself; or a record it links to'],
    ['values', 'values', 'New values', 'Values starting with "=" are expressions: =record.amount * 0.9'],
  ] },
  change_stage: { label: 'Change stage', icon: '➜', init: { stage: '' }, fields: [
    ['stage', 'stage', 'Move to stage'],
  ] },
  create_record: { label: 'Create record', icon: '＋', init: { object: '', values: {} }, fields: [
    ['object', 'object', 'Object'],
    ['values', 'values', 'Values'],
    ['link', 'checkbox', 'Link it to the triggering record'],
  ] },
  send_email: { label: 'Send email', icon: '✉', init: { to: 'email', category: 'transactional' }, fields: [
    ['to', 'text', 'To', 'An email field (email), a relation, owner, an address, an expression; item inside For each'],
    ['subject', 'text', 'Subject'],
    ['text', 'textarea', 'Text'],
    ['template', 'text', 'Template', 'Or the name of an email template'],
    ['category', 'select', 'Category', 'Marketing mail carries an unsubscribe link', ['transactional', 'marketing']],
  ] },
  assign_owner: { label: 'Assign owner', icon: '👤', init: { strategy: 'round_robin', role: 'sales' }, fields: [
    ['strategy', 'select', 'Strategy', '', ['round_robin', 'least_loaded']],
    ['role', 'select', 'Among users with role', '', ['sales', 'manager', 'admin']],
    ['team', 'text', 'Team (optional)'],
  ] },
  webhook: { label: 'Call webhook', icon: '⇄', init: { url: '', method: 'POST' }, fields: [
    ['url', 'text', 'URL'],
    ['method', 'select', 'Method', '', ['POST', 'PUT', 'PATCH']],
    ['secret', 'secretRef', 'Signing secret (optional)', 'A stored secret, by name: its value is never shown again'],
    ['timeout', 'text', 'Timeout', 'e.g. 10s'],
  ] },
  script: { label: 'Run script', icon: '{ }', init: { source: '' }, fields: [
    ['source', 'code', 'JavaScript', 'Runs sandboxed with a time limit'],
    ['timeout', 'text', 'Timeout', 'e.g. 500ms'],
  ] },
  wait: { label: 'Wait', icon: '⏸', init: { for: '1d' }, fields: [
    ['for', 'text', 'Wait for', '30m, 4h, 2d, 1w'],
    ['until', 'expr', 'Or until', 'an expression giving a time'],
  ] },
  branch: { label: 'If / else', icon: '⑂', init: { if: '', then: [], else: [] }, fields: [
    ['if', 'expr', 'If'],
  ] },
  for_each: { label: 'For each related record', icon: '↻', init: { over: '', actions: [] }, fields: [
    ['over', 'over', 'Over', 'A relation field (contacts), records pointing here (deals.company), or {"object": …, "filter": …}; the actions below see each one as item'],
  ] },
  notify: { label: 'Notify a user', icon: '!', init: { to: 'owner', title: '' }, fields: [
    ['to', 'text', 'To', 'owner, actor, a user field, an email, or an expression'],
    ['title', 'text', 'Title', 'Text, or an expression after "=": ="Big deal: " + record.name'],
    ['body', 'textarea', 'Details'],
    ['template', 'text', 'Template', 'Or the name of an email template: its subject and text'],
    ['email', 'checkbox', 'Also by email'],
  ] },
};

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
  return html`<section class="workflows-page"><header class="page-head"><h1>Workflows</h1></header>
    <div class="panel" data-testid="workflows-managers-only"><p>Workflows automate the pipeline: tasks, emails and stage changes
    that happen on their own. Managers and admins set them up, so your account cannot see or change them.</p>
    <p class="muted">Their results appear on each record's timeline. Ask your manager for a new rule.</p></div></section>`;
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
    <header class="page-head"><h1>Workflows</h1><div class="spacer"></div>
      <a class="button" href="#/runs">Run history</a>
      <a class="button" href="#/workflows/new-sequence" id="new-sequence">New sequence</a>
      <a class="button primary" href="#/workflows/new" id="new-workflow">New workflow</a></header>
    <${ErrorBox} error=${error} />
    ${!items ? html`<${Spinner} />` : !items.length ? html`<${Empty}>No workflows yet.</${Empty}>` : html`
    <table class="records"><thead><tr><th>Name</th><th>Object</th><th>When</th><th>Enabled</th><th></th></tr></thead>
    <tbody>${items.map((w) => html`<tr key=${w.id}>
      <td><a href=${'#/workflows/' + w.id}>${w.name}</a><div class="muted small">${w.description}</div></td>
      <td>${objectNamed(w.object) ? objectLabel(objectNamed(w.object)) : w.object}</td>
      <td>${(triggerTypes.find((t) => t[0] === w.definition?.trigger?.type) || [])[1] || w.definition?.trigger?.type}</td>
      <td><label class="switch"><input type="checkbox" checked=${w.enabled} onChange=${() => toggle(w)} aria-label=${'Enabled: ' + w.name} /><span></span></label></td>
      <td><a href=${'#/runs?workflow=' + encodeURIComponent(w.name)}>Runs</a></td>
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
      toast(`Saved${rec.enabled ? ' and enabled' : ''}: ${rec.name}`);
      if (!recId) { setRecId(rec.id); history.replaceState(null, '', '#/workflows/' + rec.id); }
    } catch (err) {
      setSaveError(errorMessage(err));
    }
  };
  const errorsAt = (prefix) => errors.filter((e) => e.pointer === prefix || (e.pointer.startsWith(prefix + '/') && !/^\/(then|else)\/\d+/.test(e.pointer.slice(prefix.length))));
  const fieldsOf = (types) => (o ? o.fields.filter((f) => types.includes(f.type)) : []);
  const t = w.trigger;
  const stageF = o && o.fields.find((f) => f.type === 'stage');

  return html`<section class="builder">
    <header class="page-head">
      <div><div class="crumbs"><a href="#/workflows">Workflows</a></div><h1>${w.name || 'New workflow'}</h1></div>
      <div class="spacer"></div>
      <span class=${'validity ' + (valid ? 'ok' : valid === false ? 'bad' : '')} data-testid="validity">${valid ? '✓ Valid' : valid === false ? `${errors.length} problem${errors.length === 1 ? '' : 's'}` : pristine ? 'New draft' : 'Checking…'}</span>
      <label class="switch-label"><label class="switch"><input type="checkbox" id="wf-enabled" checked=${w.enabled} onChange=${(e) => set({ enabled: e.target.checked })} /><span></span></label> Enabled</label>
      <button class="primary" id="wf-save" onClick=${() => save()}>Save</button>
    </header>
    <${ErrorBox} error=${saveError} />
    <div class="builder-grid">
      <div class="builder-main">
        <div class="panel step-card">
          <h2>1. Name</h2>
          <div class="form-grid">
            <label><span>Name</span><input id="wf-name" value=${w.name} placeholder="big-deal-alert" pattern="[a-z0-9][a-z0-9_-]*" onInput=${(e) => set({ name: e.target.value })} />
              <small class="muted">Lowercase letters, digits, - and _.</small></label>
            <label><span>Description</span><input id="wf-description" value=${w.description} onInput=${(e) => set({ description: e.target.value })} /></label>
          </div>
        </div>
        <div class="panel step-card">
          <h2>2. When</h2>
          <div class="form-grid">
            <label><span>Object</span><select id="wf-object" value=${w.object} onChange=${(e) => set({ object: e.target.value })}>
              ${allObjects().map((x) => html`<option value=${x.name}>${objectLabel(x)}</option>`)}</select></label>
            <label><span>Trigger</span><select id="wf-trigger" value=${t.type} onChange=${(e) => set({ trigger: { type: e.target.value } })}>
              ${triggerTypes.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></label>
            ${t.type === 'field_changed' || t.type === 'date' ? html`<label><span>Field</span><select id="wf-trigger-field" value=${t.field || ''} onChange=${(e) => setTrigger({ field: e.target.value })}>
              <option value="">—</option>${(t.type === 'date' ? fieldsOf(['date', 'datetime']) : o?.fields || []).map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}</select></label>` : null}
            ${t.type === 'stage_changed' && stageF ? html`
              <label><span>From stage</span><select id="wf-trigger-from" value=${t.from || ''} onChange=${(e) => setTrigger({ from: e.target.value })}>
                <option value="">any</option>${stageOptions(o, stageF).map((s) => html`<option value=${s.value}>${s.label}</option>`)}</select></label>
              <label><span>To stage</span><select id="wf-trigger-to" value=${t.to || ''} onChange=${(e) => setTrigger({ to: e.target.value })}>
                <option value="">any</option>${stageOptions(o, stageF).map((s) => html`<option value=${s.value}>${s.label}</option>`)}</select></label>` : null}
            ${t.type === 'field_changed' ? html`<label><span>To value (optional)</span><input value=${t.to || ''} onInput=${(e) => setTrigger({ to: e.target.value })} /></label>` : null}
            ${t.type === 'date' ? html`<label><span>Offset</span><input value=${t.offset || ''} placeholder="-30d" onInput=${(e) => setTrigger({ offset: e.target.value })} /></label>` : null}
            ${t.type === 'dormant' ? html`<label><span>Quiet for days</span><input type="number" min="1" value=${t.days || ''} onInput=${(e) => setTrigger({ days: Number(e.target.value) || undefined })} /></label>` : null}
            ${t.type === 'schedule' ? html`<label><span>Cron (UTC)</span><input value=${t.cron || ''} placeholder="0 9 * * 1-5" onInput=${(e) => setTrigger({ cron: e.target.value })} /></label>` : null}
            ${t.type === 'segment_entered' || t.type === 'segment_left' ? html`<label><span>Segment</span><select id="wf-trigger-segment" value=${t.segment || ''} onChange=${(e) => setTrigger({ segment: e.target.value })}>
              <option value="">—</option>${segs.map((x) => html`<option value=${x.name}>${x.name}</option>`)}</select>
              <small class="muted">Fired when the stored membership is refreshed (every 15 minutes), once per entry.</small></label>` : null}
            ${t.type === 'form_submitted' ? html`<label><span>Form</span><input value=${t.form || ''} placeholder="contact-us" onInput=${(e) => setTrigger({ form: e.target.value })} /></label>` : null}
          </div>
          <${PointerErrors} errors=${errorsAt('/trigger').concat(errorsAt('/object'))} />
        </div>
        <div class="panel step-card">
          <h2>3. Only if <span class="muted small">(optional)</span></h2>
          <${ConditionEditor} id="wf-condition" value=${w.condition} object=${o} vars=${vars} onChange=${(v) => set({ condition: v })}
            placeholder='record.amount > 10000 && record.source == "referral"' />
          <${PointerErrors} errors=${errorsAt('/condition')} />
        </div>
        <div class="panel step-card" data-testid="stop-if">
          <h2>Stop when <span class="muted small">(exit criteria, optional)</span></h2>
          <p class="muted small">Checked on the record's current values before every step: when it holds, the run stops.</p>
          <div class="chips">${exitCriteria.map(([expr, label]) => html`<button type="button" class="chip" key=${label}
            onClick=${() => setW((cur) => ({ ...cur, stopIf: cur.stopIf ? cur.stopIf + ' || ' + expr : expr }))}>+ ${label}</button>`)}</div>
          <${ExprInput} id="wf-stopif" value=${w.stopIf || ''} vars=${vars} onChange=${(v) => set({ stopIf: v })}
            placeholder='replied() || unsubscribed()' />
          <${PointerErrors} errors=${errorsAt('/stopIf')} />
        </div>
        <div class="panel step-card">
          <h2>4. Then</h2>
          <${ActionList} actions=${w.actions} pointer="/actions" object=${o} vars=${vars} errorsAt=${errorsAt}
            onChange=${(actions) => set({ actions })} />
        </div>
        ${errors.length ? html`<div class="panel problems" data-testid="problems"><h2>Problems</h2><ul>${errors.map((e, i) => html`<li key=${i}>
          <code>${e.pointer || '/'}</code> ${e.message}</li>`)}</ul></div>` : null}
        <p><button class="link" onClick=${() => setShowJSON(!showJSON)}>${showJSON ? 'Hide' : 'Show'} the definition (JSON)</button></p>
        ${showJSON ? html`<pre class="json">${JSON.stringify({ name: w.name, description: w.description || undefined, enabled: w.enabled, ...definitionOf(w) }, null, 2)}</pre>` : null}
      </div>
      <aside class="builder-side">
        <${TestPanel} w=${w} object=${o} onReport=${setReport} report=${report} />
        ${recId ? html`<div class="panel"><h2>History</h2><a href=${'#/runs?workflow=' + encodeURIComponent(w.name)}>Runs of this workflow →</a></div>` : null}
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
    ${adding ? html`<div class="palette" data-testid="palette">${Object.entries(actionSpecs).map(([type, spec]) => html`<button key=${type} data-action=${type}
        onClick=${() => { onChange([...actions, { type, ...structuredClone(spec.init) }]); setAdding(false); }}>
        <span class="icon-dot">${spec.icon}</span> ${spec.label}</button>`)}
        <button class="link" onClick=${() => setAdding(false)}>Cancel</button></div>`
      : html`<button class="add-action" onClick=${() => setAdding(true)}>+ Add action</button>`}
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
  const spec = actionSpecs[a.type] || { label: a.type, fields: [] };
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
        control = html`<select id=${id} value=${v} onChange=${(e) => set(key, e.target.value)}><option value="">The record itself</option>
          ${item ? html`<option value="item">Each item (${objectLabel(item, false).toLowerCase()})</option>` : null}
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
      <input class="action-name" placeholder="name in the run log (optional)" value=${a.name || ''} onInput=${(e) => set('name', e.target.value)} />
      <div class="spacer"></div>
      ${onUp ? html`<button class="icon" title="Move up" onClick=${onUp}>↑</button>` : null}
      ${onDown ? html`<button class="icon" title="Move down" onClick=${onDown}>↓</button>` : null}
      <button class="icon" title="Remove" onClick=${onRemove}>×</button>
    </header>
    <div class="form-grid">${spec.fields.map(input)}</div>
    ${a.type === 'branch' ? html`<div class="branches">
      <div class="branch"><h4>Then</h4><${ActionList} actions=${a.then || []} pointer=${pointer + '/then'} object=${object} item=${item} vars=${vars} errorsAt=${errorsAt} onChange=${(x) => set('then', x)} /></div>
      <div class="branch"><h4>Else</h4><${ActionList} actions=${a.else || []} pointer=${pointer + '/else'} object=${object} item=${item} vars=${vars} errorsAt=${errorsAt} onChange=${(x) => set('else', x)} /></div>
    </div>` : null}
    ${a.type === 'for_each' ? html`<div class="branches">
      <div class="branch"><h4>For each item</h4><${ActionList} actions=${a.actions || []} pointer=${pointer + '/actions'} object=${object} item=${itemObjectOf(a.over, object)} vars=${vars} errorsAt=${errorsAt} onChange=${(x) => set('actions', x)} /></div>
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
      <input value=${typeof v === 'string' ? v : JSON.stringify(v)} placeholder='value, or =expression'
        onInput=${(e) => onChange({ ...values, [k]: e.target.value })} />
      <button class="icon" title="Remove" onClick=${() => { const next = { ...values }; delete next[k]; onChange(next); }}>×</button>
    </div>`)}
    <div class="value-row">
      <select aria-label="Field to set" value=${newField} onChange=${(e) => setNewField(e.target.value)}>
        <option value="">field…</option>
        ${fields.filter((f) => !(f.name in values)).map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}
      </select>
      <button class="small" onClick=${add}>Add value</button>
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
    const t = setTimeout(() => {
      pb.collection(o.name).getList(1, 8, { filter: q ? pb.filter(`${o.titleField} ~ {:q}`, { q }) : '', sort: '-@rowid', skipTotal: true })
        .then((r) => setFound(r.items)).catch(() => setFound([]));
    }, 200);
    return () => clearTimeout(t);
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
    <h2>Test</h2>
    <p class="muted small">A dry run on a record: shows what would happen, changes nothing.</p>
    ${o ? html`<input type="search" id="wf-test-search" placeholder=${'Find a ' + objectLabel(o, false).toLowerCase() + '…'} value=${q} onInput=${(e) => setQ(e.target.value)} />
      <ul class="pick-list">${found.map((r) => html`<li key=${r.id}><button class=${rec?.id === r.id ? 'picked' : ''} data-id=${r.id}
        onClick=${() => setRec(r)}>${titleOf(o, r)}</button></li>`)}</ul>` : null}
    <button class="primary" id="wf-test" disabled=${busy || (o && !rec)} onClick=${run}>${busy ? 'Testing…' : rec ? `Test on “${titleOf(o, rec)}”` : 'Pick a record to test'}</button>
    <${ErrorBox} error=${error} />
    ${report ? html`<div class="report" data-testid="test-report">
      <div>${report.triggered ? '✓ Trigger fits' : '✗ Trigger does not fit'} · ${report.conditionMet ? '✓ Condition holds' : '✗ Condition does not hold'}</div>
      ${report.error ? html`<div class="error">${report.error}</div>` : null}
      <ol>${report.steps.map((s) => html`<li key=${s.path} class=${s.error ? 'failed' : ''}>
        <b>${(actionSpecs[s.action] || {}).label || s.action}</b>${s.name ? ` (${s.name})` : ''} <span class="muted small">step ${s.path}</span>
        ${s.error ? html`<div class="error small">${s.error}</div>` : null}
        ${s.output ? html`<pre class="json small">${JSON.stringify(s.output, null, 2)}</pre>` : null}
      </li>`)}</ol>
      ${report.conditionMet && report.triggered && !report.steps.length ? html`<p class="muted">No actions.</p>` : null}
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
    <select id=${id} value=${value} onChange=${(e) => onChange(e.target.value)}><option value="">none</option>
      ${[...new Set([...names, ...(value ? [value] : [])])].map((n) => html`<option value=${n}>${n}</option>`)}</select>
    ${adding ? html`<input aria-label="Secret name" placeholder="crm-hook" value=${name} onInput=${(e) => setName(e.target.value)} />
      <input aria-label="Secret value" type="password" autocomplete="new-password" value=${secret} onInput=${(e) => setSecret(e.target.value)} />
      <button type="button" onClick=${save}>Store</button> <button type="button" class="link" onClick=${() => setAdding(false)}>Cancel</button>
      ${err ? html`<small class="error">${err}</small>` : null}`
      : html`<button type="button" class="link" onClick=${() => setAdding(true)}>Store a new secret…</button>`}
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
    <select aria-label="Go over" data-testid="over-kind" value=${query ? 'query' : 'field'}
      onChange=${(e) => onChange(e.target.value === 'query' ? { object: object?.name || '', filter: '' } : '')}>
      <option value="field">related records</option><option value="query">records matching a filter</option></select>
    ${query ? html`
      <select id=${id + '-object'} aria-label="Object" value=${value.object || ''} onChange=${(e) => onChange({ ...value, object: e.target.value })}>
        <option value="">—</option>${allObjects().map((x) => html`<option value=${x.name}>${objectLabel(x)}</option>`)}</select>
      <input id=${id + '-filter'} aria-label="Filter" placeholder='stage = "open" && company = {:id}' value=${value.filter || ''}
        onInput=${(e) => onChange({ ...value, filter: e.target.value })} />
      <small class="muted">A PocketBase filter over ${objectLabel(objectNamed(value.object) || { name: 'records' }).toLowerCase()}; read as the run-as user.
        Each {:name} in it takes its value below: a literal, or an expression after "=" (=record.id).</small>
      ${placeholders(value).map((n) => html`<label key=${n} class="over-param"><code>{:${n}}</code>
        <input id=${id + '-param-' + n} value=${value.params?.[n] ?? ''} placeholder="=record.id"
          onInput=${(e) => onChange({ ...value, params: { ...(value.params || {}), [n]: e.target.value } })} /></label>`)}`
    : html`<input id=${id} list=${id + '-list'} value=${value || ''} placeholder="contacts, or deals.company" onInput=${(e) => onChange(e.target.value)} />
      <datalist id=${id + '-list'}>${rels.map((f) => html`<option value=${f.name}>${fieldLabel(f)}</option>`)}
        ${backs.map(({ x, f }) => html`<option value=${x.name + '.' + f.name}>${objectLabel(x)} whose ${fieldLabel(f).toLowerCase()} is this record</option>`)}</datalist>`}
  </div>`;
}

// ConditionEditor edits a condition as rows of field / operator / value in AND/OR groups, and
// shows the expr it writes; "Edit as text" gives the expression itself. A text the rows cannot
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
      ${parsed.error && value ? html`<small class="muted" data-testid="condition-note">The row editor cannot show this: ${parsed.error}.</small>` : null}
      ${object ? html`<button type="button" class="link" data-testid="condition-rows" disabled=${!!parsed.error}
        onClick=${() => { setTree(parsed.tree); setText(false); }}>Edit with rows</button>` : null}
    </div>`;
  }
  return html`<div class="condition-editor" data-testid=${id + '-editor'}>
    <${ConditionGroup} group=${tree} object=${object} path=${id} top=${true} onChange=${change} />
    <div class="condition-expr"><code id=${id + '-expr'} data-testid="condition-expr">${written || 'Always'}</code>
      <button type="button" class="link" data-testid="condition-text" onClick=${() => setText(true)}>Edit as text</button></div>
  </div>`;
}

function ConditionGroup({ group, object, path, top, onChange, onRemove }) {
  const rows = group.rows || [];
  const setRow = (i, r) => onChange({ ...group, rows: rows.map((x, j) => (j === i ? r : x)) });
  const removeRow = (i) => onChange({ ...group, rows: rows.filter((_, j) => j !== i) });
  return html`<div class=${'condition-group' + (top ? ' top' : '')} data-path=${path}>
    ${rows.length > 1 || !top ? html`<select class="join" aria-label="Join" value=${group.join} onChange=${(e) => onChange({ ...group, join: e.target.value })}>
      <option value="and">All of these (AND)</option><option value="or">Any of these (OR)</option></select>` : null}
    ${rows.map((r, i) => (r.rows
      ? html`<${ConditionGroup} key=${i} group=${r} object=${object} path=${path + '-' + i} onChange=${(x) => setRow(i, x)} onRemove=${() => removeRow(i)} />`
      : html`<${ConditionRow} key=${i} row=${r} object=${object} path=${path + '-' + i} onChange=${(x) => setRow(i, x)} onRemove=${() => removeRow(i)} />`))}
    <div class="condition-add">
      <button type="button" class="small" data-testid="add-row" onClick=${() => onChange({ ...group, rows: [...rows, newRow(object)] })}>+ Condition</button>
      <button type="button" class="small" data-testid="add-group" onClick=${() => onChange({ ...group, rows: [...rows, { join: group.join === 'and' ? 'or' : 'and', rows: [newRow(object)] }] })}>+ Group</button>
      ${onRemove ? html`<button type="button" class="link" onClick=${onRemove}>Remove group</button>` : null}
    </div>
  </div>`;
}

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
    <select id=${path + '-field'} aria-label="Field" value=${f ? f.path : ''} onChange=${(e) => onChange(newRow(object, e.target.value))}>
      ${fields.map((x) => html`<option value=${x.path}>${fieldLabel(x)}</option>`)}</select>
    <select id=${path + '-op'} aria-label="Operator" value=${row.op} onChange=${(e) => setOp(e.target.value)}>
      ${ops.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>
    ${n >= 1 ? html`<${ConditionValue} id=${path + '-value'} f=${f} kind=${kind} op=${row.op} object=${object} value=${row.value} onChange=${(v) => onChange({ ...row, value: v })} />` : null}
    ${n === 2 ? html`<span class="muted">${row.op === 'between' ? 'and' : 'to'}</span>
      <${ConditionValue} id=${path + '-value2'} f=${f} kind=${kind} op=${row.op} object=${object} value=${row.value2} onChange=${(v) => onChange({ ...row, value2: v })} />` : null}
    ${['agoMore', 'agoLess', 'nextDays'].includes(row.op) ? html`<span class="muted">days</span>` : null}
    <button type="button" class="icon" title="Remove" onClick=${onRemove}>×</button>
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
    return html`<select id=${id} value=${String(value)} onChange=${(e) => onChange(e.target.value === 'true')}><option value="true">yes</option><option value="false">no</option></select>`;
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
