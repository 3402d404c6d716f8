// Segments: the audiences of campaigns. A dynamic segment is a filter over contacts built
// with the list's filter builder, with conditions on the contact, on its company and on its
// deals (any deal matching, through the ?-operators the server's filter guard asks for); a
// static segment is a list of contacts added from a list selection or by pasting addresses.
// Counts are live and computed by the server as the signed-in user sees the contacts.
// Engagement conditions (opened, clicked, replied to, bounced from a campaign — any or one —
// optionally within N days, or not) are kept apart from the filter, in the segment's
// engagement field: the server checks them and reads campaign events of the contacts in scope.
import { useEffect, useRef, useState } from 'preact/hooks';
import { pb, relata, me, isManager, objectNamed, fieldLabel, errorMessage } from './api.js';
import { html, navigate, Spinner, ErrorBox, Empty, toast } from './ui.js';
import { FilterAdder, opsFor } from './list.js';
import { t } from './i18n.js';

// The groups of conditions: the object they are about, the path from a contact, and whether
// the path reaches many records (then every operator is an any-match one).
const groups = [
  { key: 'contact', object: 'contacts', prefix: '', many: false },
  { key: 'company', object: 'companies', prefix: 'company.', many: false },
  { key: 'deal', object: 'deals', prefix: 'deals_via_contacts.', many: true },
];
const groupLabel = (g) => ({ contact: t('seg.group.contact'), company: t('seg.group.company'), deal: t('seg.group.deal') })[g.key];

// Engagement events a condition may name (campaign_events.type).
const engagementEvents = ['open', 'click', 'reply', 'bounce'];

// describeEngagement says one engagement condition in words; campaigns maps ids to names.
export function describeEngagement(e, campaigns = {}) {
  const what = t((e.not ? 'seg.eng.not.' : 'seg.eng.did.') + e.event);
  const which = e.campaign ? t('seg.eng.campaignNamed', { name: campaigns[e.campaign] || e.campaign }) : t('seg.eng.anyCampaign');
  return `${t('seg.group.engagement')}: ${what} ${which}${e.days ? ' ' + t('seg.eng.withinDays', { count: e.days }) : ''}`;
}

// EngagementAdder builds one engagement condition: did / did not, the event, the campaign
// (any, or one the user may see) and an optional number of days.
function EngagementAdder({ campaigns, onAdd }) {
  const [e, setE] = useState({ not: false, event: 'open', campaign: '', days: '' });
  const set = (k) => (ev) => { const v = ev.target.value; setE((x) => ({ ...x, [k]: v })); };
  const add = () => {
    const days = parseInt(e.days, 10);
    onAdd({ event: e.event, ...(e.campaign ? { campaign: e.campaign } : {}), ...(days > 0 ? { days } : {}), ...(e.not === 'true' || e.not === true ? { not: true } : {}) });
  };
  return html`<span class="engagement-adder">
    <select aria-label=${t('seg.eng.didOrNot')} id="engagement-not" value=${String(e.not)} onChange=${set('not')}>
      <option value="false">${t('seg.eng.did')}</option><option value="true">${t('seg.eng.didNot')}</option></select>
    <select aria-label=${t('seg.eng.event')} id="engagement-event" value=${e.event} onChange=${set('event')}>
      ${engagementEvents.map((x) => html`<option value=${x}>${t('seg.eng.event.' + x)}</option>`)}</select>
    <select aria-label=${t('seg.eng.campaign')} id="engagement-campaign" value=${e.campaign} onChange=${set('campaign')}>
      <option value="">${t('seg.eng.anyCampaign')}</option>
      ${campaigns.map((c) => html`<option value=${c.id}>${c.name}</option>`)}</select>
    <input type="number" min="0" max="3650" id="engagement-days" style=${{ width: "9em" }} aria-label=${t('seg.eng.days')} placeholder=${t('seg.eng.days')} value=${e.days} onInput=${set('days')} />
    <button id="add-engagement" onClick=${add}>${t('seg.eng.add')}</button>
  </span>`;
}

