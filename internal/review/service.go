package review

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/firebreak-dev/firebreak/internal/incident"
	"github.com/firebreak-dev/firebreak/internal/job"
	"github.com/firebreak-dev/firebreak/internal/phase"
	"github.com/firebreak-dev/firebreak/internal/playbook"
	"github.com/firebreak-dev/firebreak/internal/store"
)

// KindGenerate is the job that writes a review draft.
const KindGenerate = "review.generate"

// Statuses of a review version.
const (
	StatusDraft = "draft"
	StatusFinal = "final"
)

// MaxMarkdown bounds what a person may save as a review.
const MaxMarkdown = 1 << 20

// Config sets up a Service.
type Config struct {
	Store     store.Store
	Queue     *job.Queue[store.Tx]
	Playbooks *playbook.Library
	Phases    *phase.Engine
	Redact    func(string) string
	Now       func() time.Time
	Logger    *slog.Logger
}

// Service keeps incidents' reviews: drafts Firebreak writes, and the
// versions people save.
type Service struct {
	cfg Config
}

// New returns a Service and registers its job.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg}
	cfg.Queue.Handle(KindGenerate, s.generate)
	return s
}

// Schedule asks, in tx, for a new draft of an incident's review: after
// commit, a job writes it from the record as it then stands.
func (s *Service) Schedule(ctx context.Context, tx store.Tx, incidentID int64, why string) error {
	payload, _ := json.Marshal(map[string]any{"incident_id": incidentID, "why": why})
	_, err := s.cfg.Queue.Insert(ctx, tx, job.NewJob{Kind: KindGenerate, Key: fmt.Sprintf("review/%d/generate", incidentID),
		Payload: payload, MaxAttempts: 5})
	return err
}

// Record gathers everything the review of an incident is written from.
func (s *Service) Record(ctx context.Context, incidentID int64) (*Record, error) {
	st := s.cfg.Store
	inc, err := st.GetIncident(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	r := &Record{Incident: *inc, GeneratedAt: s.cfg.Now().UTC(), Redact: s.cfg.Redact}
	for after := int64(0); ; {
		page, err := st.ListAlerts(ctx, store.ListAlertsParams{IncidentID: incidentID, AfterID: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		r.Alerts = append(r.Alerts, page...)
		if len(page) < 500 || len(r.Alerts) >= 5000 {
			break
		}
		after = page[len(page)-1].ID
	}
	for after := int64(0); ; {
		page, err := st.ListTimeline(ctx, store.ListTimelineParams{IncidentID: incidentID, AfterID: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		r.Timeline = append(r.Timeline, page...)
		if len(page) < 500 || len(r.Timeline) >= 20000 {
			break
		}
		after = page[len(page)-1].ID
	}
	if r.Runs, err = st.RunsOfIncident(ctx, incidentID); err != nil {
		return nil, err
	}
	if r.Steps, err = st.StepsOfIncident(ctx, incidentID); err != nil {
		return nil, err
	}
	if r.Communications, err = st.ListCommunications(ctx, incidentID); err != nil {
		return nil, err
	}
	if s.cfg.Phases != nil {
		if r.Phases, err = s.cfg.Phases.Status(ctx, inc); err != nil {
			return nil, err
		}
		for _, p := range r.Phases.Phases {
			if p.Role == phase.Review {
				r.Checklist = p.Checklist
			}
		}
	}
	if s.cfg.Playbooks != nil && len(r.Runs) > 0 {
		if pb := s.cfg.Playbooks.Playbook(r.Runs[0].PlaybookID); pb != nil {
			r.Playbook, r.Procedure = pb, pb.Procedure(r.Runs[0].ProcedureKey)
		}
	}
	return r, nil
}

// generate is the job that writes a draft, unless a person has saved a
// version since Firebreak's last: their words are never overwritten.
func (s *Service) generate(ctx context.Context, j *job.Job) error {
	var p struct {
		IncidentID int64  `json:"incident_id"`
		Why        string `json:"why"`
	}
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return job.Permanent(err)
	}
	versions, err := s.cfg.Store.ListReviews(ctx, p.IncidentID)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	if n := len(versions); n > 0 && versions[n-1].CreatedBy != incident.ActorSystem {
		last := versions[n-1]
		return s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
			return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: p.IncidentID, At: now, Actor: incident.ActorSystem,
				Kind: "review.kept", Message: fmt.Sprintf("Review not rewritten (%s): version %d is %s's; regenerate it by hand to start over", p.Why, last.Version, last.CreatedBy)}})
		})
	}
	rec, err := s.Record(ctx, p.IncidentID)
	if err != nil {
		return err
	}
	md := Markdown(rec)
	return s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		r := &store.Review{IncidentID: p.IncidentID, Status: StatusDraft, Markdown: md, CreatedBy: incident.ActorSystem, CreatedAt: now}
		if err := tx.AddReview(ctx, r); err != nil {
			return err
		}
		return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: p.IncidentID, At: now, Actor: incident.ActorSystem,
			Kind: "review.generated", Message: fmt.Sprintf("Post-incident review draft written (version %d): %s", r.Version, p.Why),
			Data: mustJSON(map[string]any{"version": r.Version})}})
	})
}

