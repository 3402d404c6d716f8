// Lists for every object, generated from its definition: columns, sort, filters by field,
// full-text search, saved views, and paging done by the server (skipTotal keeps each page a
// short indexed query even at 100,000 records; the count is asked for separately). Managers
// get an "Unassigned" view of objects with an owner (records nobody owns, such as web leads
// no assignment rule matched); sales users' access rules never show them others' records.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  pb, relata, me, isManager, objectNamed, objectLabel, fieldLabel, expandFields, subscribe, debounce, newest, errorMessage, userLocale,
} from './api.js';
import { html, navigate, recordHref, Spinner, ErrorBox, Empty, Modal, toast } from './ui.js';
import { FieldValue, FieldEditor, isColumnType, searchFields, options, stageOptions } from './fields.js';
import { hasScore, useScores, ScoreBadge, scoreLabel } from './score.js';
import { BulkDialog } from './bulk.js';
import { useDuplicateCheck, DuplicateWarning } from './duplicates.js';
import { AddToSegment } from './segments.js';
import { ImportWizard, exportList } from './importer.js';
import { t, label as tLabel } from './i18n.js';

// opName names a filter operator ("is empty") in the user's language.
const opName = (l) => tLabel('op.' + l.replace(/ /g, '_'), l);

const perPage = 50;
const defaultSort = '-@rowid'; // newest first, on the primary key

// Operators per kind of field: [op, label, needs a value].
const textOps = [['~', 'contains', true], ['=', 'is', true], ['!=', 'is not', true], ['empty', 'is empty', false], ['set', 'is set', false]];
const numberOps = [['=', '=', true], ['!=', '≠', true], ['>', '>', true], ['>=', '≥', true], ['<', '<', true], ['<=', '≤', true], ['empty', 'is empty', false]];
const choiceOps = [['=', 'is', true], ['!=', 'is not', true], ['empty', 'is empty', false]];
const multiOps = [['?=', 'has', true], ['empty', 'is empty', false]];

export function opsFor(f) {
  if (f.type === 'boolean') return [['=', 'is', true]];
  if (['number', 'currency', 'date', 'datetime'].includes(f.type)) return numberOps;
  if (f.multiple || f.type === 'tags') return f.type === 'tags' ? [['~', 'contains', true], ['empty', 'is empty', false]] : multiOps;
  if (['select', 'stage', 'relation', 'owner'].includes(f.type)) return choiceOps;
  return textOps;
}

// filterExpr turns the view into a PocketBase filter, with values escaped by pb.filter.
export function filterExpr(o, view) {
  const parts = [];
  const q = (view.search || '').trim();
  if (q) {
    const fields = searchFields(o);
    if (fields.length) parts.push('(' + fields.map((f) => pb.filter(`${f} ~ {:q}`, { q })).join(' || ') + ')');
  }
  for (const c of view.filters || []) {
    const f = o.fields.find((x) => x.name === c.field);
    if (!f) continue;
    if (c.op === 'empty') parts.push(f.multiple || f.type === 'tags' ? `${f.name}:length = 0` : pb.filter(`${f.name} = {:v}`, { v: f.type === 'number' || f.type === 'currency' ? 0 : '' }));
    else if (c.op === 'set') parts.push(pb.filter(`${f.name} != {:v}`, { v: '' }));
    else if (f.type === 'boolean') parts.push(`${f.name} = ${c.value === true || c.value === 'true'}`);
    else parts.push(pb.filter(`${f.name} ${c.op} {:v}`, { v: c.value }));
  }
  return parts.join(' && ');
}

function describe(o, c) {
  const f = o.fields.find((x) => x.name === c.field);
  const op = (f ? opsFor(f) : textOps).find((x) => x[0] === c.op);
  let v = c.value;
  if (f && (f.type === 'select')) v = options(f).find((x) => x.value === v)?.label || v;
  if (f && f.type === 'stage') v = stageOptions(o, f).find((x) => x.value === v)?.label || v;
  if (f && f.type === 'owner') v = c.label || v;
  if (f && f.type === 'relation') v = c.label || v;
  if (f && (f.type === 'date' || f.type === 'datetime') && typeof v === 'string') v = v.slice(0, 10);
  return `${f ? fieldLabel(f) : c.field} ${op ? opName(op[1]) : c.op}${op && op[2] ? ' ' + v : ''}`;
}

