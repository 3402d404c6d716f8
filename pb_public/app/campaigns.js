// Campaigns: a template sent to a segment, now or at a time, within a throttle; its progress
// and its report (sent, delivered, bounced, opened, clicked, unsubscribed, replied, deals),
// drawn with Chart.js beside a table of the exact figures.
import { useEffect, useState } from 'preact/hooks';
import { pb, relata, me, errorMessage, userLocale, formatDate } from './api.js';
import { html, navigate, Spinner, ErrorBox, Empty, Pill, toast } from './ui.js';
import { ChartBox, palette } from './dashboard.js';
import { t, tx } from './i18n.js';

const reasonNames = () => ({
  no_address: t('camp.reason.no_address'), do_not_email: t('camp.reason.do_not_email'), suppressed: t('camp.reason.suppressed'),
  no_consent: t('camp.reason.no_consent'), no_access: t('camp.reason.no_access'), cancelled: t('camp.reason.cancelled'),
});

// statusName is a campaign's status in the current language.
const statusName = (s) => ({
  draft: t('camp.status.draft'), scheduled: t('camp.status.scheduled'), sending: t('camp.status.sending'),
  paused: t('camp.status.paused'), sent: t('camp.status.sent'), cancelled: t('camp.status.cancelled'),
})[s] || s;

