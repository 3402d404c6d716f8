// Campaigns: a template sent to a segment, now or at a time, within a throttle; its progress
// and its report (sent, delivered, bounced, opened, clicked, unsubscribed, replied, deals),
// drawn with Chart.js beside a table of the exact figures.
import { useEffect, useState } from 'preact/hooks';
import { pb, relata, me, errorMessage } from './api.js';
import { html, navigate, Spinner, ErrorBox, Empty, Pill, toast } from './ui.js';
import { ChartBox, palette } from './dashboard.js';

const reasons = {
  no_address: 'No address', do_not_email: 'Do not email', suppressed: 'Suppressed',
  no_consent: 'No consent', no_access: 'No longer visible to the owner', cancelled: 'Cancelled',
};

export function Campaigns() {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    pb.collection('campaigns').getFullList({ sort: '-created', expand: 'segment' }).then(setItems).catch((err) => setError(errorMessage(err)));
  }, []);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!items) return html`<${Spinner} />`;
  return html`<section class="campaigns-page">
    <header class="page-head"><h1>Campaigns</h1><div class="spacer"></div>
      <button class="primary" id="new-campaign" onClick=${() => navigate('/campaigns/new')}>New campaign</button></header>
    ${items.length === 0 ? html`<${Empty}>No campaigns yet.</${Empty}>` : html`<div class="table-wrap"><table class="records">
      <thead><tr><th>Name</th><th>Status</th><th>Segment</th><th>Template</th><th>Started</th></tr></thead>
      <tbody>${items.map((c) => html`<tr key=${c.id} onClick=${() => navigate('/campaigns/' + c.id)}>
        <td><a href=${'#/campaigns/' + c.id}>${c.name}</a></td><td><${Pill}>${c.status || 'draft'}</${Pill}></td>
        <td>${c.expand?.segment?.name || ''}</td><td>${c.template}</td><td>${(c.started_at || '').slice(0, 16)}</td></tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

export function NewCampaign() {
  const [v, setV] = useState({ name: '', template: '', segment: '', send_at: '', throttle: 0, track_clicks: true, track_opens: false, consent_bases: [], report_days: 30 });
  const [templates, setTemplates] = useState([]);
  const [segs, setSegs] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    pb.collection('email_templates').getFullList({ sort: 'name' }).then(setTemplates).catch(() => {});
    pb.collection('segments').getFullList({ sort: 'name' }).then(setSegs).catch(() => {});
  }, []);
  const set = (k) => (e) => setV({ ...v, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const toggleBasis = (b) => setV({ ...v, consent_bases: v.consent_bases.includes(b) ? v.consent_bases.filter((x) => x !== b) : [...v.consent_bases, b] });
  const create = async (e) => {
    e.preventDefault();
    try {
      const c = await pb.collection('campaigns').create({ ...v, throttle: Number(v.throttle) || 0, report_days: Number(v.report_days) || 30,
        send_at: v.send_at ? new Date(v.send_at).toISOString() : '', owner: me().id, status: 'draft' });
      navigate('/campaigns/' + c.id);
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return html`<section>
    <header class="page-head"><h1>New campaign</h1></header>
    <form class="form-grid" onSubmit=${create}>
      <label><span>Name</span><input id="campaign-name" required value=${v.name} onInput=${set('name')} /></label>
      <label><span>Template</span><select id="campaign-template" required value=${v.template} onChange=${set('template')}>
        <option value="">Choose…</option>${templates.map((t) => html`<option value=${t.name}>${t.name}${t.category === 'marketing' ? '' : ' (transactional: sent as marketing)'}</option>`)}</select></label>
      <label><span>Segment</span><select id="campaign-segment" required value=${v.segment} onChange=${set('segment')}>
        <option value="">Choose…</option>${segs.map((s) => html`<option value=${s.id}>${s.name}</option>`)}</select></label>
      <label><span>Send at <small class="muted">(empty: when you press Send)</small></span><input id="campaign-send-at" type="datetime-local" value=${v.send_at} onInput=${set('send_at')} /></label>
      <label><span>Throttle <small class="muted">(messages per minute; 0: no limit)</small></span><input id="campaign-throttle" type="number" min="0" value=${v.throttle} onInput=${set('throttle')} /></label>
      <label><span>Deals counted within (days)</span><input type="number" min="1" value=${v.report_days} onInput=${set('report_days')} /></label>
      <fieldset class="wide"><legend>Recipients need a marketing consent on one of these bases <small class="muted">(none ticked: anyone who has not withdrawn it)</small></legend>
        ${['consent', 'contract', 'legitimate_interest'].map((b) => html`<label class="checkbox" key=${b}><input type="checkbox" checked=${v.consent_bases.includes(b)} onChange=${() => toggleBasis(b)} /> ${b.replace('_', ' ')}</label>`)}
      </fieldset>
      <label class="checkbox"><span><input id="campaign-track-clicks" type="checkbox" checked=${v.track_clicks} onChange=${set('track_clicks')} /> Track clicks (links of the template)</span></label>
      <label class="checkbox"><span><input id="campaign-track-opens" type="checkbox" checked=${v.track_opens} onChange=${set('track_opens')} /> Track opens with a pixel (unreliable; disclose it)</span></label>
      <${ErrorBox} error=${error} />
      <div class="actions wide"><button type="button" onClick=${() => navigate('/campaigns')}>Cancel</button><button class="primary" id="create-campaign" type="submit">Create draft</button></div>
    </form>
  </section>`;
}

export function CampaignPage({ id }) {
  const [c, setC] = useState(null);
  const [r, setR] = useState(null);
  const [error, setError] = useState('');
  const load = async () => {
    try {
      const [camp, rep] = await Promise.all([pb.collection('campaigns').getOne(id, { expand: 'segment' }), relata(`/campaigns/${id}/report`)]);
      setC(camp);
      setR(rep);
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  useEffect(() => { load(); }, [id]);
  useEffect(() => {
    if (!c || !['scheduled', 'sending'].includes(c.status) && !(r && r.inFlight > 0)) return undefined;
    const t = setInterval(load, 1500);
    return () => clearInterval(t);
  }, [c?.status, r?.inFlight]);
  const act = async (verb) => {
    try {
      setC(await relata(`/campaigns/${id}/${verb}`, { method: 'POST' }));
      toast(`Campaign ${verb === 'send' ? 'started' : verb + 'd'}`);
      load();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  if (!c || !r) return html`<${ErrorBox} error=${error} /><${Spinner} />`;
  const st = c.status || 'draft';
  const skipped = Object.entries(r.skipped || {});
  const skippedTotal = skipped.reduce((a, [, n]) => a + n, 0);
  const funnel = [['Sent', r.sent], ['Delivered', r.delivered], ['Opened', r.opened], ['Clicked', r.clicked], ['Replied', r.replied],
    ['Unsubscribed', r.unsubscribed], ['Bounced', r.bounced]];
  const pct = Math.round((r.progress || 0) * 100);
  return html`<section class="campaign-page">
    <header class="page-head">
      <h1>${c.name}</h1><${Pill} kind=${st === 'sent' ? 'ok' : ''}><span data-testid="campaign-status">${st}</span></${Pill}>
      <div class="spacer"></div>
      ${st === 'draft' ? html`<button class="primary" id="send-campaign" onClick=${() => act('send')}>${c.send_at ? 'Schedule' : 'Send now'}</button>` : null}
      ${st === 'sending' || st === 'scheduled' ? html`<button id="pause-campaign" onClick=${() => act('pause')}>Pause</button>` : null}
      ${st === 'paused' ? html`<button class="primary" id="resume-campaign" onClick=${() => act('resume')}>Resume</button>` : null}
      ${['draft', 'scheduled', 'sending', 'paused'].includes(st) ? html`<button class="danger" id="cancel-campaign" onClick=${() => act('cancel')}>Cancel campaign</button>` : null}
    </header>
    <${ErrorBox} error=${error || c.last_error} />
    <p class="muted">Template <b>${c.template}</b> to segment <a href=${'#/segments/' + c.segment}>${c.expand?.segment?.name || c.segment}</a>
      ${c.throttle ? ` · at most ${c.throttle} a minute` : ''}${c.send_at ? ` · from ${c.send_at.slice(0, 16)} UTC` : ''}
      · clicks ${c.track_clicks ? 'tracked' : 'not tracked'} · opens ${c.track_opens ? 'tracked' : 'not tracked'}</p>
    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct} data-testid="campaign-progress">
      <div class="bar" style=${`width:${pct}%`}></div><span>${pct}% · ${r.queued.toLocaleString()} queued of ${r.recipients.toLocaleString()} addresses${r.inFlight ? ` · ${r.inFlight} in the outbox` : ''}</span></div>
    <div class="kpis">
      <div class="kpi"><div class="label">Audience</div><div class="value" data-testid="kpi-audience">${r.audience.toLocaleString()}</div><div class="muted small">${r.duplicates} duplicate addresses</div></div>
      <div class="kpi"><div class="label">Sent</div><div class="value" data-testid="kpi-sent">${r.sent.toLocaleString()}</div><div class="muted small">${r.delivered.toLocaleString()} delivered · ${r.bounced} bounced</div></div>
      <div class="kpi"><div class="label">Skipped</div><div class="value" data-testid="kpi-skipped">${skippedTotal.toLocaleString()}</div><div class="muted small">${r.suppressed} suppressed at send</div></div>
      <div class="kpi"><div class="label">Clicked</div><div class="value">${r.clicked.toLocaleString()}</div><div class="muted small">${r.opened} opened · ${r.replied} replied</div></div>
      <div class="kpi"><div class="label">Deals within ${r.days} days</div><div class="value" data-testid="kpi-deals">${r.dealsCreated}</div><div class="muted small">${r.dealsWon} won</div></div>
    </div>
    <div class="charts">
      <div class="panel"><h2>Engagement</h2>
        <${ChartBox} label="Engagement" config=${{ type: 'bar', data: { labels: funnel.map((x) => x[0]),
          datasets: [{ label: 'Recipients', data: funnel.map((x) => x[1]), backgroundColor: palette[0] }] }, options: { indexAxis: 'y', plugins: { legend: { display: false } } } }} />
        <table class="numbers" data-testid="campaign-figures"><tbody>${funnel.map(([k, n]) => html`<tr key=${k}><th>${k}</th><td>${n.toLocaleString()}</td></tr>`)}</tbody></table>
      </div>
      <div class="panel"><h2>Skipped, by reason</h2>
        ${skipped.length ? html`<${ChartBox} label="Skipped by reason" config=${{ type: 'doughnut', data: { labels: skipped.map(([k]) => reasons[k] || k),
          datasets: [{ data: skipped.map(([, n]) => n), backgroundColor: palette }] } }} />` : html`<p class="muted">Nobody was skipped.</p>`}
        <table class="numbers" data-testid="campaign-skips"><tbody>${skipped.map(([k, n]) => html`<tr key=${k} data-reason=${k}><th>${reasons[k] || k}</th><td>${n.toLocaleString()}</td></tr>`)}
          <tr><th>Duplicate address</th><td>${r.duplicates}</td></tr></tbody></table>
      </div>
      ${r.daily?.length ? html`<div class="panel"><h2>Opens and clicks by day</h2>
        <${ChartBox} label="Opens and clicks by day" config=${{ type: 'line', data: { labels: r.daily.map((d) => d.day), datasets: [
          { label: 'Opens', data: r.daily.map((d) => d.opens), borderColor: palette[1] }, { label: 'Clicks', data: r.daily.map((d) => d.clicks), borderColor: palette[2] }] } }} />
      </div>` : null}
      ${r.links?.length ? html`<div class="panel"><h2>Links</h2><table class="numbers"><tbody>${r.links.map((l) => html`<tr key=${l.url}><td class="url">${l.url}</td><td>${l.clicks}</td></tr>`)}</tbody></table></div>` : null}
    </div>
  </section>`;
}
