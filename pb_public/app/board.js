// The pipeline board: one column per stage with count, total and weighted total; drag a card
// to another column to change its stage (which runs the stage-changed workflows). Cards that
// stayed longer than their stage's rotting days are highlighted. Updates arrive in realtime.
// Totals are in the organisation's base currency at the rates of the day the server states;
// a column with several currencies lists each one's own subtotal beneath.
// An object whose records pick a pipeline (deals: sales, renewals) gets a pipeline switcher;
// owner and team filters narrow cards and totals alike; "+" in a column creates a record there
// (name and amount, owned by the signed-in user).
import { useEffect, useRef, useState } from 'preact/hooks';
import Sortable from 'sortablejs';
import {
  pb, relata, objectNamed, pipelineOf, stageField, amountField, expandFields, titleOf, formatMoney, formatDate,
  parseDate, daysBetween, userNamed, subscribe, debounce, errorMessage, objectLabel, pipelineLabel, stageLabel, stagePipelines, pipelineFilter, allUsers, me,
} from './api.js';
import { t } from './i18n.js';
import { html, recordHref, navigate, Spinner, ErrorBox, toast } from './ui.js';
import { useScores, ScoreBadge } from './score.js';

const pageSize = 30;

export function Board({ object, pipeline }) {
  const o = objectNamed(object);
  const p = o && pipelineOf(o, pipeline);
  const field = o && stageField(o, pipeline);
  const amount = o && amountField(o);
  const [numbers, setNumbers] = useState(null);
  const [cards, setCards] = useState({}); // stage -> records
  const [limits, setLimits] = useState({}); // stage -> how many to show
  const [since, setSince] = useState({}); // record id -> Date it entered its stage
  const [error, setError] = useState('');
  // On a phone the board shows one stage at a time; the switcher above it picks which.
  const [shown, setShown] = useState('');
  // Owner and team filters: '' is everyone.
  const [who, setWho] = useState({ owner: '', team: '' });
  const limitsRef = useRef(limits);
  limitsRef.current = limits;
  const whoRef = useRef(who);
  whoRef.current = who;
  const ownerF = o && o.fields.find((f) => f.type === 'owner' && !f.multiple);
  const teams = [...new Set(allUsers().map((u) => u.team).filter(Boolean))].sort();

  // The filter of the cards shown besides their stage: pipeline, owner, team.
  const cardFilter = () => {
    const parts = [pipelineFilter(o, field, pipeline)];
    const w = whoRef.current;
    if (ownerF && w.owner) parts.push(pb.filter(`${ownerF.name} = {:u}`, { u: w.owner }));
    if (ownerF && w.team) {
      const ids = allUsers().filter((u) => u.team === w.team).map((u) => u.id);
      parts.push(ids.length ? '(' + ids.map((id) => pb.filter(`${ownerF.name} = {:u}`, { u: id })).join(' || ') + ')' : 'id = ""');
    }
    return parts.filter(Boolean);
  };

  const load = async () => {
    try {
      const w = whoRef.current;
      const extra = (w.owner ? '&owner=' + encodeURIComponent(w.owner) : '') + (w.team ? '&team=' + encodeURIComponent(w.team) : '');
      const n = await relata(`/insights/pipeline?object=${object}&pipeline=${pipeline}&field=${field.name}${extra}`);
      const lists = await Promise.all(p.stages.map((s) => pb.collection(object).getList(1, limitsRef.current[s.name] || pageSize, {
        filter: [pb.filter(`${field.name} = {:s}`, { s: s.name }), ...cardFilter()].join(' && '),
        sort: '-updated', expand: expandFields(o), skipTotal: true,
      })));
      const next = {};
      p.stages.forEach((s, i) => { next[s.name] = lists[i].items; });
      const ids = lists.flatMap((l) => l.items.map((r) => r.id));
      const stageSince = ids.length
        ? (await relata(`/insights/stage-since?object=${object}&field=${field.name}&ids=${ids.join(',')}`)).since : {};
      setNumbers(n);
      setCards(next);
      setSince(Object.fromEntries(Object.entries(stageSince).map(([id, t]) => [id, new Date(t)])));
      setError('');
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  useEffect(() => {
    if (!o || !p || !field) return;
    load();
    const reload = debounce(load, 250);
    return subscribe(object, '*', reload);
  }, [object, pipeline]);
  useEffect(() => { if (numbers) load(); }, [limits, who]);

  // Quick create in a column: the title and the amount; the owner is the signed-in user, the
  // stage that column's, the pipeline this board's.
  const create = async (stage, title, value) => {
    const data = { [o.titleField]: title, [field.name]: stage };
    if (amount && value !== '') data[amount.name] = Number(value);
    if (ownerF && me()) data[ownerF.name] = me().id;
    if (field.pipelineField && pipeline !== field.pipeline) data[field.pipelineField] = pipeline;
    try {
      const rec = await pb.collection(object).create(data);
      toast(t('board.created', { title: titleOf(o, rec), stage: p.stages.find((s) => s.name === stage)?.label || stage }));
      load();
      return true;
    } catch (err) {
      toast(errorMessage(err, o), 'error');
      return false;
    }
  };

  const move = async (id, from, to) => {
    if (from === to) return;
    const card = (cards[from] || []).find((r) => r.id === id);
    // Show the move at once; the server's answer (and realtime) confirm it.
    setCards((cs) => ({ ...cs, [from]: cs[from].filter((r) => r.id !== id), [to]: [{ ...card, [field.name]: to }, ...(cs[to] || [])] }));
    try {
      await pb.collection(object).update(id, { [field.name]: to });
      const st = p.stages.find((s) => s.name === to);
      toast(t('board.moved', { title: titleOf(o, card), stage: st ? stageLabel(o, st) : to }));
    } catch (err) {
      toast(errorMessage(err, o), 'error');
    }
    load();
  };

  // One request scores every open card shown (closed columns need no forecast).
  const openIds = p ? p.stages.filter((s) => !s.won && !s.lost && !s.closed).flatMap((s) => (cards[s.name] || []).map((r) => r.id)) : [];
  const scores = useScores(o, openIds);
  if (!o || !p || !field) return html`<${ErrorBox} error=${t('board.noPipeline')} />`;
  if (!numbers && !error) return html`<${Spinner} />`;
  const cur = numbers?.currency || amount?.currency;
  const missing = numbers?.missingRates || [];
  return html`<section class="board-page">
    <header class="page-head">
      <h1>${t('nav.pipeline', { name: pipelineLabel(o, p) })}</h1>
      ${numbers ? html`<div class="summary">
        <span>${t('board.open')} <b data-testid="open-count">${numbers.open.count}</b> ${objectLabel(o).toLowerCase()}</span>
        <span>${t('board.total')} <b data-testid="open-total">${formatMoney(numbers.open.total, cur)}</b></span>
        <span>${t('board.weighted')} <b data-testid="open-weighted">${formatMoney(numbers.open.weighted, cur)}</b></span>
        <span>${t('board.won')} <b>${formatMoney(numbers.won.total, cur)}</b></span>
        ${amount?.type === 'currency' ? html`<span class="muted small" data-testid="rates-note">${t('board.ratesNote', { currency: cur, date: numbers.ratesDate })}</span>` : null}
      </div>` : null}
      <a class="button" href=${'#/list/' + object}>${t('board.listView')}</a>
    </header>
    <div class="board-filters" data-testid="board-filters">
      ${stagePipelines(o, field).length > 1 ? html`<label>${t('board.pipeline')} <select data-testid="pipeline-switcher" value=${pipeline}
        onChange=${(e) => navigate(`/board/${object}/${e.target.value}`)}>
        ${stagePipelines(o, field).map((x) => html`<option key=${x.name} value=${x.name}>${x.label || x.name}</option>`)}</select></label>` : null}
      ${ownerF ? html`<label>${t('board.owner')} <select data-testid="owner-filter" value=${who.owner}
        onChange=${(e) => { const v = e.target.value; setWho((w) => ({ ...w, owner: v })); }}>
        <option value="">${t('board.everyone')}</option>
        ${me() ? html`<option value=${me().id}>${t('board.me')}</option>` : null}
        ${allUsers().filter((u) => u.id !== me()?.id).map((u) => html`<option key=${u.id} value=${u.id}>${u.name || u.email}</option>`)}</select></label>` : null}
      ${ownerF && teams.length ? html`<label>${t('board.team')} <select data-testid="team-filter" value=${who.team}
        onChange=${(e) => { const v = e.target.value; setWho((w) => ({ ...w, team: v })); }}>
        <option value="">${t('board.allTeams')}</option>
        ${teams.map((t) => html`<option key=${t} value=${t}>${t}</option>`)}</select></label>` : null}
    </div>
    <${ErrorBox} error=${error} />
    ${missing.length ? html`<${MissingRates} codes=${missing} base=${cur} date=${numbers.ratesDate} />` : null}
    <div class="stage-switcher" role="tablist" data-testid="stage-switcher">
      ${p.stages.map((s, i) => html`<button key=${s.name} type="button" role="tab" data-stage=${s.name}
        class="${s.name === (shown || p.stages[0].name) ? 'active' : ''} ${s.won ? 'won' : ''} ${s.lost ? 'lost' : ''}"
        aria-selected=${s.name === (shown || p.stages[0].name) ? 'true' : 'false'}
        onClick=${() => setShown(s.name)}>${stageLabel(o, s)} <span class="count">${numbers?.stages[i]?.count ?? 0}</span></button>`)}
    </div>
    <div class="board">
      ${p.stages.map((s, i) => html`<${Column} key=${s.name} shown=${s.name === (shown || p.stages[0].name)} object=${o} stage=${s} field=${field} amount=${amount}
        totals=${numbers?.stages[i]} cards=${cards[s.name] || []} since=${since} scores=${scores} currency=${cur}
        onMove=${move} onCreate=${create} onMore=${() => setLimits((l) => ({ ...l, [s.name]: (l[s.name] || pageSize) + pageSize }))} />`)}
    </div>
  </section>`;
}

// MissingRates says which currencies have no exchange rate: their amounts are in no total.
export function MissingRates({ codes, base, date }) {
  return html`<div class="notice warn" role="status" data-testid="missing-rates">
    ${t('board.missingRates', { base, date, codes: codes.join(', ') })} <code>relata rates import</code>.
  </div>`;
}

// CurrencyDetail lists a total's subtotal in each currency, when there is more than one (or
// when one has no rate).
export function CurrencyDetail({ totals, base, testid }) {
  const by = totals?.byCurrency || {};
  const codes = Object.keys(by).sort();
  if (!codes.length || (codes.length === 1 && codes[0] === base && !totals.unconverted)) return null;
  return html`<div class="currency-detail muted small" data-testid=${testid}>
    ${codes.map((c) => html`<span key=${c} data-currency=${c}>${formatMoney(by[c].total, c)}</span>`)}
  </div>`;
}

// QuickCreate is the "+" form at the top of a column: a title and an amount.
function QuickCreate({ object: o, stage: s, amount, onCreate }) {
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ title: '', amount: '' });
  const [busy, setBusy] = useState(false);
  if (!open) {
    return html`<button type="button" class="link quick-create-open" data-testid=${'quick-create-' + s.name}
      title=${t('board.newIn', { object: objectLabel(o, false).toLowerCase(), stage: s.label || s.name })} onClick=${() => setOpen(true)}>${t('board.newShort')}</button>`;
  }
  const submit = async (e) => {
    e.preventDefault();
    if (!form.title.trim() || busy) return;
    setBusy(true);
    const ok = await onCreate(s.name, form.title.trim(), form.amount);
    setBusy(false);
    if (ok) { setForm({ title: '', amount: '' }); setOpen(false); }
  };
  return html`<form class="quick-create" data-testid=${'quick-form-' + s.name} onSubmit=${submit}>
    <input name="title" required placeholder=${o.fields.find((f) => f.name === o.titleField)?.label || t('board.name')} value=${form.title}
      onInput=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, title: v })); }} />
    ${amount ? html`<input name="amount" type="number" min="0" step="any" placeholder=${t('board.amount')} value=${form.amount}
      onInput=${(e) => { const v = e.target.value; setForm((f) => ({ ...f, amount: v })); }} />` : null}
    <div class="row"><button type="submit" disabled=${busy}>${t('board.create')}</button>
      <button type="button" class="link" onClick=${() => setOpen(false)}>${t('board.cancel')}</button></div>
  </form>`;
}

