package sandbox

import (
	"context"
	"time"
)

// Store is what a script may do beyond computing: the caller decides what each call may reach.
//
// An error a Store returns becomes an exception the script may catch; if it does not, [Sandbox.Run]
// returns a [*ScriptError] that unwraps to it. Implementations must return promptly when ctx is done:
// its deadline is the script's [Timeout].
type Store interface {
	// Find returns up to q.Limit records of q.Object matching a PocketBase filter expression
	// with {:name} params, sorted by q.Sort, after skipping q.Offset of them.
	Find(ctx context.Context, q Query) ([]map[string]any, error)
	// Create creates a record of object and returns it (with its "id").
	Create(ctx context.Context, object string, values map[string]any) (map[string]any, error)
	// Update changes fields of the record id of object and returns it.
	Update(ctx context.Context, object, id string, values map[string]any) (map[string]any, error)
}

// Query is what a script's find asks for.
type Query struct {
	Object, Filter string
	Params         map[string]any
	// Limit is 1 to 200 (default 50); Offset 0 to [MaxFindOffset].
	Limit, Offset int
	// Sort is a PocketBase sort ("-created,id"); "" is the Store's default.
	Sort string
}

// MaxFindOffset is the largest offset find accepts: page further with a filter on the sort key.
const MaxFindOffset = 100000

// Defaults of the options.
const (
	defaultTimeout         = time.Second
	defaultMaxAllocBytes   = 16 << 20
	defaultMaxCalls        = 100
	defaultMaxStringLength = 1 << 20
)

// Option changes one limit of a [Sandbox]. A zero or negative value keeps the default.
type Option func(*config)

type config struct {
	timeout         time.Duration
	maxAlloc        int64
	maxCalls        int
	maxStringLength int
}

// Timeout bounds one script run; on expiry the VM is interrupted and Run returns an error
// matching [ErrTimeout]. Default: 1s.
func Timeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// MaxAllocBytes bounds the memory one run may ask for through the built-ins the sandbox
// accounts for (see the package documentation, "Limits"); Run then returns an error matching
// [ErrMemory]. The count is cumulative: memory freed during the run is not given back.
// Default: 16 MiB.
func MaxAllocBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxAlloc = n
		}
	}
}

// MaxCalls bounds how many times one run may call find and create together; the call over the
// limit stops the script with an error matching [ErrCallLimit]. Default: 100.
func MaxCalls(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxCalls = n
		}
	}
}

// MaxStringLength bounds the length, in UTF-16 code units, of any string a script builds;
// building a longer one stops the script with an error matching [ErrMemory]. Default: 1 Mi (1,048,576).
func MaxStringLength(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxStringLength = n
		}
	}
}

// Sandbox runs scripts under limits. It is safe for concurrent use; each run gets a fresh
// JavaScript runtime, so nothing a script does is visible to the next one.
type Sandbox struct {
	cfg   config
	cache *cache
}

// New returns a Sandbox with the given limits.
func New(opts ...Option) *Sandbox {
	cfg := config{
		timeout:         defaultTimeout,
		maxAlloc:        defaultMaxAllocBytes,
		maxCalls:        defaultMaxCalls,
		maxStringLength: defaultMaxStringLength,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	return &Sandbox{cfg: cfg, cache: newCache()}
}

// Compile checks src without running it. A script that does not compile, or uses a construct
// the sandbox refuses, is reported as a [*SyntaxError]. The compiled program is cached for Run.
func (s *Sandbox) Compile(src string) error {
	_, err := s.cache.program(src)
	return err
}

// Input is what one run of a script sees.
type Input struct {
	Record map[string]any // the triggering record's values: the frozen object record
	Old    map[string]any // the values before the change: old; nil makes old null
	Store  Store          // what find, create and update call; nil makes them throw
	Now    time.Time      // the string now and the clock of Date; zero means time.Now()
	// Timeout, when positive, replaces the sandbox's [Timeout] for this run (a script that
	// asks for more time); the caller bounds it.
	Timeout time.Duration
}

// Result is what a run produced. Values are plain Go values: string, int64 (integral numbers of
// magnitude up to 2^53), float64, bool, nil, []any and map[string]any.
type Result struct {
	Value any            // the script's return value, or the value of its last expression statement
	Set   map[string]any // the field changes recorded with set(), to apply after the run; nil if none
	Logs  []string       // the lines written with log()
	Calls int            // how many times the script called find and create
}

// Run compiles src (or takes it from the cache) and runs it with in.
//
// The error is a [*SyntaxError], a [*ScriptError], or matches [ErrTimeout], [ErrMemory],
// [ErrCallLimit] or the error of a done ctx (context.Canceled, context.DeadlineExceeded).
// Run returns a non-nil Result even then: Logs and Calls tell what happened before the failure,
// Value and Set are nil and must not be applied.
func (s *Sandbox) Run(ctx context.Context, src string, in Input) (*Result, error) {
	res := &Result{}
	prg, err := s.cache.program(src)
	if err != nil {
		return res, err
	}
	if err := context.Cause(ctx); err != nil {
		return res, &limitError{err: err, detail: "the script did not start"}
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	err = newRun(&s.cfg, src, in, res).execute(ctx, prg)
	if err != nil {
		res.Value, res.Set = nil, nil
	}
	return res, err
}
