// The record page: every field editable in place with the control of its type, the records it
// links to and that link to it, and the timeline (activities, emails, stage changes, workflow
// runs) with quick add of a note, call or task. Changes by colleagues arrive in realtime.
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  pb, relata, me, formatDue, objectNamed, allObjects, objectLabel, fieldLabel, expandFields, titleOf, formatDate, formatMoney,
  parseDate, daysBetween, userNamed, activityObject, pipelineOf, subscribe, debounce, errorMessage, stageLabel, stagePipelines, recordPipeline,
} from './api.js';
import { t, label } from './i18n.js';
import { html, navigate, recordHref, Spinner, ErrorBox, Empty, Pill, toast } from './ui.js';
import { FieldValue, FieldEditor } from './fields.js';
import { RecordHistory } from './history.js';
import { ConfirmDelete } from './list.js';
import { ScorePanel, RuleScorePanel } from './score.js';
import { RecordDuplicates } from './duplicates.js';
import { statusName } from './runs.js';

// emailStatus is an email's delivery status in the current language.
const emailStatus = (s) => ({
  queued: t('email.st.queued'), sending: t('email.st.sending'), sent: t('email.st.sent'), failed: t('email.st.failed'),
  suppressed: t('email.st.suppressed'), delivered: t('email.st.delivered'), bounced: t('email.st.bounced'),
})[s] || s;

export function RecordPage({ object, id }) {
  const o = objectNamed(object);
  const [rec, setRec] = useState(null);
  const [error, setError] = useState('');
  const [timeline, setTimeline] = useState(null);
  const [since, setSince] = useState(null);
  const [missing, setMissing] = useState(false);
  const [tab, setTab] = useState('timeline');
  const [version, setVersion] = useState(0);
  const [deleting, setDeleting] = useState(false);
  const [quick, setQuick] = useState(null); // { kind, n }: a quick action asked for the quick-add form

  const loadRecord = async () => {
    try {
      setRec(await pb.collection(object).getOne(id, { expand: expandFields(o) }));
      setError('');
    } catch (err) {
      if (err.status === 404) {
        // a record merged into another: its old links open the one it was merged into
        const moved = await relata(`/merges/redirect/${encodeURIComponent(object)}/${encodeURIComponent(id)}`).catch(() => null);
        if (moved?.id) {
          location.replace(recordHref(object, moved.id));
          return;
        }
      }
      if (err.status === 404 || err.status === 403) setMissing(true);
      else setError(errorMessage(err));
    }
  };
  const loadTimeline = async () => {
    try {
      setTimeline((await relata(`/timeline/${object}/${id}`)).items);
    } catch (err) {
      if (err.status !== 404) setError(errorMessage(err));
    }
    const sf = o.fields.find((f) => f.type === 'stage');
    if (sf) {
      relata(`/insights/stage-since?object=${object}&field=${sf.name}&ids=${id}`).then((r) => setSince(r.since[id] ? new Date(r.since[id]) : null)).catch(() => {});
    }
  };
  useEffect(() => {
    if (!o) return;
    loadRecord();
    loadTimeline();
    const refresh = debounce(() => { loadRecord(); loadTimeline(); setVersion((v) => v + 1); }, 200);
    const stops = [subscribe(object, id, (e) => (e.action === 'delete' ? setMissing(true) : refresh()))];
    const act = activityObject();
    if (act) {
      stops.push(subscribe(act.name, '*', (e) => {
        const links = act.fields.filter((f) => f.type === 'relation' && f.target === object);
        if (links.some((f) => [].concat(e.record[f.name] || []).includes(id))) refresh();
      }));
    }
    return () => stops.forEach((s) => s());
  }, [object, id]);

  if (!o) return html`<${ErrorBox} error=${t('list.noObject')} />`;
  if (missing) {
    return html`<section class="record-page"><${Empty}>
      <h2 data-testid="not-found">${t('record.notFound')}</h2>
      <p>${t('record.notFoundNote', { object: objectLabel(o, false).toLowerCase() })}</p>
      <a href=${'#/list/' + object}>${t('record.back', { objects: objectLabel(o).toLowerCase() })}</a>
    </${Empty}></section>`;
  }
  if (!rec) return html`<${ErrorBox} error=${error} /><${Spinner} />`;

  const save = async (patch) => {
    try {
      const updated = await pb.collection(object).update(id, patch, { expand: expandFields(o) });
      setRec(updated);
      setError('');
      return true;
    } catch (err) {
      toast(errorMessage(err, o), 'error');
      return false;
    }
  };
  const stage = o.fields.find((f) => f.type === 'stage');
  return html`<section class="record-page">
    <header class="page-head">
      <div>
        <div class="crumbs"><a href=${'#/list/' + object}>${objectLabel(o)}</a></div>
        <h1 data-testid="record-title">${titleOf(o, rec)}</h1>
      </div>
      <div class="spacer"></div>
      ${stage ? html`<${StageBar} object=${o} field=${stage} record=${rec} since=${since} onMove=${(s) => save({ [stage.name]: s })} />` : null}
      <button class="danger" data-testid="delete-record" title=${t('record.deleteTitle')} onClick=${() => setDeleting(true)}>${t('common.delete')}</button>
    </header>
    ${deleting ? html`<${ConfirmDelete} object=${o} ids=${[id]} onClose=${() => setDeleting(false)}
      onDone=${(left) => { setDeleting(false); if (!left.length) navigate('/list/' + object); }} />` : null}
    <${ErrorBox} error=${error} />
    <${RecordDuplicates} object=${o} record=${rec} />
    <div class="record-grid">
      <div class="panel fields">
        <h2>${t('record.details')}</h2>
        <dl>${o.fields.map((f) => html`<${EditableField} key=${f.name} object=${o} field=${f} record=${rec} onSave=${save} />`)}
          <dt>${t('record.created')}</dt><dd>${formatDate(rec.created, true)}</dd>
          <dt>${t('record.updated')}</dt><dd>${formatDate(rec.updated, true)}</dd>
          ${rec.last_touched ? html`<dt>${t('record.lastTouched')}</dt><dd>${formatDate(rec.last_touched, true)}</dd>` : null}
        </dl>
      </div>
      <div class="panel timeline-panel">
        <div class="tabs" role="tablist">
          <button role="tab" class=${tab === 'timeline' ? 'active' : ''} data-testid="tab-timeline" onClick=${() => setTab('timeline')}>${t('record.timeline')}</button>
          <button role="tab" class=${tab === 'history' ? 'active' : ''} data-testid="tab-history" onClick=${() => setTab('history')}>${t('record.history')}</button>
        </div>
        ${tab === 'timeline' ? html`
          <${QuickAdd} object=${o} record=${rec} request=${quick} onAdded=${loadTimeline} />
          <${Timeline} items=${timeline} object=${o} onChanged=${loadTimeline} />`
        : html`<${RecordHistory} object=${object} id=${id} version=${version} />`}
      </div>
      <div class="side">
        <${ScorePanel} object=${o} id=${id} version=${version} />
        <${RuleScorePanel} object=${o} id=${id} version=${version} />
        <div class="panel related">
          <${Related} object=${o} record=${rec} />
        </div>
      </div>
    </div>
    ${activityObject() ? html`<nav class="quick-actions" data-testid="quick-actions" aria-label=${t('record.logActivity')}>
      ${[['note', '✎ ' + t('record.note')], ['call', '☎ ' + t('record.call')], ['task', '☐ ' + t('record.task')]].map(([k, l]) => html`<button key=${k} type="button" data-kind=${k}
        onClick=${() => { setTab('timeline'); setQuick((q) => ({ kind: k, n: (q?.n || 0) + 1 })); }}>${l}</button>`)}
    </nav>` : null}
  </section>`;
}

