// The interface's language: t(key, params) looks a message up in the catalogue of the current
// language (app/i18n/en.js, it.js), fills in {name} placeholders and picks the plural form of
// {count} with Intl.PluralRules. The language is the user's `language` field once she has
// signed in, else the browser's; English is the default and the fallback for a missing key.
import en from './i18n/en.js';
import it from './i18n/it.js';

export const catalogues = { en, it };
export const languages = [['en', 'English'], ['it', 'Italiano']];

let current = pick(typeof navigator === 'undefined' ? '' : navigator.language);
const listeners = new Set();

// pick maps a language tag ("it-IT", "en") to one the app has, English otherwise.
function pick(tag) {
  const l = String(tag || '').toLowerCase().split('-')[0];
  return catalogues[l] ? l : 'en';
}

export function lang() {
  return current;
}

// locale is the BCP 47 locale for Intl formatting in the current language.
export function locale() {
  return current === 'it' ? 'it-IT' : undefined;
}

// setLanguage switches the interface; an empty value means the browser's language.
export function setLanguage(l) {
  const next = pick(l || (typeof navigator === 'undefined' ? '' : navigator.language));
  if (typeof document !== 'undefined') document.documentElement.lang = next;
  if (next === current) return;
  current = next;
  listeners.forEach((f) => f(next));
}

// onLanguage calls f with the new language after every switch; it returns the unsubscribe.
export function onLanguage(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

function fill(s, params) {
  return s.replace(/\{(\w+)\}/g, (m, k) => (params[k] ?? m));
}

// t('nav.tasks') → "My tasks"; t('tasks.open', { count: 3 }) → "3 open". A message whose
// value is an object holds plural forms ({ one, other, … }) chosen by params.count.
export function t(key, params = {}) {
  const [m, p] = message(key, params);
  return fill(m, p);
}

// message is the text of key in the current language with its plural form picked, and the
// params with count in the locale's number format.
function message(key, params) {
  let m = catalogues[current][key] ?? en[key];
  if (m == null) return [key, params];
  if (typeof m === 'object') {
    const n = Number(params.count ?? 0);
    m = m[new Intl.PluralRules(locale() || 'en').select(n)] ?? m.other;
    params = { ...params, count: n.toLocaleString(locale()) };
  }
  return [m, params];
}

// has reports whether the catalogues know key (in the current language or in English).
export function has(key) {
  return catalogues[current][key] != null || en[key] != null;
}

// tx is t for messages around markup: the params may be elements (a link, a bold name), and the
// result is a list of text and those elements, in the order the language puts them, to render
// in place: tx('dup.mergedInto', { loser: html`<b>${a}</b>`, winner: link }).
export function tx(key, params = {}) {
  const [m, p] = message(key, params);
  return m.split(/\{(\w+)\}/).map((part, i) => (i % 2 ? (p[part] ?? `{${part}}`) : part)).filter((x) => x !== '');
}

// label translates a label from the object model (an object's, pipeline's or stage's name)
// when the catalogue knows it under key and the model still has the English wording the
// catalogue has for it: a label an admin renamed is shown as written.
export function label(key, english) {
  const m = catalogues[current][key];
  return m != null && en[key] === english ? m : english;
}
