// The no-code condition editor's translation, as pure functions (no DOM, no Preact) so that
// node can test them (../testdata/condition.test.mjs): a tree of rows and AND/OR groups is written as the
// same expr text power users type (toExpr), and expr text in the subset the editor writes is
// read back into rows (fromExpr). Anything outside that subset is reported, with the reason,
// and the builder keeps the text editor for it.
//
// A tree is a group: { join: 'and' | 'or', rows: [row | group] }. A row is
// { field, op, value, value2 } where field is "record.<name>" and op one of opsFor(kind).

import { t } from './i18n.js';

// kindOf maps a field of an object (as the web app holds it) to the editor's kind.
export function kindOf(f) {
  if (!f) return '';
  switch (f.type) {
    case 'text': case 'longtext': case 'richtext': case 'email': case 'phone': case 'url': return 'text';
    case 'number': case 'currency': return 'number';
    case 'select': return f.multiple ? 'list' : 'select';
    case 'stage': return 'select';
    case 'tags': return 'list';
    case 'date': case 'datetime': case 'autodate': return 'date';
    case 'boolean': case 'bool': return 'bool';
    case 'owner': return 'user';
    case 'relation':
      if (f.multiple) return 'list';
      return f.target === 'users' ? 'user' : 'relation';
    default: return '';
  }
}

// The operators of each kind, in the order the editor offers them: [op, label].
const changedOps = [['changed', 'changed'], ['changedTo', 'changed to'], ['changedFromTo', 'changed from … to']];
export const operators = {
  text: [['is', 'is'], ['isNot', 'is not'], ['contains', 'contains'], ['empty', 'is empty'], ['notEmpty', 'is not empty'], ...changedOps],
  number: [['==', '='], ['!=', '≠'], ['<', '<'], ['>', '>'], ['<=', '≤'], ['>=', '≥'], ['between', 'between'], ['empty', 'is empty'], ...changedOps],
  select: [['in', 'is any of'], ['notIn', 'is none of'], ['is', 'is'], ['isNot', 'is not'], ['empty', 'is empty'], ['notEmpty', 'is not empty'], ...changedOps],
  list: [['has', 'has'], ['hasNot', 'does not have'], ['empty', 'is empty'], ['notEmpty', 'is not empty'], ['changed', 'changed']],
  date: [['before', 'is before'], ['after', 'is after'], ['agoMore', 'more than N days ago'], ['agoLess', 'less than N days ago'],
    ['nextDays', 'in the next N days'], ['empty', 'is empty'], ['notEmpty', 'is not empty'], ['changed', 'changed']],
  bool: [['true', 'is yes'], ['false', 'is no'], ['changed', 'changed']],
  user: [['actor', 'is the actor'], ['notActor', 'is not the actor'], ['is', 'is'], ['isNot', 'is not'], ['empty', 'is empty'], ['notEmpty', 'is not empty'], ...changedOps],
  relation: [['is', 'is'], ['isNot', 'is not'], ['empty', 'is empty'], ['notEmpty', 'is not empty'], ...changedOps],
};

// opsFor lists a kind's operators; an item's field (inside a for_each) has no "changed" ones,
// as the helpers look at the triggering record.
export const opsFor = (kind, item = false) => (operators[kind] || []).filter(([op]) => !item || !op.startsWith('changed'));

// conditionFields lists the fields a condition can test, each with its path: the object's own
// and created/updated as record.<name>; inside a for_each (object.item is the items' object)
// also the item's as item.<name>.
export function conditionFields(object) {
  const of = (o, prefix) => {
    const own = (o?.fields || []).filter((f) => kindOf(f));
    const names = new Set(own.map((f) => f.name));
    const sys = [{ name: 'created', type: 'date', label: t('cond.created') }, { name: 'updated', type: 'date', label: t('cond.updated') }].filter((f) => !names.has(f.name));
    return [...own, ...sys].map((f) => ({ ...f, path: prefix + '.' + f.name }));
  };
  const items = object?.item ? of(object.item, 'item').map((f) => ({ ...f, item: true, label: t('cond.item', { label: f.label || f.name.replace(/_/g, ' ') }) })) : [];
  return [...of(object, 'record'), ...items];
}

const fieldNamed = (object, path) => conditionFields(object).find((f) => f.path === path);

// newRow is a row for a field with its kind's first operator.
export function newRow(object, field) {
  const all = conditionFields(object);
  const f = all.find((x) => x.path === field) || all.find((x) => x.name === field) || all[0];
  if (!f) return { field: '', op: '', value: '' };
  const kind = kindOf(f);
  const op = opsFor(kind)[0][0];
  return { field: f.path, op, value: defaultValue(kind, op) };
}

