// My tasks: open activities assigned to me, overdue, due today and upcoming; one click marks
// one done (done + done_at).
import { useEffect, useState } from 'preact/hooks';
import { pb, me, activityObject, objectNamed, titleOf, dueOf, formatDue, isOverdue, subscribe, debounce, errorMessage, dayIn, userZone } from './api.js';
import { html, recordHref, Spinner, ErrorBox, Empty, toast } from './ui.js';

export function Tasks() {
  const act = activityObject();
  const [items, setItems] = useState(null);
  const [done, setDone] = useState([]);
  const [error, setError] = useState('');
  const owner = act?.fields.find((f) => f.type === 'owner');
  const links = act ? act.fields.filter((f) => f.type === 'relation' && !f.multiple) : [];

  const load = async () => {
    try {
      const mine = pb.filter(`${owner.name} = {:me}`, { me: me().id });
      const res = await pb.collection(act.name).getList(1, 500, {
        filter: `${mine} && done = false && (type = "task" || due != "")`, sort: 'due,-@rowid', expand: links.map((f) => f.name).join(','), skipTotal: true,
      });
      const startOfToday = new Date(); startOfToday.setHours(0, 0, 0, 0);
      const recent = await pb.collection(act.name).getList(1, 10, {
        filter: `${mine} && done = true && done_at >= ${pb.filter('{:t}', { t: startOfToday.toISOString().replace('T', ' ') })}`, sort: '-done_at', skipTotal: true,
      });
      setItems(res.items);
      setDone(recent.items);
      setError('');
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  useEffect(() => {
    if (!act || !owner) return;
    load();
    return subscribe(act.name, '*', debounce(load, 250));
  }, []);

  if (!act || !owner) return html`<${ErrorBox} error="No activity object with an owner field is defined." />`;
  if (!items) return html`<${ErrorBox} error=${error} /><${Spinner} />`;

  const complete = async (t) => {
    setItems((xs) => xs.filter((x) => x.id !== t.id));
    try {
      await pb.collection(act.name).update(t.id, { done: true, done_at: new Date().toISOString() });
      toast(`Done: ${t.subject}`);
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
    load();
  };
  const reopen = async (t) => {
    await pb.collection(act.name).update(t.id, { done: false, done_at: '' }).catch((err) => toast(errorMessage(err), 'error'));
    load();
  };

  // Calendar days in the user's time zone (her preferences; else the browser's).
  const today = dayIn(new Date(), userZone());
  const groups = [
    ['overdue', 'Overdue', (d) => d && d < today],
    ['today', 'Today', (d) => d === today],
    ['upcoming', 'Upcoming', (d) => d && d > today],
    ['someday', 'No due date', (d) => !d],
  ];
  const dayOf = (v) => {
    const d = dueOf(v);
    if (!d) return '';
    return d.dateOnly ? dayIn(d.at) : dayIn(d.at, userZone());
  };
  const now = new Date();
  return html`<section class="tasks-page">
    <header class="page-head"><h1>My tasks</h1><span class="muted">${items.length} open</span></header>
    <${ErrorBox} error=${error} />
    ${groups.map(([key, label, test]) => {
      const list = items.filter((t) => test(dayOf(t.due)));
      if (!list.length && key === 'someday') return null;
      return html`<div class="task-group ${key}" key=${key} data-testid=${'tasks-' + key}>
        <h2>${label} <span class="muted">${list.length}</span></h2>
        ${list.length ? html`<ul class="task-list">${list.map((t) => {
          const due = t.due ? dueOf(t.due) : null;
          return html`<li key=${t.id} class="task">
            <input type="checkbox" title="Mark done" aria-label=${'Mark done: ' + t.subject} onChange=${() => complete(t)} />
            <div class="body">
              <div><b>${t.subject}</b> <span class="muted small">${t.type}</span></div>
              <div class="muted small">
                ${due ? html`<span class=${isOverdue(t.due, now) ? 'overdue-text' : ''} data-testid="due">due ${formatDue(t.due)}</span>` : null}
                ${links.filter((f) => t.expand?.[f.name]).map((f) => html` · <a key=${f.name} href=${recordHref(f.target, t[f.name])}>${titleOf(objectNamed(f.target), t.expand[f.name])}</a>`)}
              </div>
            </div>
          </li>`;
        })}</ul>` : html`<${Empty}>Nothing here.</${Empty}>`}
      </div>`;
    })}
    ${done.length ? html`<div class="task-group done"><h2>Done today</h2><ul class="task-list">${done.map((t) => html`<li key=${t.id} class="task">
      <input type="checkbox" checked title="Reopen" onChange=${() => reopen(t)} /><div class="body"><s>${t.subject}</s></div></li>`)}</ul></div>` : null}
  </section>`;
}
