// Tests of the condition editor's translation (condition.js), run by node:
//   node --test pb_public/testdata/condition.test.mjs
// (pb_public's TestConditionJS runs it from go test.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toExpr, fromExpr, operators, kindOf, newRow, needsValue, defaultValue } from '../app/condition.js';

const deals = {
  name: 'deals',
  fields: [
    { name: 'name', type: 'text' },
    { name: 'amount', type: 'currency' },
    { name: 'probability', type: 'number' },
    { name: 'stage', type: 'stage', pipeline: 'sales' },
    { name: 'source', type: 'select', options: ['web', 'referral'] },
    { name: 'labels', type: 'select', multiple: true, options: ['hot', 'cold'] },
    { name: 'tags', type: 'tags' },
    { name: 'expected_close', type: 'date' },
    { name: 'closed_at', type: 'datetime' },
    { name: 'priority', type: 'boolean' },
    { name: 'owner', type: 'owner' },
    { name: 'reviewer', type: 'relation', target: 'users' },
    { name: 'company', type: 'relation', target: 'companies' },
    { name: 'contacts', type: 'relation', target: 'contacts', multiple: true },
    { name: 'notes', type: 'json' },
  ],
};

// A field of each kind, and values for each operator that takes some.
const fieldOf = { text: 'name', number: 'amount', select: 'stage', list: 'tags', date: 'expected_close', bool: 'priority', user: 'owner', relation: 'company' };
const values = {
  text: ['Acme "big" deal', 'other'],
  number: [10000.5, -3],
  select: [['won', 'lost'], 'lead'],
  list: ['vip', 'x'],
  date: ['2026-03-01', ''],
  bool: [true, false],
  user: ['u1234567890abcd', 'u2'],
  relation: ['c1234567890abcd', 'c2'],
};

function rowFor(kind, op) {
  const r = { field: 'record.' + fieldOf[kind], op, value: defaultValue(kind, op) };
  const n = needsValue(op);
  if (n >= 1) {
    let [a, b] = values[kind];
    if (Array.isArray(a) && op !== 'in' && op !== 'notIn') a = a[0];
    if (['agoMore', 'agoLess', 'nextDays'].includes(op)) a = 30;
    if (kind === 'number' && op === 'between') { a = 10; b = 20; }
    r.value = a;
    if (n === 2) r.value2 = b;
  }
  return r;
}

test('every operator of every kind round-trips: rows → expr → rows → the same expr', () => {
  let count = 0;
  for (const [kind, ops] of Object.entries(operators)) {
    for (const [op] of ops) {
      const tree = { join: 'and', rows: [rowFor(kind, op)] };
      const text = toExpr(deals, tree);
      const back = fromExpr(deals, text);
      assert.equal(back.error, undefined, `${kind} ${op}: ${text}: ${back.error}`);
      assert.deepEqual(back.tree, tree, `${kind} ${op}: ${text}`);
      assert.equal(toExpr(deals, back.tree), text);
      count++;
    }
  }
  assert.ok(count >= 50, `only ${count} operators`);
});

