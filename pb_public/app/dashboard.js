// Dashboards: pipeline value by stage, weighted forecast by expected close month, win and
// conversion rate by lead source, average days to close and time in each stage. The numbers
// come from Relata's insights endpoints, computed on the server over the records the user
// may see; Chart.js draws them and a table beside each chart gives the exact figures. Money is
// converted to the base currency at the rates of the date the server states (the date picker
// asks for another day's rates); the per-currency table shows the amounts before conversion.
import { useEffect, useRef, useState } from 'preact/hooks';
import { relata, allObjects, objectNamed, objectLabel, formatMoney, formatPercent, formatDays, subscribe, debounce, errorMessage } from './api.js';
import { html, navigate, Spinner, ErrorBox, Empty } from './ui.js';
import { MissingRates } from './board.js';

export const palette = ['#3b82f6', '#93c5fd', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#14b8a6', '#64748b'];

export function ChartBox({ config, label }) {
  const canvas = useRef();
  useEffect(() => {
    if (!window.Chart) return undefined;
    const chart = new window.Chart(canvas.current, {
      ...config,
      options: { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { position: 'bottom' } }, ...config.options },
    });
    return () => chart.destroy();
  }, [JSON.stringify(config.data)]);
  return html`<div class="chart"><canvas ref=${canvas} role="img" aria-label=${label}></canvas></div>`;
}

// stageTimeChart draws average stays in the unit that fits the longest one.
function stageTimeChart(stages) {
  const longest = Math.max(...stages.map((s) => s.days));
  const [unit, factor] = longest >= 1 ? ['days', 1] : longest * 24 >= 1 ? ['hours', 24] : longest * 1440 >= 1 ? ['minutes', 1440] : ['seconds', 86400];
  return {
    type: 'bar',
    data: { labels: stages.map((s) => s.label || s.stage), datasets: [
      { label: `Average ${unit}`, data: stages.map((s) => s.days * factor), backgroundColor: palette[6] },
    ] },
    options: { indexAxis: 'y' },
  };
}

