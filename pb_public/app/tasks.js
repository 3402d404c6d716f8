// My tasks: open activities assigned to me, overdue, due today and upcoming; one click marks
// one done (done + done_at).
import { useEffect, useRef, useState } from 'preact/hooks';
import { pb, me, activityObject, objectNamed, titleOf, dueOf, formatDue, isOverdue, subscribe, debounce, errorMessage, dayIn, userZone } from './api.js';
import { html, recordHref, Spinner, ErrorBox, Empty, toast } from './ui.js';
import { t, label } from './i18n.js';

// actType names an activity's type ("task", "call") in the user's language.
const actType = (v) => label(`activity.type.${v}`, v);

// How many dated and undated open tasks the page shows at first, and how many more each
// "Show more" adds; the page says how many it leaves out.
const datedPage = 500;
const undatedPage = 100;

// upTo reads the first n records of a list, a page of at most 500 at a time (the server
// refuses pages of over 1,000); the first page's total is all of them.
async function upTo(coll, n, query) {
  const first = await coll.getList(1, Math.min(n, 500), query);
  let items = first.items;
  for (let page = 2; items.length < n && (page - 1) * 500 < first.totalItems; page++) {
    const next = await coll.getList(page, 500, { ...query, skipTotal: true });
    items = items.concat(next.items);
    if (next.items.length < 500) break;
  }
  return { items: items.slice(0, n), totalItems: first.totalItems };
}

