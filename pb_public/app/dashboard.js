// Dashboards: pipeline value by stage, weighted forecast by expected close month, win and
// conversion rate by lead source, average days to close and time in each stage. The numbers
// come from Relata's insights endpoints, computed on the server over the records the user
// may see; Chart.js draws them and a table beside each chart gives the exact figures. Money is
// converted to the base currency at the rates of the date the server states (the date picker
// asks for another day's rates); the per-currency table shows the amounts before conversion.
import { useEffect, useRef, useState } from 'preact/hooks';
import { relata, allObjects, objectNamed, objectLabel, formatMoney, formatPercent, formatDays, subscribe, debounce, errorMessage, userLocale } from './api.js';
import { html, navigate, Spinner, ErrorBox, Empty } from './ui.js';
import { MissingRates } from './board.js';
import { ForecastSection } from './forecast.js';
import { t, label } from './i18n.js';

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

  if (!o) return html`<${Empty}>${t('dash.noPipeline')}</${Empty}>`;
  if (!data) return html`<${ErrorBox} error=${error} /><${Spinner} />`;
  const { pipeline: p, forecast, sources, cycle } = data;
  const cur = p.currency;
  const closed = p.won.count + p.lost.count;
  const money = (v) => formatMoney(v, cur);
  const codes = [...new Set([p.open, p.won, p.lost].flatMap((t) => Object.keys(t.byCurrency || {})))].sort();
  const sub = (t, c) => t.byCurrency?.[c];
  const stageName = (name, english) => label(`stage.${o.name}.${name}`, english || name);
  return html`<section class="dashboard">
    <header class="page-head">
      <h1>${t('nav.dashboard')}</h1>
      <select aria-label=${t('dash.pipeline')} value=${o.name + '/' + pipe} onChange=${(e) => navigate('/dashboard/' + e.target.value)}>
        ${withPipelines.flatMap((x) => x.pipelines.map((pp) => html`<option value=${x.name + '/' + pp.name}>${objectLabel(x)}: ${label(`pipeline.${x.name}.${pp.name}`, pp.label || pp.name)}</option>`))}
      </select>
      ${cur ? html`<label class="muted small">${t('board.ratesNote', { currency: cur, date: '' })}
        <input type="date" aria-label=${t('dash.ratesDate')} data-testid="rates-date" value=${p.ratesDate} onChange=${(e) => setAt(e.target.value)} /></label>` : null}
    </header>
    <${ErrorBox} error=${error} />
    ${p.missingRates?.length ? html`<${MissingRates} codes=${p.missingRates} base=${cur} date=${p.ratesDate} />` : null}
    <div class="kpis">
      <div class="kpi"><div class="label">${t('dash.openPipeline')}</div><div class="value" data-testid="kpi-open-total">${money(p.open.total)}</div><div class="muted small">${t('tasks.open', { count: p.open.count })}</div></div>
      <div class="kpi"><div class="label">${t('dash.weightedForecast')}</div><div class="value" data-testid="kpi-weighted">${money(p.open.weighted)}</div><div class="muted small">${t('dash.byProbability')}</div></div>
      <div class="kpi"><div class="label">${t('board.won')}</div><div class="value">${money(p.won.total)}</div><div class="muted small">${t('dash.wonLost', { won: p.won.count, lost: p.lost.count })}</div></div>
      <div class="kpi"><div class="label">${t('dash.winRate')}</div><div class="value" data-testid="kpi-win-rate">${closed ? formatPercent(p.won.count / closed) : '—'}</div><div class="muted small">${t('dash.ofClosed', { count: closed })}</div></div>
      <div class="kpi"><div class="label">${t('dash.timeToClose')}</div><div class="value" data-testid="kpi-days-to-close">${cycle.daysToClose.count ? formatDays(cycle.daysToClose.days) : '—'}</div><div class="muted small">${t('dash.wonWithDates', { count: cycle.daysToClose.count })}</div></div>
    </div>
    <${ForecastSection} object=${o} pipeline=${pipe} />
    <div class="charts">
      ${codes.length > 1 || (codes.length === 1 && codes[0] !== cur) ? html`<div class="panel">
        <h2>${t('dash.byCurrency')}</h2>
        <table class="numbers" data-testid="currency-table"><thead><tr><th>${t('dash.currency')}</th><th>${t('dash.rateTo', { currency: cur })}</th><th>${t('dash.open')}</th><th>${t('board.weighted')}</th><th>${t('board.won')}</th><th>${t('dash.openIn', { currency: cur })}</th></tr></thead>
          <tbody>${codes.map((c) => {
            const rate = c === cur ? { rate: 1 } : p.rates.find((r) => r.currency === c);
            return html`<tr key=${c} data-currency=${c}><td>${c}</td>
              <td title=${rate?.effective ? t('dash.since', { date: rate.effective }) : ''}>${rate ? rate.rate.toLocaleString(userLocale(), { maximumFractionDigits: 6 }) : html`<span class="bad">${t('dash.noRate')}</span>`}</td>
              <td>${formatMoney(sub(p.open, c)?.total, c)} <span class="muted">(${sub(p.open, c)?.count ?? 0})</span></td>
              <td>${formatMoney(sub(p.open, c)?.weighted, c)}</td>
              <td>${formatMoney(sub(p.won, c)?.total, c)}</td>
              <td>${rate ? money((sub(p.open, c)?.total || 0) * rate.rate) : '—'}</td></tr>`;
          })}</tbody></table>
      </div>` : null}
      <div class="panel">
        <h2>${t('dash.valueByStage')}</h2>
        <${ChartBox} label=${t('dash.valueByStage')} config=${{
          type: 'bar',
          data: { labels: p.stages.map((s) => stageName(s.name, s.label)), datasets: [
            { label: t('board.total'), data: p.stages.map((s) => s.total), backgroundColor: palette[0] },
            { label: t('board.weighted'), data: p.stages.map((s) => s.weighted), backgroundColor: palette[1] },
          ] },
        }} />
        <table class="numbers" data-testid="stage-table"><thead><tr><th>${t('dash.stage')}</th><th>${t('dash.count')}</th><th>${t('board.total')}</th><th>${t('board.weighted')}</th></tr></thead>
          <tbody>${p.stages.map((s) => html`<tr key=${s.name}><td>${stageName(s.name, s.label)} <span class="muted">${s.probability}%</span></td><td>${s.count}</td><td>${money(s.total)}</td><td>${money(s.weighted)}</td></tr>`)}</tbody></table>
      </div>
      <div class="panel">
        <h2>${t('dash.forecastByMonth')}</h2>
        ${forecast.months.length ? html`<${ChartBox} label=${t('dash.forecastByMonth')} config=${{
          type: 'bar',
          data: { labels: forecast.months.map((m) => m.month || t('dash.noDate')), datasets: [
            { label: t('board.weighted'), data: forecast.months.map((m) => m.weighted), backgroundColor: palette[2] },
            { label: t('board.total'), data: forecast.months.map((m) => m.total), backgroundColor: '#a7f3d0' },
          ] },
        }} />
        <table class="numbers"><thead><tr><th>${t('dash.month')}</th><th>${t('dash.open')}</th><th>${t('board.total')}</th><th>${t('board.weighted')}</th></tr></thead>
          <tbody>${forecast.months.map((m) => html`<tr key=${m.month}><td>${m.month || t('dash.noDate')}</td><td>${m.count}</td><td>${money(m.total)}</td><td>${money(m.weighted)}</td></tr>`)}</tbody></table>`
          : html`<${Empty}>${t('dash.noCloseDates')}</${Empty}>`}
      </div>
      <div class="panel">
        <h2>${t('dash.bySource')}</h2>
        <${ChartBox} label=${t('dash.bySource')} config=${{
          type: 'bar',
          data: { labels: sources.sources.map((s) => s.label), datasets: [
            { label: t('dash.winRateOfClosed'), data: sources.sources.map((s) => (s.winRate ?? 0) * 100), backgroundColor: palette[3] },
            { label: t('dash.conversionOfAll'), data: sources.sources.map((s) => (s.conversionRate ?? 0) * 100), backgroundColor: palette[5] },
          ] },
          options: { scales: { y: { min: 0, max: 100, ticks: { callback: (v) => v + '%' } } } },
        }} />
        <table class="numbers"><thead><tr><th>${t('dash.source')}</th><th>${t('dash.all')}</th><th>${t('board.won')}</th><th>${t('dash.lost')}</th><th>${t('dash.winRate')}</th><th>${t('dash.conversion')}</th></tr></thead>
          <tbody>${sources.sources.map((s) => html`<tr key=${s.value}><td>${s.label}</td><td>${s.count}</td><td>${s.won}</td><td>${s.lost}</td><td>${formatPercent(s.winRate)}</td><td>${formatPercent(s.conversionRate)}</td></tr>`)}</tbody></table>
      </div>
      <div class="panel">
        <h2>${t('dash.timeInStage')}</h2>
        ${cycle.timeInStage.length ? html`<${ChartBox} label=${t('dash.timeInStage')} config=${stageTimeChart(cycle.timeInStage)} />
        <table class="numbers"><thead><tr><th>${t('dash.stage')}</th><th>${t('dash.stays')}</th><th>${t('dash.averageTime')}</th></tr></thead>
          <tbody>${cycle.timeInStage.map((s) => html`<tr key=${s.stage}><td>${stageName(s.stage, s.label)}</td><td>${s.count}</td><td>${formatDays(s.days)}</td></tr>`)}</tbody></table>`
          : html`<${Empty}>${t('dash.noStays')}</${Empty}>`}
      </div>
    </div>
  </section>`;
}