export function defaultValue(kind, op) {
  if (op === 'in' || op === 'notIn') return [];
  if (['agoMore', 'agoLess', 'nextDays'].includes(op)) return 14;
  if (kind === 'number') return 0;
  if (kind === 'bool') return false;
  return '';
}

// needsValue: how many values an operator takes (0, 1 or 2).
export function needsValue(op) {
  if (['empty', 'notEmpty', 'changed', 'true', 'false', 'actor', 'notActor'].includes(op)) return 0;
  if (op === 'between' || op === 'changedFromTo') return 2;
  return 1;
}

// ---- writing ----

const str = (v) => JSON.stringify(String(v ?? ''));
const num = (v) => {
  const n = Number(v);
  return Number.isFinite(n) ? String(n) : '0';
};
const lit = (kind, v) => (kind === 'number' ? num(v) : kind === 'bool' ? String(v === true || v === 'true') : str(v));

export function rowExpr(object, row) {
  const f = fieldNamed(object, row.field);
  if (!f) throw new Error(`unknown field ${row.field}`);
  const kind = kindOf(f);
  const x = row.field;
  const name = str(f.name);
  const v = row.value;
  switch (row.op) {
    case 'is': return `${x} == ${str(v)}`;
    case 'isNot': return `${x} != ${str(v)}`;
    case 'contains': return `${x} contains ${str(v)}`;
    case 'empty': return `isEmpty(${x})`;
    case 'notEmpty': return `!isEmpty(${x})`;
    case '==': case '!=': case '<': case '>': case '<=': case '>=': return `${x} ${row.op} ${num(v)}`;
    case 'between': return `(${x} >= ${num(v)} && ${x} <= ${num(row.value2)})`;
    case 'in': return `${x} in [${(v || []).map(str).join(', ')}]`;
    case 'notIn': return `${x} not in [${(v || []).map(str).join(', ')}]`;
    case 'has': return `${str(v)} in ${x}`;
    case 'hasNot': return `${str(v)} not in ${x}`;
    case 'before': return `${x} < date(${str(v)})`;
    case 'after': return `${x} > date(${str(v)})`;
    case 'agoMore': return `daysSince(${x}) > ${num(v)}`;
    case 'agoLess': return `daysSince(${x}) < ${num(v)}`;
    case 'nextDays': return `(daysUntil(${x}) >= 0 && daysUntil(${x}) <= ${num(v)})`;
    case 'true': return `${x} == true`;
    case 'false': return `${x} == false`;
    case 'actor': return `${x} == user.id`;
    case 'notActor': return `${x} != user.id`;
    case 'changed': return `isChanged(${name})`;
    case 'changedTo': return `changedTo(${name}, ${lit(kind, v)})`;
    case 'changedFromTo': return `(changedFrom(${name}, ${lit(kind, v)}) && changedTo(${name}, ${lit(kind, row.value2)}))`;
    default: throw new Error(`unknown operator ${row.op}`);
  }
}

// toExpr writes a tree as expr text; an empty tree is the empty condition.
export function toExpr(object, tree, nested = false) {
  const parts = (tree.rows || []).map((r) => (r.rows ? toExpr(object, r, true) : rowExpr(object, r))).filter(Boolean);
  if (!parts.length) return '';
  const s = parts.join(tree.join === 'or' ? ' || ' : ' && ');
  return nested && parts.length > 1 ? `(${s})` : s;
}

// ---- reading ----

// tokenize splits expr text into the tokens of the editor's subset; a character outside it
// throws, which fromExpr reports.
function tokenize(src) {
  const toks = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    const at = i;
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) throw new Error(`unterminated string at ${at + 1}`);
      toks.push({ t: 'str', v: JSON.parse(src.slice(i, j + 1)), at });
      i = j + 1;
      continue;
    }
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/.exec(src.slice(i));
    if (m && (c !== '-' || !toks.length || ['op', 'punct'].includes(toks[toks.length - 1].t))) {
      toks.push({ t: 'num', v: Number(m[0]), at });
      i += m[0].length;
      continue;
    }
    const id = /^[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*/.exec(src.slice(i));
    if (id) {
      const w = id[0];
      if (w === 'true' || w === 'false') toks.push({ t: 'bool', v: w === 'true', at });
      else if (['in', 'not', 'contains', 'and', 'or'].includes(w)) toks.push({ t: 'op', v: w === 'and' ? '&&' : w === 'or' ? '||' : w, at });
      else toks.push({ t: 'id', v: w, at });
      i += w.length;
      continue;
    }
    const op = /^(?:==|!=|<=|>=|&&|\|\||[<>!])/.exec(src.slice(i));
    if (op) { toks.push({ t: 'op', v: op[0], at }); i += op[0].length; continue; }
    if ('()[],'.includes(c)) { toks.push({ t: 'punct', v: c, at }); i++; continue; }
    throw new Error(`"${c}" at ${at + 1} is beyond what the editor shows`);
  }
  return toks;
}

