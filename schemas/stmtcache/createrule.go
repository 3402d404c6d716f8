package stmtcache

import (
	"context"
	"database/sql/driver"
	"slices"
	"strings"
)

// RuleSize is how many create-rule checks (by normalised text) a connection keeps: one per
// collection and rule shape is enough; the limit only bounds texts that still never repeat.
const RuleSize = 32

// PocketBase checks the create rule of a REST create (apis/record_crud.go, v0.39.11) with
//
//	WITH `contacts__pb_create__Ab3xYz` as (SELECT ? AS `email`,? AS `id`,…) SELECT … FROM
//	`contacts__pb_create__Ab3xYz` … WHERE <the rule, naming `contacts__pb_create__Ab3xYz`.`owner` …>
//
// a text that never repeats: the six characters after __pb_create__ are random, and the
// select list follows the record's fields in Go map order. Parsing and planning it anew was
// 5–7 % of the CPU of a REST create. createRuleText rewrites such a text to one that repeats
// for every create in the same collection under the same rule: the random part replaced by a
// fixed one (the CTE's name is local to the statement) and the select list sorted by column
// name. The argument of the select list's i-th column is then the one PocketBase sent at
// perm[i]; the placeholders after the select list (the rule's values) keep their places.
//
// Only the exact shape PocketBase writes is recognised (every select item `? AS `name“,
// names distinct); anything else is left alone (ok false) and runs as a one-off.
const (
	createMarker = "__pb_create__"
	randomLen    = 6
	ruleHead     = "WITH `"
	listHead     = "` as (SELECT "
	listEnd      = ") SELECT "
)

func createRuleText(query string) (text string, perm []int, ok bool) {
	if !strings.HasPrefix(query, ruleHead) {
		return "", nil, false
	}
	// The CTE's name: <collection>__pb_create__<6 random characters>.
	nameEnd := strings.Index(query[len(ruleHead):], listHead)
	if nameEnd < 0 {
		return "", nil, false
	}
	name := query[len(ruleHead) : len(ruleHead)+nameEnd]
	i := strings.LastIndex(name, createMarker)
	if i < 0 || len(name)-i-len(createMarker) != randomLen || !isIdent(name) {
		return "", nil, false
	}
	fixed := name[:len(name)-randomLen] + "cached"
	rest := query[len(ruleHead)+nameEnd+len(listHead):]
	end := strings.Index(rest, listEnd)
	if end < 0 {
		return "", nil, false
	}
	items := strings.Split(rest[:end], ",")
	cols := make([]string, len(items))
	for k, it := range items {
		col, found := strings.CutPrefix(it, "? AS `")
		col, closed := strings.CutSuffix(col, "`")
		if !found || !closed || col == "" || !isIdent(col) {
			return "", nil, false
		}
		cols[k] = col
	}
	perm = make([]int, len(cols))
	for k := range perm {
		perm[k] = k
	}
	slices.SortFunc(perm, func(a, b int) int { return strings.Compare(cols[a], cols[b]) })
	for k := 1; k < len(perm); k++ {
		if cols[perm[k]] == cols[perm[k-1]] {
			return "", nil, false
		}
	}
	tail := rest[end:]
	if strings.Contains(tail, createMarker) && !strings.Contains(tail, name) {
		return "", nil, false // another random name: leave it alone
	}
	var b strings.Builder
	b.Grow(len(query))
	b.WriteString(ruleHead)
	b.WriteString(fixed)
	b.WriteString(listHead)
	for k, p := range perm {
		if k > 0 {
			b.WriteByte(',')
		}
		b.WriteString("? AS `")
		b.WriteString(cols[p])
		b.WriteByte('`')
	}
	b.WriteString(strings.ReplaceAll(tail, name, fixed))
	text = b.String()
	if strings.Count(text, createMarker) != strings.Count(query, createMarker) {
		return "", nil, false
	}
	return text, perm, true
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// prepareCreateRule hands out the kept statement of a normalised create-rule check, preparing
// it on first use; a busy one (the same check running twice on the connection) is prepared
// anew and closed after use, as in PrepareContext.
func (c *conn) prepareCreateRule(ctx context.Context, text string, perm []int) (driver.Stmt, error) {
	c.mu.Lock()
	if e, ok := c.rules[text]; ok && !e.busy {
		e.busy, e.used = true, c.tick
		c.ruleHits++
		c.mu.Unlock()
		return &stmt{Stmt: e.st, c: c, e: e, perm: perm}, nil
	}
	_, inUse := c.rules[text]
	c.mu.Unlock()
	st, err := c.base.(driver.ConnPrepareContext).PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	if inUse {
		return &stmt{Stmt: st, perm: perm}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rules) >= RuleSize && !evictFrom(c.rules) {
		return &stmt{Stmt: st, perm: perm}, nil
	}
	e := &entry{st: st, busy: true, used: c.tick}
	c.rules[text] = e
	return &stmt{Stmt: st, c: c, e: e, perm: perm}, nil
}
