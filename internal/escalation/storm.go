package escalation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/notify"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// stormState is what a channel's storm window holds, kept as a setting.
type stormState struct {
	Sent    int     `json:"sent"`
	Bundled []int64 `json:"bundled,omitempty"`
	More    int     `json:"more,omitempty"` // bundled beyond the listed IDs
}

const stormListed = 1000

func stormKey(channel string, window time.Time) string {
	return fmt.Sprintf("storm/%s/%d", channel, window.Unix())
}

// stormCheck counts an opening page for a channel in the current window.
// Past the threshold it bundles the incident into the window's summary,
// which one job sends when the window ends, and reports true.
func (e *Engine) stormCheck(ctx context.Context, inc *incident.Incident, channel string) (bool, error) {
	now := e.now()
	// The window is that of the opening, so a page that goes out late
	// still counts where its incident opened.
	window := inc.StartedAt.UTC().Truncate(e.cfg.Storm.Window)
	bundled := false
	err := e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		key := stormKey(channel, window)
		var st stormState
		if v, err := tx.GetSetting(ctx, key); err != nil {
			return err
		} else if v != "" {
			if err := json.Unmarshal([]byte(v), &st); err != nil {
				return err
			}
		}
		bundled = st.Sent >= e.cfg.Storm.Threshold
		if !bundled {
			st.Sent++
		} else {
			if len(st.Bundled) < stormListed {
				st.Bundled = append(st.Bundled, inc.ID)
			} else {
				st.More++
			}
			payload, _ := json.Marshal(map[string]any{"channel": channel, "window": window.Unix()})
			runAt := window.Add(e.cfg.Storm.Window)
			if runAt.Before(now) {
				runAt = now
			}
			if _, err := e.cfg.Queue.Insert(ctx, tx, job.NewJob{Kind: KindStorm, Key: "storm/" + channel + "/" + fmt.Sprint(window.Unix()),
				Payload: payload, RunAt: runAt, MaxAttempts: 8}); err != nil {
				return err
			}
			if err := tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: inc.ID, At: now, Actor: incident.ActorSystem,
				Kind: "notification.bundled", Message: fmt.Sprintf("Alert storm: %s already had %d pages this minute; this incident goes into one summary at %s",
					channel, st.Sent, window.Add(e.cfg.Storm.Window).Format(time.TimeOnly)),
				Data: mustJSON(map[string]any{"channel": channel, "event": notify.EventOpened})}}); err != nil {
				return err
			}
		}
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return tx.SetSetting(ctx, key, string(b))
	})
	return bundled, err
}

// stormSummary sends a window's bundled openings as one message.
func (e *Engine) stormSummary(ctx context.Context, j *job.Job) error {
	var p struct {
		Channel string `json:"channel"`
		Window  int64  `json:"window"`
	}
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return job.Permanent(err)
	}
	v, err := e.cfg.Store.ReadSetting(ctx, stormKey(p.Channel, time.Unix(p.Window, 0)))
	if err != nil || v == "" {
		return err
	}
	var st stormState
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		return job.Permanent(err)
	}
	total := len(st.Bundled) + st.More
	if total == 0 {
		return nil
	}
	r, err := e.route(ctx, p.Channel)
	if err != nil {
		return job.Permanent(fmt.Errorf("%s: %w", p.Channel, err))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "+%d more incidents opened in this alert storm:", total)
	for i, id := range st.Bundled {
		if i == 20 {
			fmt.Fprintf(&b, "\n… and %d more", total-20)
			break
		}
		title := fmt.Sprintf("incident %d", id)
		if inc, err := e.cfg.Store.GetIncident(ctx, id); err == nil {
			title = fmt.Sprintf("#%d %s (%s, %s)", id, inc.Title, inc.Severity, inc.Status)
		}
		fmt.Fprintf(&b, "\n- %s", title)
	}
	m := notify.Message{Event: notify.EventOpened, IdempotencyKey: j.Key, Title: fmt.Sprintf("Alert storm: +%d more incidents", total), Text: b.String(),
		Incident: notify.Incident{Title: fmt.Sprintf("%d incidents", total), Severity: "critical", Status: "triggered", URL: strings.TrimSuffix(e.cfg.BaseURL, "/")}}
	m.To = r.to
	if _, err := r.notifier.Notify(ctx, m); err != nil {
		return jobOutcome(err)
	}
	if e.cfg.Observe != nil {
		e.cfg.Observe(p.Channel, "sent")
	}
	// What was summarised leaves the window's list; a page bundled after
	// this summary gets a summary of its own.
	key := stormKey(p.Channel, time.Unix(p.Window, 0))
	return e.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		v, err := tx.GetSetting(ctx, key)
		if err != nil || v == "" {
			return err
		}
		var cur stormState
		if err := json.Unmarshal([]byte(v), &cur); err != nil {
			return err
		}
		cur.Bundled = cur.Bundled[min(len(st.Bundled), len(cur.Bundled)):]
		cur.More = max(cur.More-st.More, 0)
		b, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		return tx.SetSetting(ctx, key, string(b))
	})
}