// Versions returns every version of an incident's review, oldest first.
func (s *Service) Versions(ctx context.Context, incidentID int64) ([]store.Review, error) {
	if _, err := s.cfg.Store.GetIncident(ctx, incidentID); err != nil {
		return nil, err
	}
	return s.cfg.Store.ListReviews(ctx, incidentID)
}

// Preview writes the review of an incident as it would read now, without
// saving it: for an incident that has no draft yet.
func (s *Service) Preview(ctx context.Context, incidentID int64) (*store.Review, error) {
	rec, err := s.Record(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	return &store.Review{IncidentID: incidentID, Status: StatusDraft, Markdown: Markdown(rec), CreatedBy: incident.ActorSystem, CreatedAt: rec.GeneratedAt}, nil
}

// Save stores a person's version of the review: draft or final.
func (s *Service) Save(ctx context.Context, incidentID int64, markdown, status, actor string) (*store.Review, error) {
	switch status {
	case "":
		status = StatusDraft
	case StatusDraft, StatusFinal:
	default:
		return nil, incident.Errorf(incident.EINVALID, "status: %q is not draft or final", status)
	}
	switch {
	case strings.TrimSpace(markdown) == "":
		return nil, incident.Errorf(incident.EINVALID, "markdown: is empty; send the whole review")
	case len(markdown) > MaxMarkdown:
		return nil, incident.Errorf(incident.ETOOLARGE, "markdown: %d bytes is more than the limit of %d", len(markdown), MaxMarkdown)
	case !utf8.ValidString(markdown):
		return nil, incident.Errorf(incident.EINVALID, "markdown: must be valid UTF-8")
	}
	now := s.cfg.Now().UTC()
	r := &store.Review{IncidentID: incidentID, Status: status, Markdown: markdown, CreatedBy: actor, CreatedAt: now}
	err := s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		incs, err := tx.IncidentsByID(ctx, []int64{incidentID})
		if err != nil {
			return err
		}
		if incs[incidentID] == nil {
			return incident.Errorf(incident.ENOTFOUND, "incident %d not found", incidentID)
		}
		if err := tx.AddReview(ctx, r); err != nil {
			return err
		}
		msg := fmt.Sprintf("Review version %d saved by %s", r.Version, actor)
		if status == StatusFinal {
			msg = fmt.Sprintf("Review version %d marked final by %s", r.Version, actor)
		}
		return tx.AppendTimeline(ctx, []*incident.TimelineEntry{{IncidentID: incidentID, At: now, Actor: actor, Kind: "review.saved",
			Message: msg, Data: mustJSON(map[string]any{"version": r.Version, "status": status})}})
	})
	return r, err
}

var md = goldmark.New(goldmark.WithExtensions(extension.Table, extension.TaskList, extension.Strikethrough))

var page = template.Must(template.New("review").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#1b1f23}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;vertical-align:top;text-align:left}
pre{background:#f6f8fa;padding:.75rem;overflow:auto}code{font-size:90%}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}td,th{border-color:#30363d}pre{background:#161b22}}
</style></head><body>
{{.Body}}
</body></html>
`))

// HTML renders a review's Markdown as a page. Raw HTML in the Markdown is
// dropped and dangerous links are not rendered (goldmark without its
// unsafe option), so alert text cannot script the page.
func HTML(markdown, title string) (string, error) {
	body, err := Body(markdown)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	err = page.Execute(&out, struct {
		Title string
		Body  template.HTML
	}{title, template.HTML(body)}) // goldmark's own output, safe mode
	return out.String(), err
}

// Body renders Markdown to an HTML fragment the same way, for a page of
// the caller's.
func Body(markdown string) (string, error) {
	var body bytes.Buffer
	if err := md.Convert([]byte(markdown), &body); err != nil {
		return "", fmt.Errorf("render review: %w", err)
	}
	return body.String(), nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("review: marshal timeline data: %v", err))
	}
	return b
}
