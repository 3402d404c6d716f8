package campaigns_test

import (
	"fmt"
	"io"
	"net"
	"net/mail"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/mailer"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/campaigns"
	"github.com/relata/relata/workflows/outbox"
)

// countingSink is a go-smtp server that counts what it accepts and keeps nothing, so the
// benchmark's heap is Relata's, not the sink's.
type countingSink struct{ n atomic.Int64 }

func (c *countingSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{c}, nil }

type sinkSession struct{ c *countingSink }

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.c.n.Add(1)
	return nil
}
func (s *sinkSession) Reset()        {}
func (s *sinkSession) Logout() error { return nil }

func startSink(b *testing.B) (*countingSink, int) {
	b.Helper()
	c := &countingSink{}
	srv := smtp.NewServer(c)
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l) //nolint:errcheck // closed below
	b.Cleanup(func() { srv.Close() })
	return c, l.Addr().(*net.TCPAddr).Port
}

// heapPeak samples the heap in use until stop is closed and returns the largest value.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var m runtime.MemStats
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// cpuTime is the process's CPU time so far (user + system, every goroutine: Relata's work
// and the in-process sink's). Per message it moves far less with the machine's load than the
// rate does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCampaign sends one campaign of b.N recipients end to end: the segment is
// evaluated as its owner, recipient rows written, every email rendered and queued with its
// row, then delivered by the outbox (its worker, 200 per connection) to a go-smtp sink on
// loopback. It reports messages per second from "send" to the last message received, and the
// peak heap in use.
//
//	go test ./workflows/campaigns -run '^$' -bench 'Campaign|BareMailer' -benchtime 100000x -count 3
func BenchmarkCampaign(b *testing.B) {
	sink, port := startSink(b)
	app := schemastest.OpenServedApp(b, b.TempDir()) // the databases as `relata serve` opens them
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	sender, err := outbox.Register(app, outbox.Config{Registry: reg, BatchSize: 200, Workers: 2, PollInterval: 50 * time.Millisecond,
		SMTP: outbox.SMTP{Host: "127.0.0.1", Port: port, TLS: outbox.TLSNone, Timeout: 10 * time.Second},
		From: "news@relata.test", Getenv: func(string) string { return "" }})
	if err != nil {
		b.Fatal(err)
	}
	segments.MustRegister(app, segments.Config{Interval: -1})
	svc, err := campaigns.Register(app, campaigns.Config{Registry: reg, Tick: 50 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	srv := schemastest.Serve(b, app)
	app.Settings().Meta.AppURL = srv.URL
	owner, _ := schemastest.NewUser(b, app, "owner@example.com", "manager", "")
	schemastest.MustCreate(b, app, outbox.TemplatesCollection, map[string]any{"name": "news", "category": "marketing", "object": "contacts",
		"subject": "News for {{.record.full_name}}", "html": `<p>Hello {{.record.full_name}}</p><p><a href="https://example.com/offer">Offer</a></p>`})
	// b.N contacts, written straight to the table (the benchmark is the campaign, not the inserts).
	err = app.RunInTransaction(func(tx core.App) error {
		now := time.Now().UTC().Format("2006-01-02 15:04:05.000Z")
		for i := 0; i < b.N; i++ {
			_, err := tx.DB().Insert("contacts", dbx.Params{"id": security.RandomString(15), "full_name": fmt.Sprintf("Contact %d", i),
				"email": fmt.Sprintf("c%07d@example.com", i), "owner": owner.Id, "created": now, "updated": now}).Execute()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	seg := schemastest.MustCreate(b, app, segments.Collection, map[string]any{"name": "All", "kind": segments.Dynamic, "filter": `email != ""`, "owner": owner.Id})
	c := schemastest.MustCreate(b, app, campaigns.Collection, map[string]any{"name": "Bench", "template": "news", "segment": seg.Id,
		"owner": owner.Id, "status": "draft", "track_clicks": true})
	runtime.GC()
	stop := make(chan struct{})
	peak := heapPeak(stop)
	b.ResetTimer()
	cpu0 := cpuTime()
	if err := svc.Send(c.Id); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	logged := false
	for sink.n.Load() < int64(b.N) {
		time.Sleep(20 * time.Millisecond)
		if !logged {
			var q int
			// By campaign and status (its index): a scan of every row each 20 ms would slow the
			// run it measures at 100,000 recipients.
			_ = app.ConcurrentDB().NewQuery("SELECT count(*) FROM campaign_recipients WHERE campaign = {:c} AND status = 'queued'").
				Bind(dbx.Params{"c": c.Id}).Row(&q)
			if q == b.N {
				logged = true
				b.Logf("all queued after %v; %d received", time.Since(start), sink.n.Load())
			}
		}
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(<-peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
	sender.Stop()
	svc.Stop()
}

// BenchmarkBareMailer is the baseline: PocketBase's own mailer (tools/mailer.SMTPClient, the
// one app.NewMailClient returns) sending b.N messages to the same kind of sink, one
// connection per message as it does, from 2 goroutines — no database, no template.
func BenchmarkBareMailer(b *testing.B) {
	sink, port := startSink(b)
	client := &mailer.SMTPClient{Host: "127.0.0.1", Port: port}
	runtime.GC()
	stop := make(chan struct{})
	peak := heapPeak(stop)
	b.ResetTimer()
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				err := client.Send(&mailer.Message{From: mail.Address{Address: "news@relata.test"},
					To:      []mail.Address{{Name: fmt.Sprintf("Contact %d", i), Address: fmt.Sprintf("c%07d@example.com", i)}},
					Subject: fmt.Sprintf("News for Contact %d", i), HTML: fmt.Sprintf(`<p>Hello Contact %d</p><p><a href="https://example.com/offer">Offer</a></p>`, i)})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for sink.n.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(<-peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
}
