// Search across every object: each object's text fields, through the REST API, so results
// hold only records the user may see.
import { useEffect, useState } from 'preact/hooks';
import { pb, allObjects, objectLabel, titleOf } from './api.js';
import { html, recordHref, Spinner, Empty } from './ui.js';
import { searchFields } from './fields.js';
import { t } from './i18n.js';

export function Search({ q }) {
  const [results, setResults] = useState(null);
  useEffect(() => {
    let cancelled = false;
    Promise.all(allObjects().map(async (o) => {
      const fields = searchFields(o);
      if (!fields.length) return { o, items: [], total: 0 };
      const filter = fields.map((f) => pb.filter(`${f} ~ {:q}`, { q })).join(' || ');
      const res = await pb.collection(o.name).getList(1, 10, { filter, sort: '-@rowid' }).catch(() => ({ items: [], totalItems: 0 }));
      return { o, items: res.items, total: res.totalItems };
    })).then((r) => !cancelled && setResults(r));
    return () => { cancelled = true; };
  }, [q]);
  if (!results) return html`<${Spinner} />`;
  const found = results.filter((r) => r.items.length);
  return html`<section class="search-page">
    <header class="page-head"><h1>${t('search.title', { q })}</h1></header>
    ${found.length === 0 ? html`<${Empty}>${t('search.nothing')}</${Empty}>` : found.map(({ o, items, total }) => html`<div class="panel" key=${o.name}>
      <h2>${objectLabel(o)} <span class="muted">${total}</span></h2>
      <ul class="search-results">${items.map((r) => html`<li key=${r.id}><a href=${recordHref(o.name, r.id)}>${titleOf(o, r)}</a></li>`)}</ul>
    </div>`)}
  </section>`;
}