export function Dashboard({ object, pipeline }) {
  const withPipelines = allObjects().filter((o) => (o.pipelines || []).length && o.fields.some((f) => f.type === 'stage'));
  const o = objectNamed(object) || withPipelines[0];
  const pipe = pipeline || o?.fields.find((f) => f.type === 'stage')?.pipeline;
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const [at, setAt] = useState(''); // the rates date; '' = today
  const load = async () => {
    const q = `?object=${o.name}&pipeline=${pipe}${at ? '&at=' + at : ''}`;
    try {
      const [pipelineNumbers, forecast, sources, cycle] = await Promise.all(
        ['pipeline', 'forecast', 'sources', 'cycle'].map((r) => relata(`/insights/${r}${q}`)),
      );
      setData({ pipeline: pipelineNumbers, forecast, sources, cycle });
      setError('');
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  useEffect(() => {
    if (!o) return undefined;
    load();
    return subscribe(o.name, '*', debounce(load, 500));
  }, [o?.name, pipe, at]);

  if (!o) return html`<${Empty}>No object has a pipeline.</${Empty}>`;
  if (!data) return html`<${ErrorBox} error=${error} /><${Spinner} />`;
  const { pipeline: p, forecast, sources, cycle } = data;
  const cur = p.currency;
  const closed = p.won.count + p.lost.count;
  const money = (v) => formatMoney(v, cur);
  const codes = [...new Set([p.open, p.won, p.lost].flatMap((t) => Object.keys(t.byCurrency || {})))].sort();
  const sub = (t, c) => t.byCurrency?.[c];
  return html`<section class="dashboard">
    <header class="page-head">
      <h1>Dashboard</h1>
      <select aria-label="Pipeline" value=${o.name + '/' + pipe} onChange=${(e) => navigate('/dashboard/' + e.target.value)}>
        ${withPipelines.flatMap((x) => x.pipelines.map((pp) => html`<option value=${x.name + '/' + pp.name}>${objectLabel(x)}: ${pp.label || pp.name}</option>`))}
      </select>
      ${cur ? html`<label class="muted small">in ${cur} at rates of
        <input type="date" aria-label="Rates date" data-testid="rates-date" value=${p.ratesDate} onChange=${(e) => setAt(e.target.value)} /></label>` : null}
    </header>
    <${ErrorBox} error=${error} />
    ${p.missingRates?.length ? html`<${MissingRates} codes=${p.missingRates} base=${cur} date=${p.ratesDate} />` : null}
    <div class="kpis">
      <div class="kpi"><div class="label">Open pipeline</div><div class="value" data-testid="kpi-open-total">${money(p.open.total)}</div><div class="muted small">${p.open.count} open</div></div>
      <div class="kpi"><div class="label">Weighted forecast</div><div class="value" data-testid="kpi-weighted">${money(p.open.weighted)}</div><div class="muted small">by stage probability</div></div>
      <div class="kpi"><div class="label">Won</div><div class="value">${money(p.won.total)}</div><div class="muted small">${p.won.count} won · ${p.lost.count} lost</div></div>
      <div class="kpi"><div class="label">Win rate</div><div class="value" data-testid="kpi-win-rate">${closed ? formatPercent(p.won.count / closed) : '—'}</div><div class="muted small">of ${closed} closed</div></div>
      <div class="kpi"><div class="label">Average time to close</div><div class="value" data-testid="kpi-days-to-close">${cycle.daysToClose.count ? formatDays(cycle.daysToClose.days) : '—'}</div><div class="muted small">${cycle.daysToClose.count} won with dates</div></div>
    </div>
    <div class="charts">
      ${codes.length > 1 || (codes.length === 1 && codes[0] !== cur) ? html`<div class="panel">
        <h2>By currency</h2>
        <table class="numbers" data-testid="currency-table"><thead><tr><th>Currency</th><th>Rate to ${cur}</th><th>Open</th><th>Weighted</th><th>Won</th><th>Open in ${cur}</th></tr></thead>
          <tbody>${codes.map((c) => {
            const rate = c === cur ? { rate: 1 } : p.rates.find((r) => r.currency === c);
            return html`<tr key=${c} data-currency=${c}><td>${c}</td>
              <td title=${rate?.effective ? 'since ' + rate.effective : ''}>${rate ? rate.rate.toLocaleString(undefined, { maximumFractionDigits: 6 }) : html`<span class="bad">no rate</span>`}</td>
              <td>${formatMoney(sub(p.open, c)?.total, c)} <span class="muted">(${sub(p.open, c)?.count ?? 0})</span></td>
              <td>${formatMoney(sub(p.open, c)?.weighted, c)}</td>
              <td>${formatMoney(sub(p.won, c)?.total, c)}</td>
              <td>${rate ? money((sub(p.open, c)?.total || 0) * rate.rate) : '—'}</td></tr>`;
          })}</tbody></table>
      </div>` : null}
      <div class="panel">
        <h2>Pipeline value by stage</h2>
        <${ChartBox} label="Pipeline value by stage" config=${{
          type: 'bar',
          data: { labels: p.stages.map((s) => s.label || s.name), datasets: [
            { label: 'Total', data: p.stages.map((s) => s.total), backgroundColor: palette[0] },
            { label: 'Weighted', data: p.stages.map((s) => s.weighted), backgroundColor: palette[1] },
          ] },
        }} />
        <table class="numbers" data-testid="stage-table"><thead><tr><th>Stage</th><th>Count</th><th>Total</th><th>Weighted</th></tr></thead>
          <tbody>${p.stages.map((s) => html`<tr key=${s.name}><td>${s.label || s.name} <span class="muted">${s.probability}%</span></td><td>${s.count}</td><td>${money(s.total)}</td><td>${money(s.weighted)}</td></tr>`)}</tbody></table>
      </div>
      <div class="panel">
        <h2>Weighted forecast by expected close month</h2>
        ${forecast.months.length ? html`<${ChartBox} label="Forecast by month" config=${{
          type: 'bar',
          data: { labels: forecast.months.map((m) => m.month || 'No date'), datasets: [
            { label: 'Weighted', data: forecast.months.map((m) => m.weighted), backgroundColor: palette[2] },
            { label: 'Total', data: forecast.months.map((m) => m.total), backgroundColor: '#a7f3d0' },
          ] },
        }} />
        <table class="numbers"><thead><tr><th>Month</th><th>Open</th><th>Total</th><th>Weighted</th></tr></thead>
          <tbody>${forecast.months.map((m) => html`<tr key=${m.month}><td>${m.month || 'No date'}</td><td>${m.count}</td><td>${money(m.total)}</td><td>${money(m.weighted)}</td></tr>`)}</tbody></table>`
          : html`<${Empty}>No open records with a close date.</${Empty}>`}
      </div>
      <div class="panel">
        <h2>Win rate and conversion by lead source</h2>
        <${ChartBox} label="Win rate by source" config=${{
          type: 'bar',
          data: { labels: sources.sources.map((s) => s.label), datasets: [
            { label: 'Win rate (won of closed)', data: sources.sources.map((s) => (s.winRate ?? 0) * 100), backgroundColor: palette[3] },
            { label: 'Conversion (won of all)', data: sources.sources.map((s) => (s.conversionRate ?? 0) * 100), backgroundColor: palette[5] },
          ] },
          options: { scales: { y: { min: 0, max: 100, ticks: { callback: (v) => v + '%' } } } },
        }} />
        <table class="numbers"><thead><tr><th>Source</th><th>All</th><th>Won</th><th>Lost</th><th>Win rate</th><th>Conversion</th></tr></thead>
          <tbody>${sources.sources.map((s) => html`<tr key=${s.value}><td>${s.label}</td><td>${s.count}</td><td>${s.won}</td><td>${s.lost}</td><td>${formatPercent(s.winRate)}</td><td>${formatPercent(s.conversionRate)}</td></tr>`)}</tbody></table>
      </div>
      <div class="panel">
        <h2>Average time in each stage</h2>
        ${cycle.timeInStage.length ? html`<${ChartBox} label="Average time in stage" config=${stageTimeChart(cycle.timeInStage)} />
        <table class="numbers"><thead><tr><th>Stage</th><th>Stays</th><th>Average time</th></tr></thead>
          <tbody>${cycle.timeInStage.map((s) => html`<tr key=${s.stage}><td>${s.label || s.stage}</td><td>${s.count}</td><td>${formatDays(s.days)}</td></tr>`)}</tbody></table>`
          : html`<${Empty}>No completed stays yet: the stage history starts when records move.</${Empty}>`}
      </div>
    </div>
  </section>`;
}
