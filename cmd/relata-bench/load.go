package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// result is one measured cell: a workload run by some clients for a bounded time and count.
type result struct {
	n, errs  int
	elapsed  time.Duration
	lats     []time.Duration // successful requests, sorted
	firstErr string
	cpu      time.Duration // CPU time the server used during the cell (0: not measured)
}

// cpuPerReq is the server's CPU time per successful request, 0 when not measured. On a
// shared machine it varies much less than requests/s: it does not count time spent waiting
// for a core.
func (r result) cpuPerReq() time.Duration {
	if r.n == 0 || r.cpu <= 0 {
		return 0
	}
	return r.cpu / time.Duration(r.n)
}

// rps is successful requests per second.
func (r result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.n) / r.elapsed.Seconds()
}

// pct returns the p-th percentile latency (nearest rank), 0 without samples.
func (r result) pct(p float64) time.Duration {
	if len(r.lats) == 0 {
		return 0
	}
	i := int(float64(len(r.lats))*p/100+0.5) - 1
	return r.lats[min(max(i, 0), len(r.lats)-1)]
}

// merge pools two measurements of the same cell.
func (r result) merge(o result) result {
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
	r.n += o.n
	r.errs += o.errs
	r.elapsed += o.elapsed
	r.cpu += o.cpu
	r.lats = append(r.lats, o.lats...)
	slices.Sort(r.lats)
	return r
}

// op is one request of a workload; i numbers the requests of a cell from 0.
type op func(ctx context.Context, i int) error

// measure runs fn from clients goroutines until dur has passed or maxN requests have
// started, whichever comes first, and collects the latencies of the successful ones. It stops
// by itself; ctx ends it early.
func measure(ctx context.Context, clients int, dur time.Duration, maxN int, fn op) result {
	start := time.Now()
	deadline := start.Add(dur)
	var (
		next     atomic.Int64
		errs     atomic.Int64
		errOnce  sync.Once
		firstErr string
		wg       sync.WaitGroup
		per      = make([][]time.Duration, clients)
	)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= maxN || time.Now().After(deadline) {
					return
				}
				t0 := time.Now()
				if err := fn(ctx, i); err != nil {
					errs.Add(1)
					errOnce.Do(func() { firstErr = err.Error() })
					continue
				}
				per[w] = append(per[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	r := result{elapsed: time.Since(start), errs: int(errs.Load()), firstErr: firstErr}
	for _, l := range per {
		r.lats = append(r.lats, l...)
	}
	slices.Sort(r.lats)
	r.n = len(r.lats)
	return r
}

// newHTTPClient keeps enough idle keep-alive connections for every client of both sides.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// statusError is an answer with an unexpected status.
type statusError struct {
	method, path string
	code         int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.code, e.body)
}

// call sends a request to s and returns the body of a 2xx answer.
func (b *bench) call(ctx context.Context, s *side, method, path, tok string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	res, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		snippet := string(data)
		if len(snippet) > 300 {
			snippet = snippet[:300] + "…"
		}
		return nil, &statusError{method: method, path: path, code: res.StatusCode, body: snippet}
	}
	return data, nil
}

// cpuPer is the server's CPU time per successful request, in milliseconds (0: not measured).
func (r result) cpuPer() float64 {
	if r.n == 0 || r.cpu == 0 {
		return 0
	}
	return float64(r.cpu) / float64(time.Millisecond) / float64(r.n)
}