export function Campaigns() {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    pb.collection('campaigns').getFullList({ sort: '-created', expand: 'segment' }).then(setItems).catch((err) => setError(errorMessage(err)));
  }, []);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!items) return html`<${Spinner} />`;
  return html`<section class="campaigns-page">
    <header class="page-head"><h1>${t('camp.title')}</h1><div class="spacer"></div>
      <button class="primary" id="new-campaign" onClick=${() => navigate('/campaigns/new')}>${t('camp.new')}</button></header>
    ${items.length === 0 ? html`<${Empty}>${t('camp.none')}</${Empty}>` : html`<div class="table-wrap"><table class="records">
      <thead><tr><th>${t('camp.name')}</th><th>${t('camp.status')}</th><th>${t('camp.segment')}</th><th>${t('camp.template')}</th><th>${t('camp.started')}</th></tr></thead>
      <tbody>${items.map((c) => html`<tr key=${c.id} onClick=${() => navigate('/campaigns/' + c.id)}>
        <td><a href=${'#/campaigns/' + c.id}>${c.name}</a></td><td><${Pill}>${statusName(c.status || 'draft')}</${Pill}></td>
        <td>${c.expand?.segment?.name || ''}</td><td>${c.template}</td><td>${c.started_at ? formatDate(c.started_at, true) : ''}</td></tr>`)}</tbody>
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
    <header class="page-head"><h1>${t('camp.new')}</h1></header>
    <form class="form-grid" onSubmit=${create}>
      <label><span>${t('camp.name')}</span><input id="campaign-name" required value=${v.name} onInput=${set('name')} /></label>
      <label><span>${t('camp.template')}</span><select id="campaign-template" required value=${v.template} onChange=${set('template')}>
        <option value="">${t('camp.choose')}</option>${templates.map((x) => html`<option value=${x.name}>${x.name}${x.category === 'marketing' ? '' : ' ' + t('camp.transactional')}</option>`)}</select></label>
      <label><span>${t('camp.segment')}</span><select id="campaign-segment" required value=${v.segment} onChange=${set('segment')}>
        <option value="">${t('camp.choose')}</option>${segs.map((s) => html`<option value=${s.id}>${s.name}</option>`)}</select></label>
      <label><span>${t('camp.sendAt')} <small class="muted">${t('camp.sendAtNote')}</small></span><input id="campaign-send-at" type="datetime-local" value=${v.send_at} onInput=${set('send_at')} /></label>
      <label><span>${t('camp.throttle')} <small class="muted">${t('camp.throttleNote')}</small></span><input id="campaign-throttle" type="number" min="0" value=${v.throttle} onInput=${set('throttle')} /></label>
      <label><span>${t('camp.days')}</span><input type="number" min="1" value=${v.report_days} onInput=${set('report_days')} /></label>
      <fieldset class="wide"><legend>${t('camp.bases')} <small class="muted">${t('camp.basesNote')}</small></legend>
        ${['consent', 'contract', 'legitimate_interest'].map((b) => html`<label class="checkbox" key=${b}><input type="checkbox" checked=${v.consent_bases.includes(b)} onChange=${() => toggleBasis(b)} /> ${({ consent: t('camp.basis.consent'), contract: t('camp.basis.contract'), legitimate_interest: t('camp.basis.legitimate_interest') })[b]}</label>`)}
      </fieldset>
      <label class="checkbox"><span><input id="campaign-track-clicks" type="checkbox" checked=${v.track_clicks} onChange=${set('track_clicks')} /> ${t('camp.trackClicks')}</span></label>
      <label class="checkbox"><span><input id="campaign-track-opens" type="checkbox" checked=${v.track_opens} onChange=${set('track_opens')} /> ${t('camp.trackOpens')}</span></label>
      <${ErrorBox} error=${error} />
      <div class="actions wide"><button type="button" onClick=${() => navigate('/campaigns')}>${t('camp.cancel')}</button><button class="primary" id="create-campaign" type="submit">${t('camp.createDraft')}</button></div>
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
    const timer = setInterval(load, 1500);
    return () => clearInterval(timer);
  }, [c?.status, r?.inFlight]);
  const act = async (verb) => {
    try {
      setC(await relata(`/campaigns/${id}/${verb}`, { method: 'POST' }));
      toast(({ send: t('camp.started.send'), pause: t('camp.done.pause'), resume: t('camp.done.resume'), cancel: t('camp.done.cancel') })[verb]);
      load();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  if (!c || !r) return html`<${ErrorBox} error=${error} /><${Spinner} />`;
  const st = c.status || 'draft';
  const skipped = Object.entries(r.skipped || {});
  const skippedTotal = skipped.reduce((a, [, n]) => a + n, 0);
  const funnel = [[t('camp.funnel.sent'), r.sent], [t('camp.funnel.delivered'), r.delivered], [t('camp.funnel.opened'), r.opened],
    [t('camp.funnel.clicked'), r.clicked], [t('camp.funnel.replied'), r.replied], [t('camp.funnel.unsubscribed'), r.unsubscribed], [t('camp.funnel.bounced'), r.bounced]];
  const reasons = reasonNames();
  const pct = Math.round((r.progress || 0) * 100);
  return html`<section class="campaign-page">
    <header class="page-head">
      <h1>${c.name}</h1><${Pill} kind=${st === 'sent' ? 'ok' : ''}><span data-testid="campaign-status">${statusName(st)}</span></${Pill}>
      <div class="spacer"></div>
      ${st === 'draft' ? html`<button class="primary" id="send-campaign" onClick=${() => act('send')}>${c.send_at ? t('camp.schedule') : t('camp.sendNow')}</button>` : null}
      ${st === 'sending' || st === 'scheduled' ? html`<button id="pause-campaign" onClick=${() => act('pause')}>${t('camp.pause')}</button>` : null}
      ${st === 'paused' ? html`<button class="primary" id="resume-campaign" onClick=${() => act('resume')}>${t('camp.resume')}</button>` : null}
      ${['draft', 'scheduled', 'sending', 'paused'].includes(st) ? html`<button class="danger" id="cancel-campaign" onClick=${() => act('cancel')}>${t('camp.cancelCampaign')}</button>` : null}
    </header>
    <${ErrorBox} error=${error || c.last_error} />
    <p class="muted">${tx('camp.summary', { template: html`<b>${c.template}</b>`, segment: html`<a href=${'#/segments/' + c.segment}>${c.expand?.segment?.name || c.segment}</a>` })}
      ${c.throttle ? ' ' + t('camp.atMost', { n: c.throttle }) : ''}${c.send_at ? ' ' + t('camp.from', { time: formatDate(c.send_at, true) }) : ''}
      ${t('camp.clicks', { state: c.track_clicks ? t('camp.tracked') : t('camp.notTracked') })} ${t('camp.opens', { state: c.track_opens ? t('camp.tracked') : t('camp.notTracked') })}</p>
    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct} data-testid="campaign-progress">
      <div class="bar" style=${`width:${pct}%`}></div><span>${t('camp.progress', { pct, queued: r.queued.toLocaleString(userLocale()), recipients: r.recipients.toLocaleString(userLocale()) })}${r.inFlight ? ' ' + t('camp.inOutbox', { n: r.inFlight }) : ''}</span></div>
    <div class="kpis">
      <div class="kpi"><div class="label">${t('camp.audience')}</div><div class="value" data-testid="kpi-audience">${r.audience.toLocaleString(userLocale())}</div><div class="muted small">${t('camp.duplicates', { n: r.duplicates })}</div></div>
      <div class="kpi"><div class="label">${t('camp.sent')}</div><div class="value" data-testid="kpi-sent">${r.sent.toLocaleString(userLocale())}</div><div class="muted small">${t('camp.deliveredBounced', { delivered: r.delivered.toLocaleString(userLocale()), bounced: r.bounced })}</div></div>
      <div class="kpi"><div class="label">${t('camp.skipped')}</div><div class="value" data-testid="kpi-skipped">${skippedTotal.toLocaleString(userLocale())}</div><div class="muted small">${t('camp.suppressedAtSend', { n: r.suppressed })}</div></div>
      <div class="kpi"><div class="label">${t('camp.clicked')}</div><div class="value">${r.clicked.toLocaleString(userLocale())}</div><div class="muted small">${t('camp.openedReplied', { opened: r.opened, replied: r.replied })}</div></div>
      <div class="kpi"><div class="label">${t('camp.dealsWithin', { days: r.days })}</div><div class="value" data-testid="kpi-deals">${r.dealsCreated}</div><div class="muted small">${t('camp.won', { n: r.dealsWon })}</div></div>
    </div>
    <div class="charts">
      <div class="panel"><h2>${t('camp.engagement')}</h2>
        <${ChartBox} label=${t('camp.engagement')} config=${{ type: 'bar', data: { labels: funnel.map((x) => x[0]),
          datasets: [{ label: t('camp.recipients'), data: funnel.map((x) => x[1]), backgroundColor: palette[0] }] }, options: { indexAxis: 'y', plugins: { legend: { display: false } } } }} />
        <table class="numbers" data-testid="campaign-figures"><tbody>${funnel.map(([k, n]) => html`<tr key=${k}><th>${k}</th><td>${n.toLocaleString(userLocale())}</td></tr>`)}</tbody></table>
      </div>
      <div class="panel"><h2>${t('camp.skippedByReason')}</h2>
        ${skipped.length ? html`<${ChartBox} label=${t('camp.skippedChart')} config=${{ type: 'doughnut', data: { labels: skipped.map(([k]) => reasons[k] || k),
          datasets: [{ data: skipped.map(([, n]) => n), backgroundColor: palette }] } }} />` : html`<p class="muted">${t('camp.nobodySkipped')}</p>`}
        <table class="numbers" data-testid="campaign-skips"><tbody>${skipped.map(([k, n]) => html`<tr key=${k} data-reason=${k}><th>${reasons[k] || k}</th><td>${n.toLocaleString(userLocale())}</td></tr>`)}
          <tr><th>${t('camp.duplicateAddress')}</th><td>${r.duplicates}</td></tr></tbody></table>
      </div>
      ${r.daily?.length ? html`<div class="panel"><h2>${t('camp.byDay')}</h2>
        <${ChartBox} label=${t('camp.byDay')} config=${{ type: 'line', data: { labels: r.daily.map((d) => d.day), datasets: [
          { label: t('camp.opensSeries'), data: r.daily.map((d) => d.opens), borderColor: palette[1] }, { label: t('camp.clicksSeries'), data: r.daily.map((d) => d.clicks), borderColor: palette[2] }] } }} />
      </div>` : null}
      ${r.links?.length ? html`<div class="panel"><h2>${t('camp.links')}</h2><table class="numbers"><tbody>${r.links.map((l) => html`<tr key=${l.url}><td class="url">${l.url}</td><td>${l.clicks}</td></tr>`)}</tbody></table></div>` : null}
    </div>
  </section>`;
}
