package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A flood of large PagerDuty events with a wrong routing key costs the
// server little memory: bodies over PagerDuty's 512 KB are refused while
// they are read, and the key is checked before a body is decoded. Before
// the fix, 100 such posts of 5 MiB took the server's RSS to 1.57 GB.
func TestPagerDutyFloodWithAWrongKeyStaysSmall(t *testing.T) {
	bin := firebreak(t)
	fb := startFirebreak(t, bin, filepath.Join(t.TempDir(), "data"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const (
		concurrent = 100
		limit      = 300 << 20 // peak RSS, bytes
	)
	// Just under the 5 MiB intake limit, so that a server without the
	// PagerDuty limit reads and decodes each one. The wrong key comes last:
	// finding it means scanning the whole body.
	event := func(size int) []byte {
		head := `{"event_action":"trigger","payload":{"summary":"flood","source":"x","severity":"info","custom_details":{"pad":"`
		tail := `"}},"routing_key":"fbi_wrongwrongwrongwrongwrongwrongwrongwrongwrongwrongwr"}`
		return []byte(head + strings.Repeat("a", size-len(head)-len(tail)) + tail)
	}
	huge, large := event(5<<20-1024), event(500<<10)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxConnsPerHost: concurrent, MaxIdleConnsPerHost: concurrent}}
	defer client.CloseIdleConnections()

	// flood sends n posts of body at once: half with a Content-Length,
	// half chunked (the server learns the size only by reading). It
	// returns how many answered each status; -1 counts connections the
	// server closed before the client finished sending, which is how a
	// refused 5 MiB upload may end.
	flood := func(body []byte) map[int]int {
		var mu sync.Mutex
		counts := map[int]int{}
		var wg sync.WaitGroup
		for i := range concurrent {
			wg.Go(func() {
				var r io.Reader = bytes.NewReader(body)
				if i%2 == 1 {
					r = io.MultiReader(r) // no length: sent chunked
				}
				status := -1
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, fb.URL+"/v2/enqueue", r)
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return counts
	}

	counts := flood(huge)
	t.Logf("%d posts of %d bytes: %v", concurrent, len(huge), counts)
	if counts[413] == 0 || counts[413]+counts[-1] != concurrent {
		t.Errorf("posts of 5 MiB: answers %v, want 413 (or a closed connection) for each", counts)
	}
	counts = flood(large)
	t.Logf("%d posts of %d bytes: %v", concurrent, len(large), counts)
	if counts[401] != concurrent {
		t.Errorf("posts of 500 KB with a wrong key: answers %v, want 401 for each", counts)
	}

	peak, err := fb.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("peak RSS %d MB", peak>>20)
	if peak > limit {
		t.Errorf("peak RSS %d MB, want under %d MB", peak>>20, limit>>20)
	}
	// And the server still takes alerts.
	in := createIntegration(t, fb, "pagerduty", "pd")
	ok := fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","payload":{"summary":"after","source":"x","severity":"info"}}`, in.Key)
	resp, err := client.Post(fb.URL+"/v2/enqueue", "application/json", strings.NewReader(ok))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a good event after the flood: %s", resp.Status)
	}
}