export function Tasks() {
  const act = activityObject();
  const [items, setItems] = useState(null);
  const [done, setDone] = useState([]);
  const [totals, setTotals] = useState({});
  const [error, setError] = useState('');
  // How many of each list to show; a ref, so that a realtime reload keeps what "Show more" added.
  const shown = useRef({ dated: datedPage, undated: undatedPage });
  const owner = act?.fields.find((f) => f.type === 'owner');
  const links = act ? act.fields.filter((f) => f.type === 'relation' && !f.multiple) : [];

  const load = async () => {
    const limits = shown.current;
    try {
      const mine = pb.filter(`${owner.name} = {:me}`, { me: me().id });
      // The dated ones by due time, and those without a due date apart: in one list sorted by
      // due, the undated sort first, and a rep with hundreds of them lost her overdue tasks
      // beyond the page. Each list says how many it leaves out.
      const expand = links.map((f) => f.name).join(',');
      const coll = pb.collection(act.name);
      const [dated, undated] = await Promise.all([
        upTo(coll, limits.dated, { filter: `${mine} && done = false && due != ""`, sort: 'due,-@rowid', expand }),
        upTo(coll, limits.undated, { filter: `${mine} && done = false && type = "task" && due = ""`, sort: '-@rowid', expand }),
      ]);
      const startOfToday = new Date(); startOfToday.setHours(0, 0, 0, 0);
      const recent = await pb.collection(act.name).getList(1, 10, {
        filter: `${mine} && done = true && done_at >= ${pb.filter('{:t}', { t: startOfToday.toISOString().replace('T', ' ') })}`, sort: '-done_at', skipTotal: true,
      });
      setItems([...dated.items, ...undated.items]);
      setTotals({ open: dated.totalItems + undated.totalItems, later: dated.totalItems - dated.items.length, undated: undated.totalItems - undated.items.length });
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

  if (!act || !owner) return html`<${ErrorBox} error=${t('tasks.noActivity')} />`;
  if (!items) return html`<${ErrorBox} error=${error} /><${Spinner} />`;

  const complete = async (task) => {
    setItems((xs) => xs.filter((x) => x.id !== task.id));
    try {
      await pb.collection(act.name).update(task.id, { done: true, done_at: new Date().toISOString() });
      toast(t('tasks.doneToast', { subject: task.subject }));
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
    load();
  };
  const reopen = async (task) => {
    await pb.collection(act.name).update(task.id, { done: false, done_at: '' }).catch((err) => toast(errorMessage(err), 'error'));
    load();
  };

  // Calendar days in the user's time zone (her preferences; else the browser's).
  const today = dayIn(new Date(), userZone());
  const groups = [
    ['overdue', t('tasks.overdue'), (d) => d && d < today],
    ['today', t('tasks.today'), (d) => d === today],
    ['upcoming', t('tasks.upcoming'), (d) => d && d > today],
    ['someday', t('tasks.someday'), (d) => !d],
  ];
  const dayOf = (v) => {
    const d = dueOf(v);
    if (!d) return '';
    return d.dateOnly ? dayIn(d.at) : dayIn(d.at, userZone());
  };
  const now = new Date();
  // Where the dated list was cut: at the group of its last task shown. The groups after it are
  // left out until "Show more" reaches them (they would say "nothing" of tasks not yet read).
  const dated = items.filter((x) => x.due);
  const cutAt = totals.later > 0 && dated.length ? groups.findIndex(([, , test]) => test(dayOf(dated[dated.length - 1].due))) : -1;
  const showMore = (which, page) => {
    shown.current = { ...shown.current, [which]: shown.current[which] + page };
    load();
  };
  return html`<section class="tasks-page">
    <header class="page-head"><h1>${t('nav.tasks')}</h1><span class="muted">${t('tasks.open', { count: totals.open ?? items.length })}</span></header>
    <${ErrorBox} error=${error} />
    ${groups.map(([key, label, test], i) => {
      const list = items.filter((task) => test(dayOf(task.due)));
      if (!list.length && key === 'someday') return null;
      if (cutAt >= 0 && i > cutAt && key !== 'someday') return null;
      return html`<div class="task-group ${key}" key=${key} data-testid=${'tasks-' + key}>
        <h2>${label} <span class="muted">${list.length}</span></h2>
        ${list.length ? html`<ul class="task-list">${list.map((task) => {
          const due = task.due ? dueOf(task.due) : null;
          return html`<li key=${task.id} class="task">
            <input type="checkbox" title=${t('tasks.markDone')} aria-label=${t('tasks.markDoneOf', { subject: task.subject })} onChange=${() => complete(task)} />
            <div class="body">
              <div><b>${task.subject}</b> <span class="muted small">${actType(task.type)}</span></div>
              <div class="muted small">
                ${due ? html`<span class=${isOverdue(task.due, now) ? 'overdue-text' : ''} data-testid="due">${t('tasks.due', { date: formatDue(task.due) })}</span>` : null}
                ${links.filter((f) => task.expand?.[f.name]).map((f) => html` · <a key=${f.name} href=${recordHref(f.target, task[f.name])}>${titleOf(objectNamed(f.target), task.expand[f.name])}</a>`)}
              </div>
            </div>
          </li>`;
        })}</ul>` : html`<${Empty}>${t('tasks.nothing')}</${Empty}>`}
        ${i === cutAt ? html`<p class="muted small"><span data-testid="tasks-more-later">${t('tasks.moreLater', { count: totals.later })}</span>
          <button class="link more" data-testid="tasks-show-more-later" onClick=${() => showMore('dated', datedPage)}>${t('tasks.showMore', { count: Math.min(totals.later, datedPage) })}</button></p>` : null}
        ${key === 'someday' && totals.undated > 0 ? html`<p class="muted small"><span data-testid="tasks-more-undated">${t('tasks.moreUndated', { count: totals.undated })}</span>
          <button class="link more" data-testid="tasks-show-more-undated" onClick=${() => showMore('undated', undatedPage)}>${t('tasks.showMore', { count: Math.min(totals.undated, undatedPage) })}</button></p>` : null}
      </div>`;
    })}
    ${done.length ? html`<div class="task-group done"><h2>${t('tasks.doneToday')}</h2><ul class="task-list">${done.map((task) => html`<li key=${task.id} class="task">
      <input type="checkbox" checked title=${t('tasks.reopen')} onChange=${() => reopen(task)} /><div class="body"><s>${task.subject}</s></div></li>`)}</ul></div>` : null}
  </section>`;
}
