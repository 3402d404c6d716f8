package scoring_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
	"github.com/spf13/cobra"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// process is one Relata process on a data directory: its app and its scoring service.
type process struct {
	app  *core.BaseApp
	svc  *scoring.Service
	root *cobra.Command // with the "score" command
}

// twoProcesses opens two apps on the same data directory, as `relata serve` and
// `relata score train` (or two servers) do, with 60 closed deals to train on.
func twoProcesses(t *testing.T) (a, b process) {
	t.Helper()
	dir := t.TempDir()
	appA := schemastest.OpenApp(t, dir)
	regA := schemas.MustRegister(appA, nil, schemas.Config{})
	if err := regA.Sync(); err != nil {
		t.Fatal(err)
	}
	insertClosedDeals(t, appA, 60)
	appB := schemastest.OpenApp(t, dir)
	regB := schemas.MustRegister(appB, nil, schemas.Config{})
	if err := regB.Open(); err != nil {
		t.Fatal(err)
	}
	a = process{app: appA, root: &cobra.Command{Use: "relata"}}
	a.svc = scoring.MustRegister(appA, a.root, scoring.Config{Registry: regA, Schedule: "-"})
	b = process{app: appB, root: &cobra.Command{Use: "relata"}}
	b.svc = scoring.MustRegister(appB, b.root, scoring.Config{Registry: regB, Schedule: "-"})
	return a, b
}

func insertClosedDeals(t *testing.T, app core.App, n int) {
	t.Helper()
	sources := []string{"website", "referral", "event", "partner"}
	stamp := types.NowDateTime().String()
	var rows [][]any
	for i := range n {
		stage := "lost"
		if i%3 == 0 || i%4 == 1 {
			stage = "won"
		}
		closed := time.Now().UTC().AddDate(0, 0, -i-1).Format(types.DefaultDateLayout)
		rows = append(rows, []any{fmt.Sprintf("closed %d", i), stage, sources[i%4], 1000 + 10*i, closed, stamp, stamp})
	}
	cols := []string{"name", "stage", "source", "amount", "closed_at", "created", "updated"}
	if err := app.RunInTransaction(func(tx core.App) error { return schemas.InsertMany(tx, "deals", cols, rows) }); err != nil {
		t.Fatal(err)
	}
}

type trained struct {
	version int
	err     error
}

// trainHeld starts a training of deals by p that waits, once it has taken its lease, until
// the returned release is called; the training's result then arrives on done.
func trainHeld(t *testing.T, p process) (release func(), done <-chan trained) {
	t.Helper()
	started, release := p.svc.HoldFirstTraining()
	ch := make(chan trained, 1)
	go func() {
		_, v, err := p.svc.TrainAndSave(p.app, "deals")
		ch <- trained{v, err}
	}()
	select {
	case <-started:
	case r := <-ch: // refused: it never waits
		release()
		t.Fatalf("%s: the held training ended before it had begun: version %d, %v", t.Name(), r.version, r.err)
	}
	return release, ch
}

