package outbox_test

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// BenchmarkSend1000 delivers 1,000 queued emails (text and HTML parts) to the in-process SMTP
// server over STARTTLS with AUTH PLAIN, 250 per connection, recording every outcome in the
// database, and reports messages per second.
//
//	go test ./workflows/outbox -run '^$' -bench Send1000 -benchtime 3x
func BenchmarkSend1000(b *testing.B) {
	const n = 1000
	cfg := outbox.Config{BatchSize: 250}
	cfg.SMTP.Username, cfg.SMTP.Password = "relata", "s3cret"
	e := newSender(b, outboxtest.Options{Username: "relata", Password: "s3cret"}, cfg)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		err := e.app.RunInTransaction(func(tx core.App) error {
			for j := 0; j < n; j++ {
				if _, err := outbox.Enqueue(tx, outbox.Message{To: []string{"Ada Lovelace <ada@example.com>"},
					Subject: "Your weekly pipeline", HTML: "<h1>Pipeline</h1><p>3 deals moved to <b>proposal</b>.</p>"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		conns := e.smtp.Connections()
		b.StartTimer()
		if got := e.drain(b); got != n {
			b.Fatalf("sent %d; want %d", got, n)
		}
		b.StopTimer()
		if c := e.smtp.Connections() - conns; c != n/250 {
			b.Fatalf("%d connections for %d emails; want %d", c, n, n/250)
		}
		b.StartTimer()
	}
	b.StopTimer()
	if got := len(e.smtp.Messages()); got != n*b.N {
		b.Fatalf("server received %d; want %d", got, n*b.N)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
}
