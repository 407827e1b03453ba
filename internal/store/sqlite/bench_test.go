package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// BenchmarkApplyBatch100 commits batches of 100 new alerts spread over 100
// alert names, as a busy Alertmanager sends them.
func BenchmarkApplyBatch100(b *testing.B) {
	s := open(&testing.T{})
	ctx := context.Background()
	opt := incident.Options{AutoResolve: true, Now: time.Now()}
	k := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		events := make([]incident.Event, 100)
		for j := range events {
			events[j] = incident.Event{Source: incident.SourceAlertmanager, Status: incident.AlertFiring, Key: fmt.Sprintf("%016x", k),
				Labels:   map[string]string{"alertname": fmt.Sprintf("Alert%d", k%100), "service": "svc", "instance": fmt.Sprint(k)},
				Severity: incident.SeverityCritical, Summary: "x"}
			k++
		}
		err := s.InTx(ctx, func(tx store.Tx) error {
			_, _, err := incident.Apply(ctx, tx, events, opt)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "alerts/s")
}