func models(t *testing.T, app core.App) int {
	t.Helper()
	n, err := app.CountRecords(scoring.ModelsCollection)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestTrainLeaseAcrossProcesses: while process A trains deals, process B (another app on the
// same data directory) is refused at once with ErrTrainingRunning, saying who holds the lease
// and until when; after A has ended, B trains (version 2).
func TestTrainLeaseAcrossProcesses(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	release, done := trainHeld(t, a)
	_, v, err := b.svc.TrainAndSave(b.app, "deals")
	release()
	if !errors.Is(err, scoring.ErrTrainingRunning) || v != 0 {
		t.Errorf("B while A trains: version %d, %v; want ErrTrainingRunning", v, err)
	} else if msg := err.Error(); !strings.Contains(msg, "deals:") || !strings.Contains(msg, "pid") || !strings.Contains(msg, "lease runs until") {
		t.Errorf("B's error %q: want the object, the holder and until when its lease runs", msg)
	}
	if r := <-done; r.err != nil || r.version != 1 {
		t.Fatalf("A: version %d, %v; want version 1", r.version, r.err)
	}
	if n := models(t, a.app); n != 1 {
		t.Errorf("%d models stored; want 1: B trained nothing", n)
	}
	if _, v, err := b.svc.TrainAndSave(b.app, "deals"); err != nil || v != 2 {
		t.Errorf("B after A ended: version %d, %v; want version 2", v, err)
	}
	var left int
	if err := a.app.DB().NewQuery("SELECT count(*) FROM _relata_training_leases").Row(&left); err != nil || left != 0 {
		t.Errorf("%d leases left after both trainings (%v); want 0", left, err)
	}
}

// TestTrainLeaseExpiredTakenOver: a lease whose holder stopped renewing it (A, stalled past
// its expiry, as a crashed process) is taken over by B, whose clock is past expires_at; A,
// when it goes on, finds its lease lost and stores nothing: B's model is the only one.
func TestTrainLeaseExpiredTakenOver(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	release, done := trainHeld(t, a)
	b.svc.SetClock(func() time.Time { return time.Now().Add(3 * time.Minute) }) // A's lease: 2 minutes
	_, v, err := b.svc.TrainAndSave(b.app, "deals")
	release()
	if err != nil || v != 1 {
		t.Errorf("B after A's lease expired: version %d, %v; want version 1", v, err)
	}
	if r := <-done; !errors.Is(r.err, scoring.ErrLeaseLost) || r.version != 0 {
		t.Errorf("A, its lease taken over: version %d, %v; want ErrLeaseLost", r.version, r.err)
	}
	if n := models(t, a.app); n != 1 {
		t.Errorf("%d models stored; want 1 (B's)", n)
	}
}

// TestTrainLeaseReleasedOnlyByHolder: A's lease expired and B took it over; when A ends, its
// release does not delete B's lease: a new training in A is refused while B trains.
func TestTrainLeaseReleasedOnlyByHolder(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	releaseA, doneA := trainHeld(t, a)
	b.svc.SetClock(func() time.Time { return time.Now().Add(3 * time.Minute) })
	releaseB, doneB := trainHeld(t, b) // took A's expired lease over
	releaseA()
	if r := <-doneA; !errors.Is(r.err, scoring.ErrLeaseLost) {
		t.Errorf("A, its lease taken over: version %d, %v; want ErrLeaseLost", r.version, r.err)
	}
	_, v, err := a.svc.TrainAndSave(a.app, "deals")
	releaseB()
	if !errors.Is(err, scoring.ErrTrainingRunning) || v != 0 {
		t.Errorf("A again while B trains: version %d, %v; want ErrTrainingRunning (A's release must not free B's lease)", v, err)
	}
	if r := <-doneB; r.err != nil || r.version != 1 {
		t.Errorf("B: version %d, %v; want version 1", r.version, r.err)
	}
}

// TestTrainAPIConflictAcrossProcesses: POST /train on the server of B is answered 409 while
// A (`relata score train`, say) trains the object, and trains nothing.
func TestTrainAPIConflictAcrossProcesses(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	_, tok := schemastest.NewUser(t, b.app, "admin@example.com", schemas.RoleAdmin, "")
	srv := schemastest.Serve(t, b.app)
	release, done := trainHeld(t, a)
	var busy struct{ Message string }
	code := schemastest.Call(t, srv, "POST", "/api/relata/score/deals/train", tok, nil, &busy)
	release()
	if code != http.StatusConflict || !strings.Contains(busy.Message, "A training of deals is already running") {
		t.Errorf("POST /train on B while A trains: %d %q; want 409 saying a training is running", code, busy.Message)
	}
	if r := <-done; r.err != nil || r.version != 1 {
		t.Fatalf("A: version %d, %v; want version 1", r.version, r.err)
	}
	if n := models(t, b.app); n != 1 {
		t.Errorf("%d models stored; want 1", n)
	}
}

// TestTrainCommandRefusedAcrossProcesses: `relata score train deals` while the server
// trains deals fails, saying which object is being trained and until when the lease runs.
func TestTrainCommandRefusedAcrossProcesses(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	release, done := trainHeld(t, a)
	out, err := run(t, b.root, "score", "train", "deals")
	release()
	if !errors.Is(err, scoring.ErrTrainingRunning) || !strings.Contains(err.Error(), "deals:") || !strings.Contains(err.Error(), "lease runs until") {
		t.Errorf("score train while the server trains: %v (%q); want an error naming deals and the lease's end", err, out)
	}
	if r := <-done; r.err != nil || r.version != 1 {
		t.Fatalf("A: version %d, %v; want version 1", r.version, r.err)
	}
}
