package dbx

import "sync"

// Relata's patch (see PATCH.md): processed SQL texts kept for reuse.

// sqlCacheMax bounds how many texts the cache holds; sqlCacheMaxLen how long a text it keeps.
// Texts that differ at every call (a multi-row insert of a varying number of rows, an IN list
// written out) would otherwise fill it: when it is full it is emptied and fills again with
// the texts in use.
const (
	sqlCacheMax    = 4096
	sqlCacheMaxLen = 16 << 10
)

// sqlKey is what processSQL's result depends on: the driver (which picks the Builder through
// BuilderFuncMap, so the quoting and the placeholder style) and the text.
type sqlKey struct {
	driver string
	sql    string
}

type processedSQL struct {
	sql          string
	placeholders []string // shared by every query made from the text: only read
}

type processedCache struct {
	mu sync.RWMutex
	m  map[sqlKey]processedSQL
}

var sqlCache = &processedCache{m: map[sqlKey]processedSQL{}}

func (c *processedCache) get(k sqlKey) (processedSQL, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	return e, ok
}

func (c *processedCache) put(k sqlKey, e processedSQL) {
	if len(k.sql) > sqlCacheMaxLen {
		return
	}
	c.mu.Lock()
	if len(c.m) >= sqlCacheMax {
		c.m = make(map[sqlKey]processedSQL, sqlCacheMax)
	}
	c.m[k] = e
	c.mu.Unlock()
}