// segmentFilter turns the builder's conditions into a PocketBase filter; values are escaped by pb.filter.
export function segmentFilter(conds) {
  const parts = [];
  for (const c of conds) {
    const g = groups.find((x) => x.key === c.group);
    const o = g && objectNamed(g.object);
    const f = o?.fields.find((x) => x.name === c.field);
    if (!f) continue;
    const path = g.prefix + f.name;
    const any = (op) => (g.many && !op.startsWith('?') ? '?' + op : op);
    if (c.op === 'empty') parts.push(pb.filter(`${path} ${any('=')} {:v}`, { v: f.type === 'number' || f.type === 'currency' ? 0 : '' }));
    else if (c.op === 'set') parts.push(pb.filter(`${path} ${any('!=')} {:v}`, { v: '' }));
    else if (f.type === 'boolean') parts.push(`${path} ${any('=')} ${c.value === true || c.value === 'true'}`);
    else parts.push(pb.filter(`${path} ${any(c.op)} {:v}`, { v: c.value }));
  }
  return parts.join(' && ');
}

function describe(c) {
  const g = groups.find((x) => x.key === c.group);
  const o = g && objectNamed(g.object);
  const f = o?.fields.find((x) => x.name === c.field);
  const op = f ? opsFor(f).find((x) => x[0] === c.op) : null;
  const v = c.label || (typeof c.value === 'string' && /^\d{4}-\d\d-\d\d/.test(c.value) ? c.value.slice(0, 10) : String(c.value ?? ''));
  return `${g ? groupLabel(g) : c.group}: ${f ? fieldLabel(f) : c.field} ${op ? op[1] : c.op}${op && op[2] ? ' ' + v : ''}`;
}