// parse builds a small syntax tree: or > and > not > comparison > primary.
function parse(src) {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const is = (t, v) => toks[p] && toks[p].t === t && (v === undefined || toks[p].v === v);
  const expect = (t, v) => {
    if (!is(t, v)) throw new Error(`expected ${v || t} at ${toks[p] ? toks[p].at + 1 : 'the end'}`);
    return toks[p++];
  };
  const chain = (op, next) => () => {
    const items = [next()];
    while (is('op', op)) { p++; items.push(next()); }
    return items.length === 1 ? items[0] : { t: op, items };
  };
  const primary = () => {
    const k = peek();
    if (!k) throw new Error('the expression ends too early');
    if (is('punct', '(')) { p++; const e = orExpr(); expect('punct', ')'); return { ...e, paren: true }; }
    if (is('punct', '[')) {
      p++;
      const items = [];
      while (!is('punct', ']')) {
        items.push(primary());
        if (!is('punct', ']')) expect('punct', ',');
      }
      p++;
      return { t: 'list', items };
    }
    p++;
    if (k.t === 'id' && is('punct', '(')) {
      p++;
      const args = [];
      while (!is('punct', ')')) {
        args.push(orExpr());
        if (!is('punct', ')')) expect('punct', ',');
      }
      p++;
      return { t: 'call', name: k.v, args };
    }
    if (['id', 'str', 'num', 'bool'].includes(k.t)) return k;
    throw new Error(`unexpected "${k.v}" at ${k.at + 1}`);
  };
  const comparison = () => {
    const l = primary();
    if (is('op', 'not')) { p++; expect('op', 'in'); return { t: 'notIn', l, r: primary() }; }
    for (const op of ['==', '!=', '<', '>', '<=', '>=', 'in', 'contains']) {
      if (is('op', op)) { p++; return { t: 'cmp', op, l, r: primary() }; }
    }
    return l;
  };
  const unary = () => {
    if (is('op', '!')) { p++; return { t: 'not', x: unary() }; }
    return comparison();
  };
  const andExpr = chain('&&', unary);
  const orExpr = chain('||', andExpr);
  const e = orExpr();
  if (p < toks.length) throw new Error(`unexpected "${toks[p].v}" at ${toks[p].at + 1}`);
  return e;
}

class Unsupported extends Error {}
const no = (why) => { throw new Unsupported(why); };

const isRef = (n) => n && n.t === 'id' && /^(?:record|item)\.[A-Za-z_]\w*$/.test(n.v);
const litOf = (n) => (n && ['str', 'num', 'bool'].includes(n.t) ? n.v : no('a value that is not a literal'));