test('the expr written for each operator', () => {
  const w = (row) => toExpr(deals, { join: 'and', rows: [row] });
  assert.equal(w({ field: 'record.name', op: 'is', value: 'Acme' }), 'record.name == "Acme"');
  assert.equal(w({ field: 'record.name', op: 'contains', value: 'a"b' }), 'record.name contains "a\\"b"');
  assert.equal(w({ field: 'record.amount', op: 'between', value: 1, value2: '5' }), '(record.amount >= 1 && record.amount <= 5)');
  assert.equal(w({ field: 'record.stage', op: 'in', value: ['won', 'lost'] }), 'record.stage in ["won", "lost"]');
  assert.equal(w({ field: 'record.tags', op: 'has', value: 'vip' }), '"vip" in record.tags');
  assert.equal(w({ field: 'record.expected_close', op: 'agoMore', value: 14 }), 'daysSince(record.expected_close) > 14');
  assert.equal(w({ field: 'record.expected_close', op: 'nextDays', value: 7 }), '(daysUntil(record.expected_close) >= 0 && daysUntil(record.expected_close) <= 7)');
  assert.equal(w({ field: 'record.expected_close', op: 'before', value: '2026-03-01' }), 'record.expected_close < date("2026-03-01")');
  assert.equal(w({ field: 'record.owner', op: 'actor' }), 'record.owner == user.id');
  assert.equal(w({ field: 'record.priority', op: 'false' }), 'record.priority == false');
  assert.equal(w({ field: 'record.amount', op: 'changedFromTo', value: 1, value2: 2 }), '(changedFrom("amount", 1) && changedTo("amount", 2))');
  assert.equal(w({ field: 'record.stage', op: 'changedFromTo', value: 'lead', value2: 'won' }), '(changedFrom("stage", "lead") && changedTo("stage", "won"))');
  assert.equal(w({ field: 'record.created', op: 'agoLess', value: 1 }), 'daysSince(record.created) < 1');
  assert.equal(toExpr(deals, { join: 'and', rows: [] }), '');
});

test('AND/OR groups nest with parentheses and read back', () => {
  const tree = {
    join: 'and',
    rows: [
      { field: 'record.stage', op: 'in', value: ['lead', 'qualified'] },
      { join: 'or', rows: [
        { field: 'record.expected_close', op: 'agoMore', value: 14 },
        { field: 'record.expected_close', op: 'empty', value: '' },
        { join: 'and', rows: [{ field: 'record.amount', op: '>', value: 5000 }, { field: 'record.owner', op: 'notActor', value: '' }] },
      ] },
    ],
  };
  const text = toExpr(deals, tree);
  assert.equal(text, 'record.stage in ["lead", "qualified"] && (daysSince(record.expected_close) > 14 || isEmpty(record.expected_close) || (record.amount > 5000 && record.owner != user.id))');
  assert.deepEqual(fromExpr(deals, text).tree, tree);
  const or = { join: 'or', rows: [{ field: 'record.name', op: 'is', value: 'a' }, { field: 'record.name', op: 'is', value: 'b' }] };
  assert.equal(toExpr(deals, or), 'record.name == "a" || record.name == "b"');
  assert.deepEqual(fromExpr(deals, toExpr(deals, or)).tree, or);
});

test('text a power user typed in the subset reads back', () => {
  const r = fromExpr(deals, '  record.amount>10000 and (record.source == "referral" or record.source=="web")');
  assert.equal(r.error, undefined);
  assert.equal(toExpr(deals, r.tree), 'record.amount > 10000 && (record.source == "referral" || record.source == "web")');
  // && binds tighter than ||: an unparenthesized AND inside an OR becomes a group.
  const p = fromExpr(deals, 'record.name == "a" && record.amount < 5 || record.priority == true');
  assert.equal(toExpr(deals, p.tree), '(record.name == "a" && record.amount < 5) || record.priority == true');
  assert.deepEqual(fromExpr(deals, '').tree, { join: 'and', rows: [] });
});

test('text outside the subset is refused with the reason', () => {
  const cases = {
    'len(record.name) > 3': /len/,
    'record.amount * 2 > 10': /\*/,
    'record.stage == "won" ? true : false': /\?/,
    'record.notes == "x"': /record\.notes/,
    'record.nope == "x"': /record\.nope/,
    'record.amount > record.probability': /comparison of record\.amount/,
    'record.name': /record\.name on its own/,
    'record.priority == "yes" && (': /end/,
    'record.name == "open': /unterminated/,
    'record.expected_close > date("2026-01-01") || record.tags contains "x"': /tags/,
    'old.amount > 5': /old\.amount/,
  };
  for (const [text, want] of Object.entries(cases)) {
    const r = fromExpr(deals, text);
    assert.equal(r.tree, undefined, text);
    assert.match(r.error, want, text);
  }
});

