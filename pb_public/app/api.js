// The app's one connection to the server: PocketBase's REST API and realtime with the signed-in
// user's token, and Relata's endpoints under /api/relata. Everything a user sees comes through
// here, so the server's access rules decide what they see.
import PocketBase from 'pocketbase';
import { locale, t, label, has } from './i18n.js';

export const pb = new PocketBase(location.origin);
pb.autoCancellation(false);

// relata calls one of Relata's endpoints (/api/relata/...).
export function relata(path, options = {}) {
  return pb.send('/api/relata' + path, options);
}

// The signed-in user, or null.
export function me() {
  return pb.authStore.isValid ? pb.authStore.record : null;
}

export function isManager() {
  const u = me();
  return !!u && (u.role === 'admin' || u.role === 'manager');
}

// The live object model (files merged with dashboard edits), loaded once after sign-in.
let objects = [];
let users = [];

export async function loadModel() {
  const [model, people] = await Promise.all([
    relata('/objects'),
    pb.collection('users').getFullList({ fields: 'id,name,email,role,team', sort: 'name' }),
  ]);
  objects = model.objects;
  users = people;
}

export const allObjects = () => objects;
export const objectNamed = (name) => objects.find((o) => o.name === name);
export const allUsers = () => users;
export const userNamed = (id) => users.find((u) => u.id === id);

// The first activity object (tasks, calls and notes live there).
export function activityObject() {
  return objects.find((o) => o.activity && o.fields.some((f) => f.name === 'done'))
    || objects.find((o) => o.activity);
}

export function objectLabel(o, plural = true) {
  return plural ? label(`object.${o.name}.plural`, o.label?.plural || o.name) : label(`object.${o.name}.singular`, o.label?.singular || o.name);
}

// pipelineLabel and stageLabel name a pipeline and a stage (in the user's language when the
// catalogue knows the model's English name).
export function pipelineLabel(o, p) {
  return label(`pipeline.${o.name}.${p.name}`, p.label || p.name);
}

export function stageLabel(o, s) {
  return label(`stage.${o.name}.${s.name}`, s.label || s.name);
}

export function fieldLabel(f) {
  return f.label || f.name.replace(/_/g, ' ');
}

export function stageField(o, pipeline) {
  return o.fields.find((f) => f.type === 'stage' && (!pipeline || stagePipelines(o, f).some((p) => p.name === pipeline)));
}

// The pipelines a stage field's records may follow: its own first, then those its
// pipelineField (a select of pipeline names) offers.
export function stagePipelines(o, f) {
  const names = [f.pipeline];
  const pf = f.pipelineField && o.fields.find((x) => x.name === f.pipelineField);
  for (const opt of pf?.options || []) {
    const v = typeof opt === 'string' ? opt : opt.value;
    if (!names.includes(v)) names.push(v);
  }
  return names.map((n) => pipelineOf(o, n)).filter(Boolean);
}

// The pipeline a record follows in stage field f (an empty pipeline field means f's own).
export function recordPipeline(o, f, rec) {
  const v = f.pipelineField && rec?.[f.pipelineField];
  return pipelineOf(o, v || f.pipeline);
}

// A PocketBase filter for the records of pipeline p in stage field f ('' when every record is).
export function pipelineFilter(o, f, p) {
  if (!f.pipelineField) return '';
  if (p === f.pipeline) return pb.filter(`(${f.pipelineField} = '' || ${f.pipelineField} = {:p})`, { p });
  return pb.filter(`${f.pipelineField} = {:p}`, { p });
}

export function pipelineOf(o, name) {
  return (o.pipelines || []).find((p) => p.name === name);
}

export function amountField(o) {
  return o.fields.find((f) => f.type === 'currency') || o.fields.find((f) => f.type === 'number' && !f.multiple);
}

// Fields that expand to records: relations and owners.
export function expandFields(o) {
  return o.fields.filter((f) => f.type === 'relation' || f.type === 'owner').map((f) => f.name).join(',');
}