function StageBar({ object: o, field, record, since, onMove }) {
  const p = recordPipeline(o, field, record);
  const cur = record[field.name];
  const st = p?.stages.find((s) => s.name === cur);
  const days = since ? Math.floor(daysBetween(since, Date.now())) : null;
  const rotting = st?.rottingDays && days > st.rottingDays;
  return html`<div class="stagebar">
    <div class="steps">${(p?.stages || []).map((s) => html`<button key=${s.name} class="step ${s.name === cur ? 'current' : ''} ${s.won ? 'won' : ''} ${s.lost ? 'lost' : ''}"
      data-stage=${s.name} title=${t('record.moveTo', { stage: stageLabel(o, s), probability: s.probability })} onClick=${() => s.name !== cur && onMove(s.name)}>${stageLabel(o, s)}</button>`)}</div>
    ${days != null ? html`<div class="muted small ${rotting ? 'rot-text' : ''}">${t('record.inStage', { stage: st ? stageLabel(o, st) : cur, count: days })}${rotting ? t('record.pastDays', { limit: st.rottingDays }) : ''}</div>` : null}
  </div>`;
}

function EditableField({ object: o, field: f, record, onSave }) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(record[f.name]);
  useEffect(() => { if (!editing) setValue(record[f.name]); }, [record, editing]);
  const commit = async () => {
    if (!editing) return;
    const changed = JSON.stringify(value ?? '') !== JSON.stringify(record[f.name] ?? '');
    if (!changed || (await onSave({ [f.name]: value }))) setEditing(false);
  };
  return html`
    <dt>${fieldLabel(f)}</dt>
    <dd class="editable ${editing ? 'editing' : ''}" data-field=${f.name}
      onClick=${(e) => { if (!editing && !e.target.closest('a')) setEditing(true); }} title=${editing ? '' : t('record.clickToEdit')}>
      ${editing
        ? html`<${FieldEditor} object=${o} field=${f} record=${record} value=${value} onChange=${setValue} onCommit=${commit}
            onCancel=${() => { setValue(record[f.name]); setEditing(false); }} autoFocus />`
        : html`<${FieldValue} object=${o} field=${f} record=${record} />`}
    </dd>`;
}