export function Segments() {
  const [items, setItems] = useState(null);
  const [counts, setCounts] = useState({});
  const [error, setError] = useState('');
  useEffect(() => {
    pb.collection('segments').getFullList({ sort: 'name' }).then((xs) => {
      setItems(xs);
      xs.forEach((s) => relata(`/segments/${s.id}/count`).then((r) => setCounts((c) => ({ ...c, [s.id]: r.count })))
        .catch((err) => setCounts((c) => ({ ...c, [s.id]: errorMessage(err) }))));
    }).catch((err) => setError(errorMessage(err)));
  }, []);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!items) return html`<${Spinner} />`;
  return html`<section class="segments-page">
    <header class="page-head"><h1>${t('seg.title')}</h1><div class="spacer"></div>
      ${isManager() ? html`<button class="primary" id="new-segment" onClick=${() => navigate('/segments/new')}>${t('seg.new')}</button>` : null}</header>
    ${items.length === 0 ? html`<${Empty}>${t('seg.none')}</${Empty}>` : html`<div class="table-wrap"><table class="records">
      <thead><tr><th>${t('seg.name')}</th><th>${t('seg.kind')}</th><th>${t('seg.contactsYouSee')}</th><th>${t('seg.definition')}</th></tr></thead>
      <tbody>${items.map((s) => html`<tr key=${s.id} onClick=${() => navigate('/segments/' + s.id)}>
        <td><a href=${'#/segments/' + s.id}>${s.name}</a></td><td>${s.kind === 'dynamic' ? t('seg.kind.dynamic') : s.kind === 'static' ? t('seg.kind.static') : s.kind}</td>
        <td data-testid=${'segment-count-' + s.id}>${counts[s.id] ?? '…'}</td>
        <td class="muted small">${s.kind === 'dynamic' ? [...(s.query?.conditions || []).map(describe), ...(s.engagement || []).map((e) => describeEngagement(e))].join(' · ') || s.filter : t('seg.list')}</td></tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

export function SegmentEditor({ id }) {
  const [seg, setSeg] = useState(id ? null : { name: '', kind: 'dynamic', description: '', query: { conditions: [] }, engagement: [] });
  const [campaigns, setCampaigns] = useState([]);
  const [group, setGroup] = useState('contact');
  const [count, setCount] = useState(null);
  const [countError, setCountError] = useState('');
  const [error, setError] = useState('');
  const [emails, setEmails] = useState('');
  useEffect(() => {
    if (id) pb.collection('segments').getOne(id).then((s) => setSeg({ ...s, query: s.query || { conditions: [] }, engagement: s.engagement || [] })).catch((err) => setError(errorMessage(err)));
  }, [id]);
  // Campaigns the user may see (managers); others choose "any campaign" only.
  useEffect(() => { pb.collection('campaigns').getFullList({ sort: '-created', fields: 'id,name' }).then(setCampaigns).catch(() => {}); }, []);
  const conds = seg?.query?.conditions || [];
  const filter = seg ? segmentFilter(conds) : '';
  const engagement = seg?.engagement || [];
  const engagementKey = JSON.stringify(engagement);
  const campaignNames = Object.fromEntries(campaigns.map((c) => [c.id, c.name]));
  // The live count follows the conditions 250 ms after they stop changing, and only the
  // answer for the latest conditions is shown: the counts of two edits made in a row can come
  // back in either order (a broader filter's often last), and the older one used to stay.
  const countFor = useRef(0);
  useEffect(() => {
    if (!seg) return;
    const asked = ++countFor.current;
    const show = (r) => { if (asked === countFor.current) { setCount(r.count); setCountError(''); } };
    const fail = (err) => { if (asked === countFor.current) setCountError(errorMessage(err)); };
    if (seg.kind !== 'dynamic') {
      if (seg.id) relata(`/segments/${seg.id}/count`).then(show).catch(() => {});
      return;
    }
    const timer = setTimeout(() => relata('/segments/count', { method: 'POST', body: { filter, engagement } }).then(show).catch(fail), 250);
    return () => clearTimeout(timer);
  }, [filter, engagementKey, seg?.kind, seg?.id]);
  if (error && !seg) return html`<${ErrorBox} error=${error} />`;
  if (!seg) return html`<${Spinner} />`;
  const g = groups.find((x) => x.key === group);
  const setConds = (cs) => setSeg((x) => ({ ...x, query: { ...x.query, conditions: cs } }));
  const setEngagement = (es) => setSeg((x) => ({ ...x, engagement: es }));
  const save = async () => {
    const body = { name: seg.name.trim(), kind: seg.kind, description: seg.description || '',
      filter: seg.kind === 'dynamic' ? filter : '', query: seg.kind === 'dynamic' ? { conditions: conds } : null,
      engagement: seg.kind === 'dynamic' ? engagement : [] };
    try {
      const saved = seg.id ? await pb.collection('segments').update(seg.id, body)
        : await pb.collection('segments').create({ ...body, owner: me().id });
      toast(t('seg.saved', { name: saved.name }));
      setError('');
      if (!seg.id) navigate('/segments/' + saved.id);
      else setSeg({ ...saved, query: saved.query || { conditions: [] }, engagement: saved.engagement || [] });
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const addEmails = async () => {
    try {
      const list = emails.split(/[\s,;]+/).filter(Boolean);
      const r = await relata(`/segments/${seg.id}/members`, { method: 'POST', body: { emails: list } });
      toast(r.unknown?.length ? t('seg.addedUnknown', { added: r.added, unknown: r.unknown.join(', ') }) : t('seg.added', { added: r.added }));
      setEmails('');
      const c = await relata(`/segments/${seg.id}/count`);
      setCount(c.count);
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const editable = isManager();
  return html`<section class="segment-editor">
    <header class="page-head">
      <h1>${seg.id ? seg.name : t('seg.new')}</h1>
      <span class="pill" data-testid="segment-live-count" title=${t('seg.countTitle')}>
        ${countError ? '—' : count == null ? '…' : t('seg.contacts', { count })}</span>
      <div class="spacer"></div>
      <button onClick=${() => navigate('/segments')}>${t('seg.all')}</button>
      ${editable ? html`<button class="primary" id="save-segment" onClick=${save}>${t('seg.save')}</button>` : null}
    </header>
    <${ErrorBox} error=${error} />
    <div class="form-grid">
      <label><span>${t('seg.name')}</span><input id="segment-name" value=${seg.name} disabled=${!editable} onInput=${(e) => setSeg({ ...seg, name: e.target.value })} /></label>
      <label><span>${t('seg.kind')}</span><select id="segment-kind" value=${seg.kind} disabled=${!editable || !!seg.id} onChange=${(e) => setSeg({ ...seg, kind: e.target.value })}>
        <option value="dynamic">${t('seg.dynamic')}</option><option value="static">${t('seg.static')}</option></select></label>
      <label class="wide"><span>${t('seg.description')}</span><input value=${seg.description || ''} disabled=${!editable} onInput=${(e) => setSeg({ ...seg, description: e.target.value })} /></label>
    </div>
    ${seg.kind === 'dynamic' ? html`
      <h2>${t('seg.conditions')} <span class="muted small">${t('seg.allMust')}</span></h2>
      ${editable ? html`<div class="toolbar segment-builder">
        <select aria-label=${t('seg.conditionOn')} id="segment-group" value=${group} onChange=${(e) => setGroup(e.target.value)}>
          ${groups.filter((x) => objectNamed(x.object)).map((x) => html`<option value=${x.key}>${groupLabel(x)}</option>`)}
          <option value="engagement">${t('seg.group.engagement')}</option></select>
        ${group === 'engagement' ? html`<${EngagementAdder} campaigns=${campaigns} onAdd=${(e) => setEngagement([...engagement, e])} />`
          : html`<${FilterAdder} key=${group} object=${objectNamed(g.object)} onAdd=${(c) => setConds([...conds, { ...c, group }])} />`}
      </div>` : null}
      ${conds.length || engagement.length ? html`<div class="chips">${conds.map((c, i) => html`<span class="chip" key=${'c' + i}>${describe(c)}
        ${editable ? html`<button class="icon" title=${t('seg.removeCondition')} onClick=${() => setConds(conds.filter((_, j) => j !== i))}>×</button>` : null}</span>`)}
        ${engagement.map((e, i) => html`<span class="chip" key=${'e' + i} data-testid="engagement-chip">${describeEngagement(e, campaignNames)}
        ${editable ? html`<button class="icon" title=${t('seg.removeCondition')} onClick=${() => setEngagement(engagement.filter((_, j) => j !== i))}>×</button>` : null}</span>`)}</div>`
        : html`<p class="muted">${t('seg.noConditions')}</p>`}
      ${countError ? html`<div class="error" role="alert" data-testid="segment-count-error">${countError}</div>` : null}
      <details><summary class="muted small">${t('seg.filter')}</summary><code data-testid="segment-filter">${filter || t('seg.noneFilter')}</code></details>`
    : html`
      <h2>${t('seg.members')}</h2>
      ${seg.id ? html`<p class="muted">${t('seg.addHelp')}</p>
        ${editable ? html`<textarea id="segment-emails" rows="4" placeholder="ada@example.com, alan@example.com" value=${emails} onInput=${(e) => setEmails(e.target.value)}></textarea>
        <div class="actions"><button id="add-emails" onClick=${addEmails} disabled=${!emails.trim()}>${t('seg.addAddresses')}</button></div>` : null}`
      : html`<p class="muted">${t('seg.saveFirst')}</p>`}`}
  </section>`;
}

// AddToSegment adds the contacts ticked in a list to a static segment.
export function AddToSegment({ ids, onDone }) {
  const [segs, setSegs] = useState([]);
  const [target, setTarget] = useState('');
  useEffect(() => { pb.collection('segments').getFullList({ filter: 'kind = "static"', sort: 'name' }).then(setSegs).catch(() => {}); }, []);
  if (!segs.length) return null;
  const add = async () => {
    try {
      const r = await relata(`/segments/${target}/members`, { method: 'POST', body: { ids } });
      toast(t('seg.addedTo', { added: r.added }));
      onDone();
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
  };
  return html`<span class="add-to-segment"><select aria-label=${t('seg.staticSegment')} value=${target} onChange=${(e) => setTarget(e.target.value)}>
    <option value="">${t('seg.addTo')}</option>${segs.map((s) => html`<option value=${s.id}>${s.name}</option>`)}</select>
    <button data-testid="add-to-segment" disabled=${!target} onClick=${add}>${t('seg.addN', { n: ids.length })}</button></span>`;
}
