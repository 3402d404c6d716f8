// How each field type is shown and edited. Every object's screens are generated from its
// definition, so custom objects and fields added in the dashboard work the same way.
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  pb, objectNamed, allUsers, userNamed, titleOf, formatDate, formatDue, formatMoney, parseDate, pipelineOf, fieldLabel, userLocale, stagePipelines, recordPipeline,
} from './api.js';
import { t } from './i18n.js';
import { html, recordHref } from './ui.js';
import { RichText, safeURL } from './richtext.js';

const textTypes = ['text', 'email', 'phone', 'url'];

export function optionLabel(f, v) {
  const o = (f.options || []).find((x) => x.value === v || x === v);
  return (typeof o === 'object' && o?.label) || v;
}

export function options(f) {
  return (f.options || []).map((o) => (typeof o === 'string' ? { value: o, label: o } : { value: o.value, label: o.label || o.value }));
}

// The stages a stage field offers: those of the record's pipeline when a record is given,
// else those of every pipeline the field's records may follow.
export function stageOptions(o, f, rec) {
  const ps = rec ? [recordPipeline(o, f, rec)].filter(Boolean) : stagePipelines(o, f);
  return ps.flatMap((p) => p.stages).map((s) => ({ value: s.name, label: s.label || s.name }));
}

// Whether a field makes a good list column.
export function isColumnType(f) {
  return !['longtext', 'richtext', 'json', 'file'].includes(f.type);
}

// Text-like fields searched by full-text search.
export function searchFields(o) {
  return o.fields.filter((f) => [...textTypes, 'longtext'].includes(f.type)).map((f) => f.name);
}

function relatedTitle(rec, f) {
  const target = f.type === 'owner' ? null : objectNamed(f.target);
  if (f.type === 'owner' || f.target === 'users') return rec.name || rec.email || rec.id;
  return target ? titleOf(target, rec) : rec.id;
}

// FieldValue shows a field of a record, read-only.
export function FieldValue({ object, field: f, record }) {
  const v = record[f.name];
  const empty = v === '' || v == null || (Array.isArray(v) && v.length === 0);
  if (empty && f.type !== 'boolean' && f.type !== 'number' && f.type !== 'currency') return html`<span class="muted">—</span>`;
  switch (f.type) {
    case 'currency':
      return html`<span class="num">${formatMoney(v, record[f.name + '_currency'] || f.currency)}</span>`;
    case 'number':
      return html`<span class="num">${v == null ? '—' : Number(v).toLocaleString(userLocale())}</span>`;
    case 'boolean':
      return v ? html`<span class="yes">${t('fields.yes')}</span>` : html`<span class="muted">${t('fields.no')}</span>`;
    case 'date':
      return formatDate(v);
    case 'datetime':
      return formatDue(v); // a day without a time (00:00 UTC) shows as a date
    case 'email':
      return html`<a href=${'mailto:' + v} onClick=${(e) => e.stopPropagation()}>${v}</a>`;
    case 'url': {
      const href = safeURL(v); // never a javascript: or data: link
      return href ? html`<a href=${href} target="_blank" rel="noopener noreferrer" onClick=${(e) => e.stopPropagation()}>${v}</a>` : String(v);
    }
    case 'phone':
      return html`<a href=${'tel:' + v} onClick=${(e) => e.stopPropagation()}>${v}</a>`;
    case 'select':
      return [].concat(v).map((x) => html`<span class="pill" key=${x}>${optionLabel(f, x)}</span>`);
    case 'stage': {
      const st = stageOptions(object, f).find((s) => s.value === v);
      return html`<span class="pill stage stage-${v}">${st?.label || v}</span>`;
    }
    case 'tags':
      return [].concat(v).map((x) => html`<span class="tag" key=${x}>${x}</span>`);
    case 'relation':
    case 'owner': {
      const ids = [].concat(v);
      const expanded = [].concat(record.expand?.[f.name] || []);
      const hidden = [];
      const shown = ids.map((id) => {
        const rec = expanded.find((r) => r.id === id);
        if (f.type === 'owner' || f.target === 'users') {
          const u = rec || userNamed(id);
          return html`<span class="person" key=${id}>${u ? u.name || u.email : id}</span>`;
        }
        if (!rec) {
          hidden.push(id);
          return null;
        }
        return html`<a class="rel" key=${id} href=${recordHref(f.target, id)} onClick=${(e) => e.stopPropagation()}>${relatedTitle(rec, f)}</a>`;
      }).filter(Boolean);
      // Records the user may not see are counted, never named (their ids say nothing to a person).
      const list = shown.flatMap((x, i) => (i ? [', ', x] : [x]));
      if (hidden.length) {
        list.push(html`<span class="muted" key="hidden" data-testid="hidden-related">${shown.length ? ', ' : ''}${t('fields.hiddenRelated', { count: hidden.length })}</span>`);
      }
      return list;
    }
    case 'richtext':
      return html`<${RichText} value=${v} />`;
    case 'longtext':
      return html`<span class="prewrap">${v}</span>`;
    case 'json':
      return html`<code>${JSON.stringify(v)}</code>`;
    case 'file':
      return [].concat(v).map((name) => html`<a key=${name} href=${pb.files.getURL(record, name)} target="_blank">${name}</a> `);
    default:
      return String(v);
  }
}