const kindIcons = { activity: '✎', email: '✉', stage: '➜', run: '⚙', created: '★', campaign: '◎' };
const activityIcons = { task: '☐', call: '☎', meeting: '👥', email: '✉', note: '✎' };

function Timeline({ items, object: o, onChanged }) {
  if (!items) return html`<${Spinner} />`;
  if (!items.length) return html`<${Empty}>${t('record.nothingYet')}</${Empty}>`;
  const complete = async (e) => {
    await pb.collection(e.object).update(e.id, { done: !e.done, done_at: e.done ? '' : new Date().toISOString() })
      .catch((err) => toast(errorMessage(err), 'error'));
    onChanged();
  };
  return html`<ol class="timeline" data-testid="timeline">${items.map((e, i) => html`<li key=${e.kind + (e.id || '') + i} class=${'entry ' + e.kind}>
    <span class="icon-dot">${e.kind === 'activity' ? activityIcons[e.type] || kindIcons.activity : kindIcons[e.kind]}</span>
    <div class="body">
      ${e.kind === 'activity' ? html`<div class="line">
          ${e.type === 'task' || e.due ? html`<input type="checkbox" title=${t('record.done')} checked=${e.done} onChange=${() => complete(e)} />` : null}
          <b class=${e.done && (e.type === 'task' || e.due) ? 'done' : ''}>${e.title}</b> <span class="muted">${label(`activity.type.${e.type}`, e.type)}</span>
          ${e.due ? html`<span class="muted"> · ${t('tasks.due', { date: formatDue(e.due) })}</span>` : null}
          ${e.owner ? html`<span class="muted"> · ${userNamed(e.owner)?.name || ''}</span>` : null}
        </div>${e.body ? html`<div class="prewrap small">${e.body}</div>` : null}` : null}
      ${e.kind === 'email' ? html`<div class="line"><b>${e.title}</b> <${Pill} kind=${e.status}>${emailStatus(e.status)}</${Pill}></div>` : null}
      ${e.kind === 'stage' ? html`<div class="line">${e.from ? html`${t('record.movedFrom')} <b>${stageName(o, e.field, e.from)}</b> ${t('record.movedTo')} ` : t('record.entered') + ' '}<b>${e.title}</b>${e.by ? html` <span class="muted">${t('record.by', { name: e.by })}</span>` : null}</div>` : null}
      ${e.kind === 'run' ? html`<div class="line">${t('record.workflow')} <b>${e.title}</b> <${Pill} kind=${e.status}>${statusName(e.status)}</${Pill}>${e.error ? html`<div class="error small">${e.error}</div>` : null}</div>` : null}
      ${e.kind === 'created' ? html`<div class="line">${t('record.created')}</div>` : null}
      ${e.kind === 'campaign' ? html`<div class="line" data-testid="timeline-campaign">${e.title}</div>` : null}
      <div class="when muted small">${formatDate(e.at, true)}</div>
    </div>
  </li>`)}</ol>`;
}

function stageName(o, field, name) {
  const f = o.fields.find((x) => x.name === field);
  const s = f && stagePipelines(o, f).flatMap((p) => p.stages).find((x) => x.name === name);
  return s ? stageLabel(o, s) : name;
}

