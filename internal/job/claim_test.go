package job_test

import (
	"context"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// A claim hook runs in the claim's transaction: it may take what the job is
// about and hand it to the handler, or say there is nothing to do, which
// finishes the job there without its handler. A handler that recorded its
// job's outcome itself returns ErrRecorded, and the queue leaves it be.
func TestClaimHookAndRecordedOutcome(t *testing.T) {
	s := openSQLite(t)
	c := &clock{t: t0}
	q := job.New(job.Config[store.Tx]{InTx: s.InTx, Now: c.Now, Instance: "test"})
	var ran []string
	q.HandleClaim("probe", func(ctx context.Context, tx store.Tx, j *job.Job) (bool, error) {
		if string(j.Payload) == `"skip"` {
			return false, nil
		}
		// The hook holds the store's own transaction: it could claim a step.
		v, err := tx.GetSetting(ctx, "nothing")
		j.Value = "claimed:" + v + string(j.Payload)
		return true, err
	}, func(ctx context.Context, j *job.Job) error {
		ran = append(ran, j.Value.(string))
		if string(j.Payload) == `"self"` {
			err := s.InTx(ctx, func(tx store.Tx) error {
				_, err := tx.FinishJob(ctx, job.FinishParams{Claim: j.Claim(), State: job.StateFailed, Error: "recorded by the handler", Now: c.Now()})
				return err
			})
			if err != nil {
				return err
			}
			return job.ErrRecorded
		}
		return nil
	})
	var ins []job.Inserted
	err := s.InTx(context.Background(), func(tx store.Tx) error {
		var err error
		ins, err = q.Insert(context.Background(), tx,
			job.NewJob{Kind: "probe", Payload: []byte(`"skip"`)},
			job.NewJob{Kind: "probe", Payload: []byte(`"run"`)},
			job.NewJob{Kind: "probe", Payload: []byte(`"self"`)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := q.RunDue(context.Background()); err != nil || n != 2 {
		t.Fatalf("RunDue ran %d handlers (%v); want 2, the skipped job has none", n, err)
	}
	if len(ran) != 2 || ran[0] != `claimed:"run"` || ran[1] != `claimed:"self"` {
		t.Fatalf("handlers saw %v", ran)
	}
	want := []job.State{job.StateSucceeded, job.StateSucceeded, job.StateFailed}
	for i, in := range ins {
		var j *job.Job
		err := s.InTx(context.Background(), func(tx store.Tx) error {
			var err error
			j, err = tx.GetJob(context.Background(), in.ID)
			return err
		})
		if err != nil || j.State != want[i] {
			t.Errorf("job %d: %+v, %v; want %s", i, j, err, want[i])
		}
	}
}