// toInput converts a stored value to what an input shows.
function toInput(f, v) {
  if (v == null) return '';
  switch (f.type) {
    case 'date': {
      const d = parseDate(v);
      return d ? d.toISOString().slice(0, 10) : '';
    }
    case 'datetime': {
      const d = parseDate(v);
      if (!d) return '';
      const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
      return local.toISOString().slice(0, 16);
    }
    case 'tags':
      return [].concat(v).join(', ');
    case 'json':
      return v === '' ? '' : JSON.stringify(v, null, 2);
    default:
      return v;
  }
}

// fromInput converts what an input holds to the value sent to the API.
export function fromInput(f, s) {
  switch (f.type) {
    case 'number':
    case 'currency':
      return s === '' ? null : Number(s);
    case 'date':
      return s ? s + ' 00:00:00.000Z' : '';
    case 'datetime':
      return s ? new Date(s).toISOString() : '';
    case 'tags':
      return s.split(',').map((x) => x.trim()).filter(Boolean);
    case 'json':
      return s.trim() === '' ? null : JSON.parse(s);
    default:
      return s;
  }
}

// FieldEditor edits one field. onChange gets the API value; onCommit, when set, is called
// when the editor is done (Enter or leaving the field), onCancel on Escape.
// record, when given, is the record being edited: a stage field then offers its pipeline's stages.
export function FieldEditor({ object, field: f, value, onChange, onCommit, onCancel, autoFocus, id, record }) {
  const ref = useRef();
  useEffect(() => { if (autoFocus && ref.current) ref.current.focus(); }, []);
  const keys = (e) => {
    if (e.key === 'Escape' && onCancel) onCancel();
    if (e.key === 'Enter' && onCommit && e.target.tagName !== 'TEXTAREA') { e.preventDefault(); onCommit(); }
  };
  const common = { id, ref, onKeyDown: keys, onBlur: onCommit ? () => setTimeout(onCommit, 0) : undefined, 'aria-label': fieldLabel(f) };
  const str = toInput(f, value);
  const text = (type) => html`<input ...${common} type=${type} value=${str} required=${f.required}
      onInput=${(e) => onChange(fromInput(f, e.target.value))} />`;
  switch (f.type) {
    case 'text': return text('text');
    case 'email': return text('email');
    case 'url': return text('url');
    case 'phone': return text('tel');
    case 'number':
    case 'currency':
      return html`<input ...${common} type="number" step="any" min=${f.min} max=${f.max} value=${str}
        onInput=${(e) => onChange(fromInput(f, e.target.value))} />`;
    case 'date': return html`<input ...${common} type="date" value=${str} onInput=${(e) => onChange(fromInput(f, e.target.value))} />`;
    case 'datetime': return html`<input ...${common} type="datetime-local" value=${str} onInput=${(e) => onChange(fromInput(f, e.target.value))} />`;
    case 'boolean':
      return html`<input ...${common} onBlur=${undefined} type="checkbox" checked=${!!value}
        onChange=${(e) => { onChange(e.target.checked); if (onCommit) setTimeout(onCommit, 0); }} />`;
    case 'longtext':
    case 'richtext':
    case 'json':
      return html`<textarea ...${common} rows="4" onInput=${(e) => {
        try { onChange(fromInput(f, e.target.value)); } catch { /* JSON still being typed */ }
      }}>${str}</textarea>`;
    case 'tags':
      return html`<input ...${common} type="text" placeholder=${t('fields.tagsPlaceholder')} value=${str}
        onInput=${(e) => onChange(fromInput(f, e.target.value))} />`;
    case 'select':
    case 'stage': {
      const opts = f.type === 'stage' ? stageOptions(object, f, record) : options(f);
      if (f.multiple) {
        return html`<select ...${common} multiple onChange=${(e) => onChange([...e.target.selectedOptions].map((o) => o.value))}>
          ${opts.map((o) => html`<option value=${o.value} selected=${[].concat(value || []).includes(o.value)}>${o.label}</option>`)}
        </select>`;
      }
      return html`<select ...${common} onBlur=${undefined} value=${value || ''}
        onChange=${(e) => { onChange(e.target.value); if (onCommit) setTimeout(onCommit, 0); }}>
        ${!f.required || !value ? html`<option value="">—</option>` : null}
        ${opts.map((o) => html`<option value=${o.value}>${o.label}</option>`)}
      </select>`;
    }
    case 'owner':
      return html`<select ...${common} onBlur=${undefined} value=${value || ''}
        onChange=${(e) => { onChange(e.target.value); if (onCommit) setTimeout(onCommit, 0); }}>
        <option value="">—</option>
        ${allUsers().map((u) => html`<option value=${u.id}>${u.name || u.email}</option>`)}
      </select>`;
    case 'relation':
      return html`<${RelationPicker} field=${f} value=${value} onChange=${onChange} onCommit=${onCommit} onCancel=${onCancel} autoFocus=${autoFocus} />`;
    case 'file':
      return html`<input ...${common} onBlur=${undefined} type="file" multiple=${f.multiple}
        onChange=${(e) => { onChange(f.multiple ? [...e.target.files] : e.target.files[0]); if (onCommit) setTimeout(onCommit, 0); }} />`;
    default:
      return text('text');
  }
}

