// Win probability in the web app: the record page's panel (the model's probability, the
// stage's, the top factors in words, the model's version and date), the compact percentage
// of board cards and the list column. Scores come from /api/relata/score, which answers only
// for records the user may view and leaves out factors about records she may not view; a
// page of cards or rows is scored in one request.
import { useEffect, useState } from 'preact/hooks';
import { relata, formatDate, formatMoney, formatPercent } from './api.js';
import { html } from './ui.js';
import { t } from './i18n.js';

// hasScore: records of an object with a stage field get a win probability; those of a lead
// object (a lifecycle_stage select with a "disqualified" option) a conversion probability.
export const isLead = (o) => !!o && !o.fields.some((f) => f.type === 'stage')
  && o.fields.some((f) => f.name === 'lifecycle_stage' && f.type === 'select' && (f.options || []).some((x) => (x.value ?? x) === 'disqualified'));
export const hasScore = (o) => !!o && (o.fields.some((f) => f.type === 'stage') || isLead(o));
export const scoreLabel = (o) => (isLead(o) ? t('score.conversion') : t('score.win'));

// useScores scores the records ids of object (at most 200 at a time) in one request per
// change of ids, and returns { id: score } (empty while loading or when scoring fails).
export function useScores(o, ids, version = 0) {
  const [scores, setScores] = useState({});
  const key = ids.join(',');
  useEffect(() => {
    if (!hasScore(o) || !ids.length) { setScores({}); return; }
    let live = true;
    const pages = [];
    for (let i = 0; i < ids.length; i += 200) pages.push(ids.slice(i, i + 200));
    Promise.all(pages.map((p) => relata(`/score/${o.name}?factors=3&ids=${p.join(',')}`)))
      .then((res) => { if (live) setScores(Object.assign({}, ...res.map((r) => r.scores))); })
      .catch(() => { if (live) setScores({}); });
    return () => { live = false; };
  }, [o?.name, key, version]);
  return scores;
}

function band(p) {
  return p >= 0.6 ? 'high' : p >= 0.3 ? 'mid' : 'low';
}

// ScoreBadge is a score as a compact percentage; its title lists the top factors. Closed
// records (won, lost, converted, disqualified) show none: their outcome is known.
export function ScoreBadge({ score }) {
  if (!score || score.closed) return null;
  const title = (score.source === 'model' ? t(score.kind === 'conversion' ? 'score.conversionModel' : 'score.winModel') : t('score.stageNoModel'))
    + (score.factors?.length ? '\n' + score.factors.map((f) => f.text).join('\n') : '');
  return html`<span class=${'score-badge ' + band(score.p)} data-testid="score-badge" title=${title}>${Math.round(score.p * 100)}%</span>`;
}

// ScorePanel is the record page's win probability with its reasons.
export function ScorePanel({ object: o, id, version }) {
  const scores = useScores(o, [id], version);
  const s = scores[id];
  if (!hasScore(o) || !s) return null;
  return html`<div class="panel score-panel" data-testid="score-panel">
    <h2>${s.kind === 'conversion' ? t('score.conversionProbability') : t('score.winProbability')}</h2>
    <div class="score-figures">
      <div><div class=${'score-big ' + band(s.p)} data-testid="score-p">${formatPercent(s.p)}</div>
        <div class="muted small">${s.source === 'model' ? t('score.model') : t('score.stageNoModelShort')}</div></div>
      <div><div class="score-big muted" data-testid="score-stage">${formatPercent(s.stageP)}</div><div class="muted small">${s.kind === 'conversion' ? t('score.lifecycleStage') : t('score.stage')}</div></div>
    </div>
    ${s.factors.length ? html`<ul class="factors" data-testid="score-factors">${s.factors.map((f) => html`<li key=${f.feature}
      class=${f.effect >= 0 ? 'up' : 'down'}>${f.text}</li>`)}</ul>` : null}
    <p class="muted small" data-testid="score-model">${s.source === 'model'
      ? `${t('score.modelTrained', { version: s.version, date: formatDate(s.trainedAt) })}${s.auc ? ` · AUC ${s.auc.toFixed(3)}` : ''}${s.asOf && new Date(s.asOf) < Date.now() - 60000 ? ` · ${t('score.asOf', { date: formatDate(s.asOf) })}` : ''}`
      : t('score.noModel')}</p>
  </div>`;
}

// RuleScorePanel is the record page's rule-based scores (score definitions, see the README's
// "Rule-based scores"): each score and grade with the rules that make it, from
// /api/relata/score/{object}/{id}/rules, reloaded when the record changes (a new activity
// moves its score). Hidden when no definition scores the object.
export function RuleScorePanel({ object: o, id, version }) {
  const [scores, setScores] = useState([]);
  useEffect(() => {
    let live = true;
    relata(`/score/${encodeURIComponent(o.name)}/${encodeURIComponent(id)}/rules`)
      .then((r) => { if (live) setScores(r.scores || []); })
      .catch(() => { if (live) setScores([]); });
    return () => { live = false; };
  }, [o?.name, id, version]);
  if (!scores.length) return null;
  return html`<div class="panel score-panel" data-testid="rule-score-panel">
    ${scores.map((s) => html`<div key=${s.name} data-testid="rule-score">
      <h2>${t('score.rules')} <span class="muted small">${s.name}</span></h2>
      <div class="score-figures">
        <div><div class="score-big" data-testid="rule-score-value">${formatMoney(s.score)}</div>
          <div class="muted small" data-testid="rule-score-grade">${t('score.grade', { grade: s.grade })}</div></div>
      </div>
      ${s.hits.length ? html`<ul class="factors" data-testid="rule-score-hits">${s.hits.map((h) => html`<li key=${h.rule}
        class=${h.points >= 0 ? 'up' : 'down'}>${h.points > 0 ? '+' : ''}${formatMoney(h.points)} ${h.rule}</li>`)}</ul>`
      : html`<p class="muted small">${t('score.noPoints')}</p>`}
    </div>`)}
    <p class="muted small">${t('score.rulesNote')}</p>
  </div>`;
}