export function titleOf(o, rec) {
  if (!rec) return '';
  return String(rec[o.titleField] ?? '') || rec.id;
}

// PocketBase dates are "2026-03-01 12:00:00.000Z"; an empty string is no date.
export function parseDate(v) {
  if (!v) return null;
  const d = new Date(String(v).replace(' ', 'T'));
  return isNaN(d) ? null : d;
}

// userZone is the signed-in user's time zone from her preferences (an IANA name), or
// undefined for the browser's; userLocale her language's locale, or undefined for the browser's.
export function userZone() {
  const z = me()?.timezone;
  if (!z) return undefined;
  try {
    new Intl.DateTimeFormat('en', { timeZone: z });
    return z;
  } catch {
    return undefined;
  }
}

export function userLocale() {
  return locale();
}

// dayIn is the calendar day ("2026-03-02") of moment d in time zone zone (the browser's when undefined).
export function dayIn(d, zone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

export function formatDate(v, withTime = false) {
  const d = v instanceof Date ? v : parseDate(v);
  if (!d) return '';
  return withTime
    ? d.toLocaleString(userLocale(), { dateStyle: 'medium', timeStyle: 'short', timeZone: userZone() })
    : d.toLocaleDateString(userLocale(), { dateStyle: 'medium', timeZone: 'UTC' });
}

// dueOf reads a due date. A value of exactly 00:00:00 UTC is a day without a time (date pickers,
// imports and spreadsheets store days so): it means that calendar day in every time zone, shown
// without "12:00 AM" and overdue only once the day is over. Other values are moments, shown in
// the user's time zone (her preferences; else the browser's) and locale.
export function dueOf(v) {
  const d = v instanceof Date ? v : parseDate(v);
  if (!d) return null;
  const dateOnly = d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0 && d.getUTCMilliseconds() === 0;
  return dateOnly ? { at: new Date(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()), dateOnly } : { at: d, dateOnly };
}

export function formatDue(v) {
  const d = dueOf(v);
  if (!d) return '';
  return d.dateOnly
    ? d.at.toLocaleDateString(userLocale(), { dateStyle: 'medium' })
    : d.at.toLocaleString(userLocale(), { dateStyle: 'medium', timeStyle: 'short', timeZone: userZone() });
}

// isOverdue: a moment that has passed, or a day before today (in the user's time zone).
export function isOverdue(v, now = new Date()) {
  const d = dueOf(v);
  if (!d) return false;
  if (!d.dateOnly) return d.at < now;
  const day = dayIn(d.at); // d.at is that day's local midnight
  return day < dayIn(now, userZone());
}

export function formatMoney(n, currency) {
  const v = Number(n || 0);
  try {
    return new Intl.NumberFormat(userLocale(), currency
      ? { style: 'currency', currency, maximumFractionDigits: 0 }
      : { maximumFractionDigits: 2 }).format(v);
  } catch {
    return v.toLocaleString(userLocale());
  }
}

export function formatPercent(v) {
  return v == null ? '—' : (v * 100).toLocaleString(userLocale(), { maximumFractionDigits: 1 }) + '%';
}

// formatDays shows a duration given in days in the unit that reads best.
export function formatDays(days) {
  if (days == null || isNaN(days)) return '—';
  const abs = Math.abs(days);
  const n = (v, unit) => t(unit, { n: v.toLocaleString(userLocale(), { maximumFractionDigits: 1 }) });
  if (abs >= 1) return n(days, abs === 1 ? 'unit.day' : 'unit.days');
  if (abs * 24 >= 1) return n(days * 24, 'unit.hours');
  if (abs * 1440 >= 1) return n(days * 1440, 'unit.minutes');
  return n(days * 86400, 'unit.seconds');
}

export function daysBetween(a, b) {
  return (b - a) / 86400000;
}

// PocketBase's own wordings of a failed request, which the app says in its reader's language
// (by status); any other message — a reason Relata wrote, a located error — is shown as sent.
const pocketbaseMessages = new Set([
  'Failed to create record.', 'Failed to update record.',
  'Failed to delete record. Make sure that the record is not part of a required relation reference.',
  "The requested resource wasn't found.", 'Something went wrong while processing your request.',
  'You are not allowed to perform this request.', 'Missing or invalid authentication.', 'Too many requests.',
  'Only superusers can perform this action.', 'An error occurred while validating the submitted data.',
  'An error occurred while loading the submitted data.', 'Failed to authenticate.', 'Invalid or expired token.',
  'The request requires valid record authorization token.',
]);

// A refusal by an access rule (hooks/refusal.go) starts with the action; its reason is worded
// from the code and params in data.
const refusalPrefix = /^(create|update|delete) refused: /i;

// errorParams words the params of an error for the reader: objects, fields and roles by their
// labels in her language.
function errorParams(p = {}) {
  const o = p.object && objectNamed(p.object);
  const field = o && p.field ? o.fields.find((f) => f.name === p.field) : null;
  return {
    ...p,
    objects: o ? objectLabel(o).toLowerCase() : p.object,
    field: field ? fieldLabel(field) : p.field,
    role: p.role ? t(`role.${p.role}`) : p.role,
    roles: p.roles ? String(p.roles).split(',').map((r) => t(`role.${r}`)).join(', ') : p.roles,
  };
}

// fieldError is one entry of an error's data, worded from its code when the catalogue knows
// it ("apiError.CODE"), else as the server wrote it; a field of object o is named by its label.
function fieldError(o, name, v) {
  const known = v?.code && has(`apiError.${v.code}`);
  const text = known ? t(`apiError.${v.code}`, errorParams(v.params)) : (v?.message || JSON.stringify(v));
  if (name === 'id') return [text.charAt(0).toUpperCase() + text.slice(1), known]; // the record as a whole (a refused delete)
  const f = o?.fields?.find((x) => x.name === name);
  return [`${f ? fieldLabel(f) : name}: ${text}`, known];
}

// errorMessage turns a PocketBase client error into what a person reads, in her language where
// the catalogue knows the wording, with the field errors (of object o, when given, by label).
export function errorMessage(err, o) {
  if (!err) return '';
  const data = err.response?.data || err.data?.data;
  const status = err.status ?? err.response?.status;
  let msg = err.response?.message || err.message || String(err);
  const entries = data && typeof data === 'object' ? Object.entries(data).map(([k, v]) => fieldError(o, k, v)) : [];
  if (status === 0 && !err.isAbort) msg = t('apiError.network');
  else if (pocketbaseMessages.has(msg) || (entries.length && entries.every(([, known]) => known) && refusalPrefix.test(msg))) {
    msg = t(has(`apiError.status.${status}`) ? `apiError.status.${status}` : 'apiError.failed');
  }
  return entries.length ? `${msg} ${entries.map(([text]) => text).join('; ')}` : msg;
}

// subscribe listens to realtime changes of a collection (topic "*") or one record (its id),
// and returns a function that stops listening. PocketBase sends only what the user may see.
export function subscribe(collection, topic, callback) {
  let stopped = false;
  let unsubscribe = null;
  pb.collection(collection).subscribe(topic, callback).then((fn) => {
    if (stopped) fn(); else unsubscribe = fn;
  }).catch(() => {});
  return () => {
    stopped = true;
    if (unsubscribe) unsubscribe();
  };
}

// newest makes a loader whose answers are applied only while no later call has started:
// a list reloaded by a realtime event just before its filter changed must not show the
// older, unfiltered answer when that one arrives last. Use it once per component (useMemo)
// and call it with a function returning the promise and one applying the result.
export function newest() {
  let seq = 0;
  return async (request, apply, fail) => {
    const n = ++seq;
    try {
      const res = await request();
      if (n === seq) apply(res);
    } catch (err) {
      if (n === seq && fail) fail(err);
    }
  };
}

// debounce delays f until calls stop for ms.
export function debounce(f, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => f(...args), ms);
  };
}