// RelationPicker chooses records of the relation's target by searching their titles; it
// shows only records the user may see.
export function RelationPicker({ field: f, value, onChange, onCommit, onCancel, autoFocus }) {
  const target = f.target === 'users' ? null : objectNamed(f.target);
  const ids = [].concat(value || []).filter(Boolean);
  const [q, setQ] = useState('');
  const [found, setFound] = useState([]);
  const [known, setKnown] = useState({});
  useEffect(() => {
    if (!target || !ids.length) return;
    pb.collection(target.name).getList(1, ids.length, {
      filter: ids.map((id) => pb.filter('id = {:id}', { id })).join(' || '), fields: `id,${target.titleField}`,
    }).then((r) => setKnown((k) => ({ ...k, ...Object.fromEntries(r.items.map((x) => [x.id, titleOf(target, x)])) }))).catch(() => {});
  }, [ids.join(',')]);
  useEffect(() => {
    let cancelled = false;
    const t = setTimeout(async () => {
      if (f.target === 'users') {
        setFound(allUsers().filter((u) => (u.name + ' ' + u.email).toLowerCase().includes(q.toLowerCase())).slice(0, 10)
          .map((u) => ({ id: u.id, title: u.name || u.email })));
        return;
      }
      if (!target) return;
      const res = await pb.collection(target.name).getList(1, 10, {
        filter: q ? pb.filter(`${target.titleField} ~ {:q}`, { q }) : '', sort: target.titleField, skipTotal: true,
        fields: `id,${target.titleField}`,
      }).catch(() => ({ items: [] }));
      if (!cancelled) setFound(res.items.map((x) => ({ id: x.id, title: titleOf(target, x) })));
    }, 200);
    return () => { cancelled = true; clearTimeout(t); };
  }, [q]);
  const pick = (id) => {
    setKnown((k) => ({ ...k, [id]: found.find((x) => x.id === id)?.title }));
    const next = f.multiple ? [...new Set([...ids, id])] : id;
    onChange(next);
    setQ('');
    if (!f.multiple && onCommit) setTimeout(onCommit, 0);
  };
  const remove = (id) => onChange(f.multiple ? ids.filter((x) => x !== id) : '');
  const name = (id) => known[id] || userNamed(id)?.name || id;
  return html`<div class="picker">
    <div class="chosen">${ids.map((id) => html`<span class="chip" key=${id}>${name(id)}
      <button type="button" class="icon" title=${t('fields.remove')} onClick=${() => remove(id)}>×</button></span>`)}</div>
    <input type="search" placeholder=${t('list.search', { objects: (target ? target.label.plural : t('fields.users')).toLowerCase() })} value=${q}
      autoFocus=${autoFocus} aria-label=${fieldLabel(f)} onInput=${(e) => setQ(e.target.value)}
      onKeyDown=${(e) => { if (e.key === 'Escape' && onCancel) onCancel(); if (e.key === 'Enter') { e.preventDefault(); if (found[0]) pick(found[0].id); else if (onCommit) onCommit(); } }} />
    <ul class="options">${found.filter((x) => !ids.includes(x.id)).map((x) => html`<li key=${x.id}>
      <button type="button" onMouseDown=${(e) => e.preventDefault()} onClick=${() => pick(x.id)}>${x.title}</button></li>`)}</ul>
    ${onCommit ? html`<button type="button" class="small" onClick=${onCommit}>${t('tokens.done')}</button>` : null}
  </div>`;
}