test('kinds and new rows', () => {
  assert.equal(kindOf({ type: 'relation', target: 'users' }), 'user');
  assert.equal(kindOf({ type: 'relation', target: 'contacts', multiple: true }), 'list');
  assert.equal(kindOf({ type: 'json' }), '');
  assert.deepEqual(newRow(deals, 'stage'), { field: 'record.stage', op: 'in', value: [] });
  assert.deepEqual(newRow(deals, 'amount'), { field: 'record.amount', op: '==', value: 0 });
});

// A small property test in place of a fuzz target: random trees of random rows (random text
// with quotes, backslashes and unicode; random numbers) round-trip, and random text never
// throws from fromExpr — it gives a tree or an error.
test('random trees round-trip and random text never throws', () => {
  let seed = 17;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const chars = 'ab "\\\'é€()[]&|!<>=,.0123456789 \n\t';
  const text = () => Array.from({ length: rnd(8) }, () => chars[rnd(chars.length)]).join('');
  const row = () => {
    const kinds = Object.keys(fieldOf);
    const kind = kinds[rnd(kinds.length)];
    const ops = operators[kind];
    const r = rowFor(kind, ops[rnd(ops.length)][0]);
    if (typeof r.value === 'string' && kind !== 'date') r.value = text();
    if (typeof r.value === 'number') r.value = rnd(2) ? rnd(100000) / 100 : -rnd(50);
    return r;
  };
  const group = (depth) => ({ join: rnd(2) ? 'and' : 'or', rows: Array.from({ length: 2 + rnd(3) }, () => (depth && rnd(3) === 0 ? group(depth - 1) : row())) });
  const norm = (g) => toExpr(deals, g);
  for (let i = 0; i < 500; i++) {
    const g = group(2);
    const s = norm(g);
    const back = fromExpr(deals, s);
    assert.equal(back.error, undefined, s);
    assert.equal(norm(back.tree), s);
  }
  const alphabet = 'record.amount name stage in not && || ! ( ) [ ] "x" 1 -2 == != < > isEmpty( daysSince( , true'.split(' ');
  for (let i = 0; i < 3000; i++) {
    const s = Array.from({ length: 1 + rnd(10) }, () => alphabet[rnd(alphabet.length)]).join(rnd(2) ? ' ' : '');
    const r = fromExpr(deals, s);
    assert.ok(r.tree || r.error, s);
    if (r.tree) assert.equal(fromExpr(deals, toExpr(deals, r.tree)).error, undefined, s);
  }
});

test('inside a for_each, rows test the item too', () => {
  const contacts = { name: 'contacts', fields: [{ name: 'full_name', type: 'text' }, { name: 'status', type: 'select', options: ['new', 'customer'] }, { name: 'vip', type: 'boolean' }] };
  const scope = { ...deals, item: contacts };
  const tree = { join: 'and', rows: [
    { field: 'item.status', op: 'in', value: ['customer'] },
    { field: 'item.vip', op: 'true', value: false },
    { field: 'record.stage', op: 'changedTo', value: 'won' },
    { field: 'item.created', op: 'agoMore', value: 30 },
  ] };
  const text = toExpr(scope, tree);
  assert.equal(text, 'item.status in ["customer"] && item.vip == true && changedTo("stage", "won") && daysSince(item.created) > 30');
  assert.deepEqual(fromExpr(scope, text).tree, tree);
  assert.match(fromExpr(deals, text).error, /item\.status/);
  assert.match(fromExpr(scope, 'isChanged("full_name")').error, /full_name/);
  assert.equal(operators.text.some(([op]) => op === 'changed'), true);
  assert.deepEqual(newRow(scope, 'item.full_name'), { field: 'item.full_name', op: 'is', value: '' });
});