// QuickAdd logs a note or a call, or creates a task, linked to the record.
// A quick action (the bar at the bottom of a phone's screen) picks the kind and puts the
// cursor in the form, so a call is logged in two taps and a note in two taps plus its text.
function QuickAdd({ object: o, record, request, onAdded }) {
  const act = activityObject();
  const link = act && act.fields.find((f) => f.type === 'relation' && f.target === o.name);
  const [kind, setKind] = useState('note');
  const [subject, setSubject] = useState('');
  const [body, setBody] = useState('');
  const [due, setDue] = useState('');
  const [busy, setBusy] = useState(false);
  const form = useRef();
  useEffect(() => {
    if (!request) return;
    setKind(request.kind);
    requestAnimationFrame(() => {
      const el = form.current?.querySelector(request.kind === 'note' ? 'textarea' : 'input');
      if (!el) return;
      el.scrollIntoView({ block: 'center' });
      el.focus();
    });
  }, [request]);
  if (!act || !link) return null;
  const submit = async (e) => {
    e.preventDefault();
    const text = subject.trim() || body.trim().split('\n')[0].slice(0, 120) || (kind === 'call' ? t('record.callSubject', { title: titleOf(o, record) }).slice(0, 120) : '');
    if (!text) return;
    setBusy(true);
    const values = { type: kind, subject: text, body, [link.name]: link.multiple ? [record.id] : record.id, owner: me().id };
    if (kind === 'task') values.due = due ? new Date(due).toISOString() : '';
    else { values.done = true; values.done_at = new Date().toISOString(); }
    // Link the activity to the record's company too, when both know companies.
    for (const f of o.fields) {
      const same = act.fields.find((x) => x.type === 'relation' && x.target === f.target && x.name !== link.name && !x.multiple);
      if (f.type === 'relation' && !f.multiple && record[f.name] && same && !values[same.name]) values[same.name] = record[f.name];
    }
    try {
      await pb.collection(act.name).create(values);
      setSubject(''); setBody(''); setDue('');
      onAdded();
    } catch (err) {
      toast(errorMessage(err, act), 'error');
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="quick-add" ref=${form} data-testid="quick-add" onSubmit=${submit}>
    <div class="tabs">${[['note', t('record.note')], ['call', t('record.logCall')], ['task', t('record.task')]].map(([k, l]) => html`<button type="button" key=${k}
      class=${kind === k ? 'active' : ''} onClick=${() => setKind(k)}>${l}</button>`)}</div>
    ${kind !== 'note' ? html`<input placeholder=${kind === 'task' ? t('record.taskPlaceholder') : t('record.callPlaceholder')} value=${subject} onInput=${(e) => setSubject(e.target.value)} />` : null}
    <textarea rows="2" placeholder=${kind === 'note' ? t('record.notePlaceholder') : t('record.detailsPlaceholder')} value=${body} onInput=${(e) => setBody(e.target.value)}></textarea>
    <div class="row">
      ${kind === 'task' ? html`<label class="small">${t('record.due')} <input type="datetime-local" value=${due} onInput=${(e) => setDue(e.target.value)} /></label>` : null}
      <div class="spacer"></div>
      <button class="primary" type="submit" disabled=${busy}>${kind === 'note' ? t('record.addNote') : kind === 'call' ? t('record.logCall') : t('record.addTask')}</button>
    </div>
  </form>`;
}

// Related lists the records of other objects that link to this one (activities are on the
// timeline instead).
function Related({ object: o, record }) {
  const links = allObjects().flatMap((other) => (other.activity ? [] : other.fields
    .filter((f) => f.type === 'relation' && f.target === o.name).map((f) => ({ other, f }))));
  const forward = o.fields.filter((f) => f.type === 'relation' && record.expand?.[f.name]);
  return html`
    ${forward.map((f) => html`<div key=${f.name} class="related-group"><h3>${fieldLabel(f)}</h3>
      <ul>${[].concat(record.expand[f.name]).map((r) => html`<li key=${r.id}><a href=${recordHref(f.target, r.id)}>${titleOf(objectNamed(f.target) || o, r)}</a></li>`)}</ul></div>`)}
    ${links.map(({ other, f }) => html`<${RelatedList} key=${other.name + f.name} other=${other} field=${f} id=${record.id} />`)}
    ${!forward.length && !links.length ? html`<p class="muted">${t('record.noRelated')}</p>` : null}`;
}

function RelatedList({ other, field: f, id }) {
  const [res, setRes] = useState(null);
  useEffect(() => {
    const filter = pb.filter(f.multiple ? `${f.name} ?= {:id}` : `${f.name} = {:id}`, { id });
    pb.collection(other.name).getList(1, 10, { filter, sort: '-@rowid' }).then(setRes).catch(() => setRes({ items: [], totalItems: 0 }));
  }, [id]);
  if (!res) return null;
  const amount = other.fields.find((x) => x.type === 'currency');
  const stage = other.fields.find((x) => x.type === 'stage');
  return html`<div class="related-group"><h3>${objectLabel(other)} <span class="muted">${res.totalItems}</span></h3>
    ${res.items.length ? html`<ul>${res.items.map((r) => html`<li key=${r.id}><a href=${recordHref(other.name, r.id)}>${titleOf(other, r)}</a>
      ${stage ? html` <${FieldValue} object=${other} field=${stage} record=${r} />` : null}
      ${amount ? html` <span class="muted">${formatMoney(r[amount.name], r[amount.name + '_currency'] || amount.currency)}</span>` : null}</li>`)}</ul>`
      : html`<p class="muted small">${t('record.none')}</p>`}
    ${res.totalItems > res.items.length ? html`<a class="small" href=${`#/list/${other.name}`}>${t('list.all', { objects: objectLabel(other).toLowerCase() })}…</a>` : null}
  </div>`;
}