// The first columns of a list: the title, then the stage, amount, owner and main relation
// (a deal's company) wherever they sit in the definition, then the other fields in order.
function defaultColumns(o) {
  const cols = [o.titleField];
  const firstOf = (test) => o.fields.find((f) => f.name !== o.titleField && isColumnType(f) && test(f));
  for (const f of [firstOf((f) => f.type === 'stage'), firstOf((f) => f.type === 'currency'),
    firstOf((f) => f.type === 'owner' && !f.multiple), firstOf((f) => f.type === 'relation' && !f.multiple)]) {
    if (f && !cols.includes(f.name)) cols.push(f.name);
  }
  for (const f of o.fields) {
    if (cols.length >= 6) break;
    if (!cols.includes(f.name) && isColumnType(f)) cols.push(f.name);
  }
  return o.fields.filter((f) => cols.includes(f.name)).map((f) => f.name).sort((a, b) => (a === o.titleField ? -1 : b === o.titleField ? 1 : 0));
}

export function List({ object, viewId }) {
  const o = objectNamed(object);
  const [view, setView] = useState(() => ({ search: '', filters: [], sort: defaultSort, columns: o ? defaultColumns(o) : [] }));
  const [page, setPage] = useState(1);
  const [items, setItems] = useState(null);
  const [total, setTotal] = useState(null);
  const [error, setError] = useState('');
  const [views, setViews] = useState([]);
  const [current, setCurrent] = useState(null);
  const [dialog, setDialog] = useState(null);
  const [selected, setSelected] = useState([]); // ids ticked for deletion
  const filter = useMemo(() => (o ? filterExpr(o, view) : ''), [view]);
  const sortParam = view.sort === defaultSort ? defaultSort : `${view.sort},${defaultSort}`;

  const loadViews = () => pb.collection('saved_views').getFullList({ filter: pb.filter('object = {:o}', { o: object }), sort: 'name' })
    .then(setViews).catch(() => setViews([]));
  useEffect(() => { if (o) loadViews(); }, [object]);
  useEffect(() => {
    if (!viewId || !views.length) return;
    const v = views.find((x) => x.id === viewId);
    if (v) { setCurrent(v); setView({ ...view, ...v.query, columns: v.query?.columns?.length ? v.query.columns : defaultColumns(o) }); setPage(1); }
  }, [viewId, views.length]);

  // A reload (after a realtime event, a bulk job, an import) asks with the current filter,
  // sort and page, and only the newest answer is shown.
  const asked = useRef();
  asked.current = { object, filter, sortParam, page };
  const loader = useMemo(newest, [object]);
  const counter = useMemo(newest, [object]);
  const load = () => {
    const q = asked.current;
    return loader(() => pb.collection(q.object).getList(q.page, perPage, { filter: q.filter, sort: q.sortParam, expand: expandFields(o), skipTotal: true }),
      (res) => { setItems(res.items); setError(''); },
      (err) => { setError(errorMessage(err)); setItems([]); });
  };
  useEffect(() => { if (o) load(); }, [filter, sortParam, page]);
  useEffect(() => {
    if (!o) return;
    setTotal(null);
    counter(() => pb.collection(object).getList(1, 1, { filter, fields: 'id' }), (r) => setTotal(r.totalItems));
  }, [filter]);
  useEffect(() => (o ? subscribe(object, '*', debounce(load, 300)) : undefined), [object, filter, sortParam, page]);
  // Admins sorting a large object by an unindexed column are told which index would help.
  const [advice, setAdvice] = useState([]);
  useEffect(() => {
    setAdvice([]);
    if (!o || me()?.role !== 'admin' || view.sort === defaultSort) return;
    relata(`/objects/${encodeURIComponent(object)}/index-advice?sort=${encodeURIComponent(view.sort)}`)
      .then((r) => setAdvice(r.advice || [])).catch(() => {});
  }, [object, view.sort]);

  const scored = hasScore(o);
  const scores = useScores(scored ? o : null, items ? items.map((r) => r.id) : []);
  if (!o) return html`<${ErrorBox} error=${t('list.noObject')} />`;
  const update = (patch) => { setView({ ...view, ...patch }); setPage(1); };
  const ownerField = o.fields.find((f) => f.type === 'owner');
  const unassigned = !!ownerField && view.filters.some((c) => c.field === ownerField.name && c.op === 'empty');
  const sortBy = (name) => update({ sort: view.sort === name ? '-' + name : name });
  const cols = view.columns.map((n) => o.fields.find((f) => f.name === n)).filter(Boolean);

  const saveView = async ({ name, shared }) => {
    const body = { name, object, owner: me().id, shared, query: { search: view.search, filters: view.filters, sort: view.sort, columns: view.columns } };
    const saved = current && current.owner === me().id && current.name === name
      ? await pb.collection('saved_views').update(current.id, body)
      : await pb.collection('saved_views').create(body);
    await loadViews();
    setDialog(null);
    navigate(`/list/${object}?view=${saved.id}`);
    toast(t('list.viewSaved', { name }));
  };
  const deleteView = async () => {
    await pb.collection('saved_views').delete(current.id).catch((err) => toast(errorMessage(err), 'error'));
    setCurrent(null);
    setDialog(null);
    await loadViews();
    setView({ search: '', filters: [], sort: defaultSort, columns: defaultColumns(o) });
    navigate('/list/' + object);
  };

  return html`<section class="list-page">
    <header class="page-head">
      <h1>${objectLabel(o)}</h1>
      <span class="muted" data-testid="list-total">${total == null ? '' : `${total.toLocaleString(userLocale())} ${total === 1 ? objectLabel(o, false).toLowerCase() : objectLabel(o).toLowerCase()}`}</span>
      <div class="spacer"></div>
      <select aria-label=${t('list.savedViews')} value=${current?.id || ''} onChange=${(e) => {
        if (e.target.value) navigate(`/list/${object}?view=${e.target.value}`);
        else { setCurrent(null); setView({ search: '', filters: [], sort: defaultSort, columns: defaultColumns(o) }); navigate('/list/' + object); }
      }}>
        <option value="">${t('list.all', { objects: objectLabel(o).toLowerCase() })}</option>
        ${views.map((v) => html`<option value=${v.id}>${v.name}${v.shared ? t('list.sharedSuffix') : ''}</option>`)}
      </select>
      <button id="save-view" onClick=${() => setDialog('save')}>${t('list.saveView')}</button>
      ${current && current.owner === me().id ? html`<button class="link" onClick=${() => setDialog('delete')}>${t('list.deleteView')}</button>` : null}
      <button class="primary" onClick=${() => setDialog('new')}>${t('list.new', { object: objectLabel(o, false).toLowerCase() })}</button>
    </header>
    <div class="toolbar">
      <${SearchBox} value=${view.search} placeholder=${t('list.search', { objects: objectLabel(o).toLowerCase() })}
        onSearch=${(search) => update({ search })} />
      <${FilterAdder} object=${o} onAdd=${(c) => update({ filters: [...view.filters, c] })} />
      <button onClick=${() => setDialog('columns')}>${t('list.columns')}</button>
      <button data-testid="bulk-edit" title=${t('list.bulkTitle')} onClick=${() => setDialog('bulk')}>${selected.length ? t('list.bulkSelected', { count: selected.length }) : t('list.bulk')}</button>
      ${selected.length && object === 'contacts' && isManager() ? html`<${AddToSegment} ids=${selected} onDone=${() => setSelected([])} />` : null}
      <button id="import-open" onClick=${() => setDialog('import')}>${t('list.import')}</button>
      <button id="export-csv" title=${t('list.exportTitle')}
        onClick=${() => exportList(o, { filter, sort: sortParam, columns: view.columns, format: 'csv' })}>${t('list.exportCsv')}</button>
      <button id="export-xlsx" onClick=${() => exportList(o, { filter, sort: sortParam, columns: view.columns, format: 'xlsx' })}>XLSX</button>
      ${selected.length ? html`<button class="danger" data-testid="delete-selected" onClick=${() => setDialog('delete-records')}>${t('list.deleteSelected', { count: selected.length })}</button>` : null}
      ${ownerField && isManager() ? html`<button data-testid="unassigned-view" class=${unassigned ? 'active' : ''} aria-pressed=${unassigned}
        title=${t('list.unassignedTitle')} onClick=${() => update({ filters: unassigned
          ? view.filters.filter((c) => !(c.field === ownerField.name && c.op === 'empty'))
          : [...view.filters, { field: ownerField.name, op: 'empty' }] })}>${t('list.unassigned')}</button>` : null}
    </div>
    ${view.filters.length ? html`<div class="chips">${view.filters.map((c, i) => html`<span class="chip" key=${i}>${describe(o, c)}
      <button class="icon" title=${t('list.removeFilter')} onClick=${() => update({ filters: view.filters.filter((_, j) => j !== i) })}>×</button></span>`)}</div>` : null}
    <${ErrorBox} error=${error} />
    ${advice.map((a) => html`<p class="notice warn small" key=${a.field} data-testid="index-advice">${t('list.sortAdvice', { rows: a.rows.toLocaleString(userLocale()), field: fieldLabel(o.fields.find((f) => f.name === a.field) || { name: a.field }), suggestion: a.suggestion })}</p>`)}
    ${items == null ? html`<${Spinner} />` : items.length === 0 ? html`<${Empty}>${t('list.noMatch', { objects: objectLabel(o).toLowerCase() })}</${Empty}>` : html`
    <div class="table-wrap"><table class="records">
      <thead><tr><th class="pick"><input type="checkbox" aria-label=${t('list.selectAll')} data-testid="select-all"
        checked=${items.length > 0 && items.every((r) => selected.includes(r.id))}
        onChange=${(e) => setSelected(e.target.checked ? [...new Set([...selected, ...items.map((r) => r.id)])] : selected.filter((id) => !items.some((r) => r.id === id)))} /></th>${cols.map((f) => html`<th key=${f.name} onClick=${() => sortBy(f.name)} class="sortable">
        ${fieldLabel(f)} ${view.sort === f.name ? '▲' : view.sort === '-' + f.name ? '▼' : ''}</th>`)}${scored ? html`<th title=${t('list.scoreTitle')}>${scoreLabel(o)} %</th>` : null}</tr></thead>
      <tbody>${items.map((r) => html`<tr key=${r.id} onClick=${() => navigate(recordHref(object, r.id).slice(1))}>
        <td class="pick" onClick=${(e) => e.stopPropagation()}><input type="checkbox" data-id=${r.id} aria-label=${t('list.select')}
          checked=${selected.includes(r.id)} onChange=${(e) => setSelected(e.target.checked ? [...selected, r.id] : selected.filter((x) => x !== r.id))} /></td>
        ${cols.map((f, i) => html`<td key=${f.name}>${i === 0 && f.name === o.titleField
          ? html`<a href=${recordHref(object, r.id)}>${r[f.name] || r.id}</a>` : html`<${FieldValue} object=${o} field=${f} record=${r} />`}</td>`)}
        ${scored ? html`<td class="score-cell"><${ScoreBadge} score=${scores[r.id]} /></td>` : null}
      </tr>`)}</tbody>
    </table></div>`}
    <footer class="pager">
      <button disabled=${page === 1} onClick=${() => setPage(page - 1)}>← ${t('list.previous')}</button>
      <span>${total != null ? t('list.pageOf', { page, pages: Math.max(1, Math.ceil(total / perPage)).toLocaleString(userLocale()) }) : t('list.page', { page })}</span>
      <button disabled=${!items || items.length < perPage} onClick=${() => setPage(page + 1)}>${t('list.next')} →</button>
    </footer>
    ${dialog === 'columns' ? html`<${Modal} title=${t('list.columns')} onClose=${() => setDialog(null)}>
      <div class="column-choice">${o.fields.filter(isColumnType).map((f) => html`<label key=${f.name}><input type="checkbox"
        checked=${view.columns.includes(f.name)} onChange=${(e) => update({ columns: e.target.checked
          ? o.fields.filter((x) => x.name === f.name || view.columns.includes(x.name)).map((x) => x.name)
          : view.columns.filter((x) => x !== f.name) })} /> ${fieldLabel(f)}</label>`)}</div>
    </${Modal}>` : null}
    ${dialog === 'new' ? html`<${NewRecord} object=${o} onClose=${() => setDialog(null)} />` : null}
    ${dialog === 'import' ? html`<${ImportWizard} object=${o} onClose=${() => setDialog(null)} onDone=${load} />` : null}
    ${dialog === 'save' ? html`<${SaveView} current=${current} onSave=${saveView} onClose=${() => setDialog(null)} />` : null}
    ${dialog === 'delete-records' ? html`<${ConfirmDelete} object=${o} ids=${selected} onClose=${() => setDialog(null)}
      onDone=${(left) => { setSelected(left); setDialog(null); load(); }} />` : null}
    ${dialog === 'bulk' ? html`<${BulkDialog} object=${o} ids=${selected} filter=${filter} total=${total} onClose=${() => setDialog(null)}
      onDone=${() => { setSelected([]); load(); }} />` : null}
    ${dialog === 'delete' ? html`<${Modal} title=${t('list.deleteView')} onClose=${() => setDialog(null)}>
      <p>${t('list.deleteViewConfirm', { name: current?.name })}</p>
      <div class="actions"><button onClick=${() => setDialog(null)}>${t('common.cancel')}</button> <button class="primary" onClick=${deleteView}>${t('common.delete')}</button></div>
    </${Modal}>` : null}
  </section>`;
}