function Column({ shown, object: o, stage: s, field, amount, totals, cards, since, scores, currency, onMove, onMore, onCreate }) {
  const list = useRef();
  useEffect(() => {
    const sortable = Sortable.create(list.current, {
      group: 'board',
      animation: 120,
      forceFallback: true, // mouse and touch events, the same in every browser
      fallbackTolerance: 3,
      // On touch screens a card drags after a short press, so a swipe still scrolls the page.
      delay: 250,
      delayOnTouchOnly: true,
      ghostClass: 'ghost',
      onEnd: (evt) => {
        const id = evt.item.dataset.id;
        const from = evt.from.dataset.stage;
        const to = evt.to.dataset.stage;
        // Put the node back where Preact rendered it; the state change moves it for real.
        evt.from.insertBefore(evt.item, evt.from.children[evt.oldIndex] || null);
        if (from !== to) onMove(id, from, to);
      },
    });
    return () => sortable.destroy();
  }, [onMove]);
  const now = Date.now();
  return html`<div class="column ${s.won ? 'won' : ''} ${s.lost ? 'lost' : ''} ${shown ? 'shown' : ''}" data-testid=${'column-' + s.name}>
    <header>
      <div class="stage-name">${stageLabel(o, s)} <span class="muted">${s.probability}%</span></div>
      <div class="stage-numbers">
        <span data-testid=${'count-' + s.name}>${totals?.count ?? 0}</span> ·
        <span data-testid=${'total-' + s.name}>${formatMoney(totals?.total, currency)}</span>
        <span class="muted" title=${t('board.weightedTitle')}> · ${formatMoney(totals?.weighted, currency)}</span>
      </div>
      <${CurrencyDetail} totals=${totals} base=${currency} testid=${'currencies-' + s.name} />
      <${QuickCreate} object=${o} stage=${s} amount=${amount} onCreate=${onCreate} />
    </header>
    <ul class="cards" ref=${list} data-stage=${s.name}>
      ${cards.map((r) => {
        const entered = since[r.id] || parseDate(r.created);
        const days = entered ? Math.floor(daysBetween(entered, now)) : 0;
        const rotting = s.rottingDays && days > s.rottingDays;
        const company = o.fields.find((f) => f.type === 'relation' && !f.multiple && r.expand?.[f.name]);
        const owner = o.fields.find((f) => f.type === 'owner');
        return html`<li key=${r.id} class="card deal ${rotting ? 'rotting' : ''}" data-id=${r.id}
            onClick=${() => navigate(recordHref(o.name, r.id).slice(1))}
            title=${rotting ? t('board.rottingTitle', { stage: stageLabel(o, s), days, limit: s.rottingDays }) : ''}>
          <a class="title" href=${recordHref(o.name, r.id)} onClick=${(e) => e.preventDefault()}>${titleOf(o, r)}</a>
          ${amount ? html`<div class="amount">${formatMoney(r[amount.name], r[amount.name + '_currency'] || currency)}</div>` : null}
          <div class="meta">
            ${company ? html`<span>${titleOf(objectNamed(company.target) || o, r.expand[company.name])}</span>` : null}
            ${owner && r[owner.name] ? html`<span class="person">${userNamed(r[owner.name])?.name || r.expand?.[owner.name]?.name || ''}</span>` : null}
          </div>
          <div class="meta">
            ${r.expected_close ? html`<span title=${t('board.expectedClose')}>${t('board.closes', { date: formatDate(r.expected_close) })}</span>` : null}
            ${rotting ? html`<span class="rot-badge">${t('board.daysInStage', { count: days })}</span>` : html`<span class="muted">${t('board.daysInStageShort', { count: days })}</span>`}
            <${ScoreBadge} score=${scores[r.id]} />
          </div>
        </li>`;
      })}
    </ul>
    ${totals && totals.count > cards.length ? html`<button class="link more" onClick=${onMore}>${t('board.showMore', { count: totals.count - cards.length })}</button>` : null}
  </div>`;
}
