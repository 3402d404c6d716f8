// Duplicates and merge: the pairs of records that may be one (Relata's matching rules decide,
// and list only records the user may view), a merge screen choosing each field's surviving
// value, and the warning shown while a likely duplicate is being created.
import { useEffect, useState } from 'preact/hooks';
import { pb, relata, allObjects, objectNamed, objectLabel, fieldLabel, expandFields, titleOf, errorMessage } from './api.js';
import { html, navigate, recordHref, Spinner, ErrorBox, Empty, toast } from './ui.js';
import { FieldValue } from './fields.js';
import { t, tx } from './i18n.js';

const pct = (s) => `${Math.round(s * 100)}%`;

// reasonText says why two records matched, in words.
export function reasonText(o, r) {
  const f = o?.fields.find((x) => x.name === r.field);
  const label = f ? fieldLabel(f).toLowerCase() : r.field;
  return r.match === 'name' ? `${label} ${pct(r.similarity)} alike` : `same ${label} (${r.value})`;
}

export function DuplicatesPage({ object }) {
  const o = objectNamed(object);
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    // Another object's scan answering late (or refused) must not show on this one.
    let current = true;
    setData(null);
    setError('');
    relata(`/duplicates/${encodeURIComponent(object)}`)
      .then((d) => current && setData(d))
      .catch((err) => current && setError(errorMessage(err)));
    return () => { current = false; };
  }, [object]);
  if (!o) return html`<${ErrorBox} error=${t('list.noObject')} />`;
  return html`<section class="duplicates-page">
    <header class="page-head"><h1>${t('nav.duplicates')}</h1>
      <select aria-label=${t('dup.object')} data-testid="duplicates-object" value=${object} onChange=${(e) => navigate('/duplicates/' + e.target.value)}>
        ${allObjects().map((x) => html`<option key=${x.name} value=${x.name}>${objectLabel(x)}</option>`)}
      </select>
      ${data ? html`<span class="muted">${t('dup.likely', { count: data.total, records: data.records, objects: objectLabel(o).toLowerCase() })}</span>` : null}
    </header>
    <${ErrorBox} error=${error} />
    ${!data ? (error ? null : html`<${Spinner} />`) : !data.pairs.length ? html`<${Empty}>${t('dup.none')}</${Empty}>` : html`
    <div class="table-wrap"><table class="records duplicates" data-testid="duplicates">
      <thead><tr><th>${t('dup.score')}</th><th>${t('trash.record')}</th><th>${t('trash.record')}</th><th>${t('dup.why')}</th><th></th></tr></thead>
      <tbody>${data.pairs.map((p) => html`<tr key=${p.a + p.b}>
        <td><span class="pill score">${pct(p.score)}</span></td>
        <td><a href=${recordHref(object, p.a)}>${p.aTitle || p.a}</a></td>
        <td><a href=${recordHref(object, p.b)}>${p.bTitle || p.b}</a></td>
        <td class="muted small">${p.reasons.map((r) => reasonText(o, r)).join(' · ')}</td>
        <td><a class="button" data-testid="merge-pair" href=${`#/merge/${encodeURIComponent(object)}/${encodeURIComponent(p.a)}/${encodeURIComponent(p.b)}`}>${t('dup.mergeButton')}</a></td>
      </tr>`)}</tbody></table></div>`}
  </section>`;
}

const isEmpty = (v) => v === '' || v == null || v === false || v === 0 || (Array.isArray(v) && v.length === 0);
const same = (a, b) => JSON.stringify(a ?? '') === JSON.stringify(b ?? '');

// MergePage shows two records side by side: the user picks the record to keep and, per field
// that differs, whose value survives; every link to the other record moves to the kept one.
export function MergePage({ object, a, b }) {
  const o = objectNamed(object);
  const [recs, setRecs] = useState(null);
  const [error, setError] = useState('');
  const [keep, setKeep] = useState(a);
  const [pick, setPick] = useState({}); // field -> record id whose value survives
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(null);
  useEffect(() => {
    if (!o) return;
    Promise.all([a, b].map((id) => pb.collection(object).getOne(id, { expand: expandFields(o) })))
      .then(setRecs).catch((err) => setError(errorMessage(err)));
  }, [object, a, b]);
  if (!o) return html`<${ErrorBox} error=${t('list.noObject')} />`;
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!recs) return html`<${Spinner} />`;
  const byId = { [a]: recs[0], [b]: recs[1] };
  const other = keep === a ? b : a;
  const fields = o.fields.filter((f) => f.type !== 'file' && f.name !== 'last_touched');
  const differs = fields.filter((f) => !same(byId[a][f.name], byId[b][f.name]));
  // by default: lists (tags, multiple choices and links) get both records' values; other
  // fields the kept record's value, or the other's where the kept one is empty
  const isList = (f) => f.type === 'tags' || f.multiple;
  const chosen = (f) => pick[f.name] || (isList(f) ? 'both' : isEmpty(byId[keep][f.name]) && !isEmpty(byId[other][f.name]) ? other : keep);
  const merge = async () => {
    setBusy(true);
    try {
      const take = differs.filter((f) => chosen(f) === other).map((f) => f.name);
      const kept = differs.filter((f) => chosen(f) === keep).map((f) => f.name);
      const res = await relata(`/merge/${encodeURIComponent(object)}`, { method: 'POST', body: { winner: keep, loser: other, take, keep: kept } });
      setDone(res);
      toast(t('dup.mergedToast', { count: res.repointed.length }));
    } catch (err) {
      toast(errorMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  const undo = async () => {
    setBusy(true);
    try {
      await relata(`/merges/${encodeURIComponent(done.id)}/undo`, { method: 'POST' });
      toast(t('dup.undone'));
      setDone(null);
      setRecs(await Promise.all([a, b].map((id) => pb.collection(object).getOne(id, { expand: expandFields(o) }))));
    } catch (err) {
      toast(errorMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  if (done) {
    return html`<section class="merge-page" data-testid="merge-done">
      <header class="page-head"><h1>${t('dup.merged')}</h1></header>
      <p>${tx('dup.mergedInto', { loser: html`<b>${titleOf(o, byId[done.loser])}</b>`, winner: html`<a data-testid="merged-winner" href=${recordHref(object, done.winner)}>${titleOf(o, byId[done.winner])}</a>` })} ${t('dup.linksMoved', { count: done.repointed.length })}${done.fields.length ? t('dup.valuesChanged', { count: done.fields.length }) : ''}${t('dup.oldLinks')}</p>
      <div class="actions"><button data-testid="undo-merge" disabled=${busy} onClick=${undo}>${t('dup.undo')}</button>
        <a class="button primary" href=${recordHref(object, done.winner)}>${t('dup.open', { title: titleOf(o, byId[done.winner]) })}</a></div>
    </section>`;
  }
  return html`<section class="merge-page">
    <header class="page-head"><h1>${t('dup.mergeTitle', { objects: objectLabel(o).toLowerCase() })}</h1>
      <span class="muted">${t('dup.choose')}</span></header>
    <div class="table-wrap"><table class="records merge" data-testid="merge-table">
      <thead><tr><th></th>${[a, b].map((id) => html`<th key=${id}>
        <label class="keep"><input type="radio" name="keep" data-testid=${'keep-' + id} checked=${keep === id} onChange=${() => { setKeep(id); setPick({}); }} />
          ${t('dup.keep')} <a href=${recordHref(object, id)}>${titleOf(o, byId[id])}</a></label></th>`)}</tr></thead>
      <tbody>${fields.map((f) => {
        const diff = differs.includes(f);
        return html`<tr key=${f.name} class=${diff ? 'differs' : 'same'}>
          <th>${fieldLabel(f)}${diff && isList(f) ? html`<label class="both"><input type="radio" name=${'f-' + f.name} data-testid=${`pick-${f.name}-both`}
            checked=${chosen(f) === 'both'} onChange=${() => setPick((p) => ({ ...p, [f.name]: 'both' }))} /> ${t('dup.both')}</label>` : null}</th>
          ${[a, b].map((id) => html`<td key=${id}>${diff ? html`<label>
            <input type="radio" name=${'f-' + f.name} data-testid=${`pick-${f.name}-${id}`} checked=${chosen(f) === id}
              onChange=${() => setPick((p) => ({ ...p, [f.name]: id }))} />
            <${FieldValue} object=${o} field=${f} record=${byId[id]} /></label>` : html`<${FieldValue} object=${o} field=${f} record=${byId[id]} />`}</td>`)}
        </tr>`;
      })}</tbody></table></div>
    <p class="muted">${tx('dup.pointAt', { loser: html`<b>${titleOf(o, byId[other])}</b>`, winner: html`<b>${titleOf(o, byId[keep])}</b>` })}</p>
    <div class="actions"><a class="button" href=${'#/duplicates/' + encodeURIComponent(object)}>${t('dup.cancel')}</a>
      <button class="primary" data-testid="confirm-merge" disabled=${busy} onClick=${merge}>${busy ? t('dup.merging') : t('dup.mergeInto', { title: titleOf(o, byId[keep]) })}</button></div>
  </section>`;
}

// useDuplicateCheck asks the server, as values are typed into a new record, which existing
// records they may duplicate; it answers the matches (never blocks the create).
export function useDuplicateCheck(o, values, exclude = '') {
  const [matches, setMatches] = useState([]);
  const compared = o.fields.filter((f) => ['text', 'email', 'phone', 'url'].includes(f.type) || (f.type === 'relation' && !f.multiple));
  const key = JSON.stringify(compared.map((f) => values[f.name]));
  useEffect(() => {
    const params = new URLSearchParams();
    for (const f of compared) {
      const v = values[f.name];
      if (typeof v === 'string' && v.trim()) params.set(f.name, v.trim());
    }
    if (exclude) params.set('exclude', exclude);
    if (![...params.keys()].filter((k) => k !== 'exclude').length) { setMatches([]); return undefined; }
    let cancelled = false;
    const t = setTimeout(() => {
      relata(`/duplicates/${encodeURIComponent(o.name)}/check?${params}`)
        .then((r) => { if (!cancelled) setMatches(r.matches); }).catch(() => {});
    }, 300);
    return () => { cancelled = true; clearTimeout(t); };
  }, [o.name, key, exclude]);
  return matches;
}

// DuplicateWarning lists the likely duplicates of a record being created, each a link; with
// onMerge, each also offers to create the record and open the merge screen with both.
export function DuplicateWarning({ object: o, matches, onMerge }) {
  if (!matches.length) return null;
  return html`<div class="warning wide" role="status" data-testid="duplicate-warning">
    ${t('dup.mayExist', { count: matches.length })}
    <ul>${matches.slice(0, 3).map((m) => html`<li key=${m.id}><a href=${recordHref(o.name, m.id)} target="_blank" rel="noopener">${m.title || m.id}</a>
      <span class="muted small"> ${pct(m.score)} · ${m.reasons.map((r) => reasonText(o, r)).join(' · ')}</span>
      ${onMerge ? html` <button type="button" class="link" data-testid="create-and-merge" onClick=${() => onMerge(m)}>${t('dup.createAndMerge')}</button>` : null}</li>`)}</ul>
  </div>`;
}


// RecordDuplicates tells, on a record page, which records this one may duplicate, with a
// link to merge them.
export function RecordDuplicates({ object: o, record }) {
  const matches = useDuplicateCheck(o, record, record.id);
  if (!matches.length) return null;
  return html`<div class="warning" role="status" data-testid="record-duplicates">
    ${t('dup.sameAs', { count: matches.length })}
    <ul>${matches.slice(0, 3).map((m) => html`<li key=${m.id}><a href=${recordHref(o.name, m.id)}>${m.title || m.id}</a>
      <span class="muted small"> ${pct(m.score)} · ${m.reasons.map((r) => reasonText(o, r)).join(' · ')}</span>
      ${' '}<a data-testid="merge-with" href=${`#/merge/${encodeURIComponent(o.name)}/${encodeURIComponent(record.id)}/${encodeURIComponent(m.id)}`}>${t('dup.merge')}…</a></li>`)}</ul>
  </div>`;
}