// SearchBox keeps what the user types — a re-render of the list meanwhile (a realtime reload,
// a dialog opened) must not put the last searched text back into the box — and hands it on
// 250 ms after the last key. A search set from outside (a saved view, a reset) replaces it.
function SearchBox({ value, placeholder, onSearch }) {
  const [text, setText] = useState(value);
  const sent = useRef(value);
  const handOn = useRef(onSearch);
  handOn.current = onSearch;
  const later = useMemo(() => debounce((v) => { sent.current = v; handOn.current(v); }, 250), []);
  useEffect(() => { if (value !== sent.current) { sent.current = value; setText(value); } }, [value]);
  return html`<input type="search" class="grow" id="list-search" placeholder=${placeholder} value=${text}
    onInput=${(e) => { setText(e.target.value); later(e.target.value); }} />`;
}

// SaveView names the current search, filters, sort and columns, and may share them.
function SaveView({ current, onSave, onClose }) {
  const [name, setName] = useState(current?.name || '');
  const [shared, setShared] = useState(!!current?.shared);
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    try {
      await onSave({ name: name.trim(), shared });
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return html`<${Modal} title=${t('list.saveView')} onClose=${onClose}>
    <form class="form-grid" onSubmit=${submit}>
      <label class="wide"><span>${t('list.viewName')}</span><input id="view-name" required value=${name} onInput=${(e) => setName(e.target.value)} autoFocus /></label>
      <label class="wide checkbox"><span><input id="view-shared" type="checkbox" checked=${shared} onChange=${(e) => setShared(e.target.checked)} /> ${t('list.share')}</span></label>
      <${ErrorBox} error=${error} />
      <div class="actions wide"><button type="button" onClick=${onClose}>${t('common.cancel')}</button><button class="primary" type="submit">${t('common.save')}</button></div>
    </form>
  </${Modal}>`;
}

export function FilterAdder({ object: o, onAdd }) {
  const fields = o.fields.filter((f) => f.type !== 'file' && f.type !== 'json');
  const [field, setField] = useState(fields[0]?.name);
  const f = fields.find((x) => x.name === field) || fields[0];
  const ops = f ? opsFor(f) : textOps;
  const [op, setOp] = useState(ops[0][0]);
  const [value, setValue] = useState('');
  const [label, setLabel] = useState('');
  const chooseField = (name) => {
    const next = fields.find((x) => x.name === name);
    setField(name);
    setOp(opsFor(next)[0][0]);
    setValue(next.type === 'boolean' ? true : '');
  };
  const needsValue = (ops.find((x) => x[0] === op) || ops[0])[2];
  const editorField = { ...f, multiple: false, required: false };
  return html`<div class="filter-adder">
    <select aria-label=${t('list.filterField')} value=${field} onChange=${(e) => chooseField(e.target.value)}>
      ${fields.map((x) => html`<option value=${x.name}>${fieldLabel(x)}</option>`)}
    </select>
    <select aria-label=${t('list.filterOperator')} value=${op} onChange=${(e) => setOp(e.target.value)}>
      ${ops.map(([v, l]) => html`<option value=${v}>${opName(l)}</option>`)}
    </select>
    ${needsValue ? (f.type === 'boolean'
      ? html`<select aria-label=${t('list.filterValue')} value=${String(value)} onChange=${(e) => setValue(e.target.value === 'true')}><option value="true">${t('common.yes')}</option><option value="false">${t('common.no')}</option></select>`
      : f.type === 'tags' ? html`<input aria-label=${t('list.filterValue')} value=${value} onInput=${(e) => setValue(e.target.value)} />`
      : html`<span class="filter-value"><${FieldEditor} key=${field} object=${o} field=${editorField} value=${value}
          onChange=${(v) => { const id = [].concat(v).pop() || ''; setValue(f.type === 'relation' ? id : v); setLabel(f.type === 'owner' ? (document.querySelector('.filter-value select')?.selectedOptions[0]?.text || '') : ''); }} /></span>`) : null}
    <button id="add-filter" onClick=${() => { onAdd({ field, op, value, label }); setValue(''); }}>${t('list.addFilter')}</button>
  </div>`;
}

// NewRecord creates a record with the fields people fill in; the rest take their defaults.
export function NewRecord({ object: o, initial = {}, onClose, onCreated }) {
  const [values, setValues] = useState({ ...initial });
  const [error, setError] = useState('');
  const fields = o.fields.filter((f) => !['file', 'json'].includes(f.type) && f.name !== 'last_touched');
  const matches = useDuplicateCheck(o, values);
  const submit = async (e, merge) => {
    if (e) e.preventDefault();
    try {
      const rec = await pb.collection(o.name).create(values);
      onClose();
      if (merge) navigate(`/merge/${encodeURIComponent(o.name)}/${encodeURIComponent(merge.id)}/${encodeURIComponent(rec.id)}`);
      else if (onCreated) onCreated(rec); else navigate(recordHref(o.name, rec.id).slice(1));
    } catch (err) {
      setError(errorMessage(err, o));
    }
  };
  return html`<${Modal} title=${t('list.new', { object: objectLabel(o, false).toLowerCase() })} onClose=${onClose} wide>
    <form class="form-grid" onSubmit=${submit}>
      ${fields.map((f) => html`<label key=${f.name} class=${f.type === 'longtext' || f.type === 'richtext' ? 'wide' : ''}>
        <span>${fieldLabel(f)}${f.required ? ' *' : ''}</span>
        <${FieldEditor} object=${o} field=${f} value=${values[f.name] ?? (f.default && f.type !== 'date' && f.type !== 'datetime' ? f.default : undefined)}
          onChange=${(v) => setValues((x) => ({ ...x, [f.name]: v }))} />
        ${f.help ? html`<small class="muted">${f.help}</small>` : null}
      </label>`)}
      <${DuplicateWarning} object=${o} matches=${matches} onMerge=${(m) => submit(null, m)} />
      <${ErrorBox} error=${error} />
      <div class="actions wide"><button type="button" onClick=${onClose}>${t('common.cancel')}</button><button class="primary" type="submit">${t('common.create')}</button></div>
    </form>
  </${Modal}>`;
}

// ConfirmDelete deletes the chosen records after confirmation; they go to the trash, where whoever
// could see them restores them within 30 days. Refusals are listed with their reason.
export function ConfirmDelete({ object: o, ids, onClose, onDone }) {
  const [busy, setBusy] = useState(false);
  const [failures, setFailures] = useState([]);
  const run = async () => {
    setBusy(true);
    const res = await Promise.allSettled(ids.map((id) => pb.collection(o.name).delete(id)));
    const failed = res.map((r, i) => (r.status === 'rejected' ? { id: ids[i], reason: errorMessage(r.reason, o) } : null)).filter(Boolean);
    const done = ids.length - failed.length;
    if (done) toast(t('list.trashed', { count: done, objects: (done === 1 ? objectLabel(o, false) : objectLabel(o)).toLowerCase() }));
    setBusy(false);
    if (failed.length) setFailures(failed);
    else onDone([]);
  };
  const n = ids.length;
  return html`<${Modal} title=${t('list.deleteRecords', { count: n, objects: (n === 1 ? objectLabel(o, false) : objectLabel(o)).toLowerCase() })} onClose=${onClose}>
    <p>${t('list.deleteNote', { count: n })}</p>
    ${failures.length ? html`<div class="error" role="alert" data-testid="delete-failures">${t('list.notDeleted')}
      <ul>${failures.map((f) => html`<li key=${f.id}><code>${f.id}</code>: ${f.reason}</li>`)}</ul></div>` : null}
    <div class="actions"><button onClick=${failures.length ? () => onDone(failures.map((f) => f.id)) : onClose}>${failures.length ? t('common.close') : t('common.cancel')}</button>
      ${failures.length ? null : html`<button class="danger" data-testid="confirm-delete" disabled=${busy} onClick=${run}>${busy ? t('common.deleting') : t('common.delete')}</button>`}</div>
  </${Modal}>`;
}
