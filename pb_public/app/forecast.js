// The forecast on the dashboard: the open pipeline by expected close month, rep and team in the
// base currency, weighted by the stage probability and by the model, with commit and best case;
// quotas against what was won; and the backtest of both methods (what each would have forecast
// on the first day of each past month against what was won). The server computes everything
// over the records the user may list (/api/relata/forecast).
import { useEffect, useState } from 'preact/hooks';
import { relata, me, formatMoney, formatPercent, errorMessage, userLocale } from './api.js';
import { html, Spinner, ErrorBox, toast } from './ui.js';
import { ChartBox, palette } from './dashboard.js';
import { t, tx } from './i18n.js';

const monthLabel = (m) => {
  const [y, mm] = m.split('-').map(Number);
  return new Date(Date.UTC(y, mm - 1, 1)).toLocaleDateString(userLocale(), { month: 'short', year: 'numeric', timeZone: 'UTC' });
};

export function ForecastSection({ object: o, pipeline }) {
  const [fc, setFc] = useState(null);
  const [bt, setBt] = useState(null);
  const [by, setBy] = useState('reps');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const load = () => {
    relata(`/forecast/${o.name}?months=6${pipeline ? '&pipeline=' + encodeURIComponent(pipeline) : ''}`).then((r) => { setFc(r); setError(''); }).catch((err) => setError(errorMessage(err)));
    relata(`/forecast/${o.name}/backtest?months=12`).then(setBt).catch(() => setBt({ months: [] }));
  };
  useEffect(load, [o.name, pipeline]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!fc) return html`<${Spinner} label=${t('fc.loading')} />`;
  const money = (v) => formatMoney(v, fc.currency);
  const tot = fc.total;
  const groups = (by === 'reps' ? fc.reps : fc.teams) || [];
  const retrain = async () => {
    setBusy(true);
    try {
      const r = await relata(`/score/${o.name}/train`, { method: 'POST' });
      toast(r.version ? `Model v${r.version} trained: AUC ${r.report.model.auc?.toFixed(3)}` : r.report.fallback);
      load();
    } catch (err) {
      toast(errorMessage(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="forecast" data-testid="forecast">
    <div class="forecast-head">
      <h2>${t('fc.title')}</h2>
      <span class="muted small" data-testid="forecast-source">${fc.source === 'model' ? t('fc.sourceModel', { version: fc.version }) : t('fc.sourceStage')}
        ${fc.categories === 'field' ? t('fc.categoriesField') : t('fc.categoriesProbability')}
        ${fc.outside ? t('fc.outside', { n: fc.outside }) : ''}
        ${fc.unconverted ? t('fc.unconverted', { n: fc.unconverted }) : ''}</span>
      <div class="spacer"></div>
      ${me()?.role === 'admin' ? html`<button data-testid="retrain" disabled=${busy} onClick=${retrain}>${busy ? t('fc.training') : t('fc.retrain')}</button>` : null}
    </div>
    <div class="kpis">
      <div class="kpi"><div class="label">${t('fc.commit')}</div><div class="value" data-testid="fc-commit">${money(tot.commit)}</div><div class="muted small">${t('fc.openInWindow', { count: tot.count })}</div></div>
      <div class="kpi"><div class="label">${t('fc.bestCase')}</div><div class="value" data-testid="fc-best">${money(tot.bestCase)}</div><div class="muted small">${t('fc.commitPlusBest')}</div></div>
      <div class="kpi"><div class="label">${t('fc.modelWeighted')}</div><div class="value" data-testid="fc-model">${money(tot.model)}</div><div class="muted small">${fc.source === 'model' ? t('fc.byWinProbability') : t('fc.stageNoModel')}</div></div>
      <div class="kpi"><div class="label">${t('fc.stageWeighted')}</div><div class="value" data-testid="fc-stage">${money(tot.stage)}</div><div class="muted small">${t('fc.ofOpen', { amount: money(tot.total) })}</div></div>
      <div class="kpi"><div class="label">${t('fc.wonSoFar')}</div><div class="value" data-testid="fc-won">${money(tot.won)}</div><div class="muted small">${t('dash.since', { date: monthLabel(fc.months[0]?.month || '2000-01') })}</div></div>
    </div>
    <div class="charts">
      <div class="panel">
        <h2>${t('fc.byMonth')}</h2>
        <${ChartBox} label=${t('fc.byMonth')} config=${{
          type: 'bar',
          data: { labels: fc.months.map((m) => monthLabel(m.month)), datasets: [
            { label: t('fc.stageWeighted'), data: fc.months.map((m) => m.stage), backgroundColor: palette[1] },
            { label: t('fc.modelWeighted'), data: fc.months.map((m) => m.model), backgroundColor: palette[0] },
            { label: t('fc.commit'), data: fc.months.map((m) => m.commit), backgroundColor: palette[2] },
            { label: t('fc.won'), data: fc.months.map((m) => m.won), backgroundColor: palette[3] },
          ] },
        }} />
        <table class="numbers" data-testid="forecast-months"><thead><tr><th>${t('fc.month')}</th><th>${t('fc.open')}</th><th>${t('fc.total')}</th><th>${t('fc.stage')}</th><th>${t('fc.model')}</th><th>${t('fc.commitCol')}</th><th>${t('fc.bestCaseCol')}</th><th>${t('fc.wonCol')}</th></tr></thead>
          <tbody>${fc.months.map((m) => html`<tr key=${m.month}><td>${monthLabel(m.month)}</td><td>${m.count}</td><td>${money(m.total)}</td>
            <td>${money(m.stage)}</td><td>${money(m.model)}</td><td>${money(m.commit)}</td><td>${money(m.bestCase)}</td><td>${money(m.won)}</td></tr>`)}</tbody></table>
      </div>
      <div class="panel">
        <div class="forecast-head"><h2>${by === 'reps' ? t('fc.byRep') : t('fc.byTeam')}</h2><div class="spacer"></div>
          <div class="tabs">${[['reps', t('fc.reps')], ['teams', t('fc.teams')]].map(([k, l]) => html`<button key=${k} class=${by === k ? 'active' : ''}
            data-testid=${'forecast-by-' + k} onClick=${() => setBy(k)}>${l}</button>`)}</div></div>
        <table class="numbers" data-testid="forecast-groups"><thead><tr><th>${by === 'reps' ? t('fc.rep') : t('fc.team')}</th><th>${t('fc.open')}</th><th>${t('fc.total')}</th><th>${t('fc.stage')}</th><th>${t('fc.model')}</th><th>${t('fc.commitCol')}</th><th>${t('fc.bestCaseCol')}</th><th>${t('fc.wonCol')}</th></tr></thead>
          <tbody>${groups.map((g) => html`<tr key=${g.key}><td>${g.label}</td><td>${g.count}</td><td>${money(g.total)}</td>
            <td>${money(g.stage)}</td><td>${money(g.model)}</td><td>${money(g.commit)}</td><td>${money(g.bestCase)}</td><td>${money(g.won)}</td></tr>`)}</tbody></table>
        <h3>${t('fc.quotas')}</h3>
        ${fc.quotas?.length ? html`<table class="numbers" data-testid="quotas"><thead><tr><th>${t('fc.who')}</th><th>${t('fc.period')}</th><th>${t('fc.quota')}</th><th>${t('fc.wonCol')}</th><th>${t('fc.attainment')}</th><th>${t('fc.expectedModel')}</th></tr></thead>
          <tbody>${fc.quotas.map((q) => html`<tr key=${q.id}><td>${q.label}</td><td>${q.period}</td>
            <td title=${q.currency !== fc.currency ? formatMoney(q.original, q.currency) : ''}>${q.unconverted ? html`<span class="bad">${t('fc.noRate', { currency: q.currency })}</span>` : money(q.quota)}</td>
            <td>${money(q.won)}</td>
            <td class="attainment"><span class="bar"><span style=${`width:${Math.min(100, Math.round((q.attainment || 0) * 100))}%`}></span></span> ${formatPercent(q.attainment)}</td>
            <td>${money(q.model)}</td></tr>`)}</tbody></table>`
          : html`<p class="muted small">${t('fc.noQuotas')}</p>`}
      </div>
      <div class="panel wide" data-testid="backtest">
        <h2>${t('fc.backtestTitle')}</h2>
        ${!bt ? html`<${Spinner} label=${t('fc.backtesting')} />` : !bt.months?.length ? html`<p class="muted">${t('fc.noHistory')}</p>` : html`
          <${ChartBox} label=${t('fc.backtest')} config=${{
            type: 'line',
            data: { labels: bt.months.map((m) => monthLabel(m.month)), datasets: [
              { label: t('fc.wonActual'), data: bt.months.map((m) => m.actual), borderColor: '#111827', backgroundColor: '#111827' },
              { label: t('fc.stageWeighted'), data: bt.months.map((m) => m.stage), borderColor: palette[1], backgroundColor: palette[1] },
              { label: t('fc.modelWeighted'), data: bt.months.map((m) => m.model), borderColor: palette[0], backgroundColor: palette[0] },
            ] },
          }} />
          <p class="small" data-testid="backtest-mae">${tx('fc.mae', { stage: html`<b>${money(bt.stageMAE)}</b>`, model: html`<b>${money(bt.modelMAE)}</b>` })}</p>
          <table class="numbers"><thead><tr><th>${t('fc.month')}</th><th>${t('fc.openOnFirst')}</th><th>${t('fc.stage')}</th><th>${t('fc.model')}</th><th>${t('fc.wonCol')}</th></tr></thead>
            <tbody>${bt.months.map((m) => html`<tr key=${m.month}><td>${monthLabel(m.month)}</td><td>${m.open}</td><td>${money(m.stage)}</td><td>${money(m.model)}</td><td>${money(m.actual)}</td></tr>`)}</tbody></table>`}
      </div>
    </div>
  </div>`;
}