// rowOf reads one comparison or helper call as a row.
function rowOf(object, n) {
  const field = (path) => {
    const f = fieldNamed(object, path);
    if (!f) no(`${path} is not a field the editor offers`);
    return { path, f, kind: kindOf(f), item: !!f.item };
  };
  const byName = (arg) => {
    if (!arg || arg.t !== 'str') no('a field name that is not a literal');
    return field('record.' + arg.v);
  };
  const make = (path, kind, op, value = defaultValue(kind, op), value2) => {
    if (!opsFor(kind, path.startsWith('item.')).some(([o]) => o === op)) no(`"${op}" does not apply to ${path}`);
    const row = { field: path, op, value };
    if (value2 !== undefined) row.value2 = value2;
    return row;
  };
  // The two-comparison patterns the editor writes in parentheses.
  if (n.t === '&&' && n.items.length === 2) {
    const [a, b] = n.items;
    if (a.t === 'cmp' && b.t === 'cmp' && isRef(a.l) && isRef(b.l) && a.l.v === b.l.v && a.op === '>=' && b.op === '<=' && a.r.t === 'num' && b.r.t === 'num') {
      const { path, kind } = field(a.l.v);
      return make(path, kind, 'between', a.r.v, b.r.v);
    }
    const du = (c) => c.t === 'cmp' && c.l.t === 'call' && c.l.name === 'daysUntil' && c.l.args.length === 1 && isRef(c.l.args[0]) && c.r.t === 'num';
    if (du(a) && du(b) && a.l.args[0].v === b.l.args[0].v && a.op === '>=' && a.r.v === 0 && b.op === '<=') {
      const { path, kind } = field(a.l.args[0].v);
      return make(path, kind, 'nextDays', b.r.v);
    }
    const call = (c, name) => c.t === 'call' && c.name === name && c.args.length === 2;
    if (call(a, 'changedFrom') && call(b, 'changedTo') && a.args[0].t === 'str' && b.args[0].t === 'str' && a.args[0].v === b.args[0].v) {
      const { path, kind } = byName(a.args[0]);
      return make(path, kind, 'changedFromTo', litOf(a.args[1]), litOf(b.args[1]));
    }
    return null;
  }
  if (n.t === 'not') {
    const x = n.x;
    if (x.t === 'call' && x.name === 'isEmpty' && x.args.length === 1 && isRef(x.args[0])) {
      const { path, kind } = field(x.args[0].v);
      return make(path, kind, 'notEmpty');
    }
    no('a negation the editor does not write');
  }
  if (n.t === 'call') {
    if (n.name === 'isEmpty' && n.args.length === 1 && isRef(n.args[0])) {
      const { path, kind } = field(n.args[0].v);
      return make(path, kind, 'empty');
    }
    if (n.name === 'isChanged' && n.args.length === 1) {
      const { path, kind } = byName(n.args[0]);
      return make(path, kind, 'changed');
    }
    if (n.name === 'changedTo' && n.args.length === 2) {
      const { path, kind } = byName(n.args[0]);
      return make(path, kind, 'changedTo', litOf(n.args[1]));
    }
    no(`${n.name}(…) on its own`);
  }
  if (n.t === 'notIn') {
    if (isRef(n.l) && n.r.t === 'list') {
      const { path, kind } = field(n.l.v);
      return make(path, kind, 'notIn', n.r.items.map((i) => (i.t === 'str' ? i.v : no('a list of other than text'))));
    }
    if (n.l.t === 'str' && isRef(n.r)) {
      const { path, kind } = field(n.r.v);
      return make(path, kind, 'hasNot', n.l.v);
    }
    no('a "not in" the editor does not write');
  }
  if (n.t !== 'cmp') no(n.t === 'id' ? `${n.v} on its own` : 'a part the editor does not write');
  const { op, l, r } = n;
  if (op === 'in') {
    if (isRef(l) && r.t === 'list') {
      const { path, kind } = field(l.v);
      return make(path, kind, 'in', r.items.map((i) => (i.t === 'str' ? i.v : no('a list of other than text'))));
    }
    if (l.t === 'str' && isRef(r)) {
      const { path, kind } = field(r.v);
      return make(path, kind, 'has', l.v);
    }
    no('an "in" the editor does not write');
  }
  if (l.t === 'call' && (l.name === 'daysSince') && l.args.length === 1 && isRef(l.args[0]) && r.t === 'num' && (op === '>' || op === '<')) {
    const { path, kind } = field(l.args[0].v);
    return make(path, kind, op === '>' ? 'agoMore' : 'agoLess', r.v);
  }
  if (l.t === 'call') no(`${l.name}(…) in a comparison is beyond what the editor shows`);
  if (!isRef(l)) no(l.t === 'id' ? `${l.v} is beyond what the editor shows` : 'a comparison that does not start with a field');
  const { path, kind } = field(l.v);
  if (r.t === 'call' && r.name === 'date' && r.args.length === 1 && r.args[0].t === 'str' && (op === '<' || op === '>') && kind === 'date') {
    return make(path, kind, op === '<' ? 'before' : 'after', r.args[0].v);
  }
  if (r.t === 'id' && r.v === 'user.id' && (op === '==' || op === '!=')) return make(path, kind, op === '==' ? 'actor' : 'notActor');
  if (kind === 'bool' && r.t === 'bool' && op === '==') return make(path, kind, r.v ? 'true' : 'false');
  if (kind === 'number' && r.t === 'num') return make(path, kind, op, r.v);
  if (op === 'contains' && r.t === 'str') return make(path, kind, 'contains', r.v);
  if ((op === '==' || op === '!=') && r.t === 'str') return make(path, kind, op === '==' ? 'is' : 'isNot', r.v);
  return no(`${src(n)} is beyond what the editor shows`);
}

const src = (n) => (n.l && n.l.v ? `a comparison of ${n.l.v}` : 'a comparison');

function groupOf(object, n) {
  if (n.t === '&&' || n.t === '||') {
    if (n.t === '&&' && n.paren) {
      const r = rowOf(object, n);
      if (r) return r;
    }
    return { join: n.t === '||' ? 'or' : 'and', rows: n.items.map((x) => groupOf(object, x)) };
  }
  return rowOf(object, n);
}

// fromExpr reads expr text back into a tree: { tree } when the editor can show it all, or
// { error } saying what it cannot show. The empty text is the empty tree.
export function fromExpr(object, text) {
  if (!text || !text.trim()) return { tree: { join: 'and', rows: [] } };
  let ast;
  try {
    ast = parse(text);
  } catch (err) {
    return { error: err.message };
  }
  try {
    const g = groupOf(object, ast);
    return { tree: g.rows ? g : { join: 'and', rows: [g] } };
  } catch (err) {
    if (err instanceof Unsupported) return { error: err.message };
    throw err;
  }
}
