package playbook

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

const paymentsPath = "../../examples/payments-api/playbook.md"

func parsePayments(t *testing.T) *Playbook {
	t.Helper()
	src, err := os.ReadFile(paymentsPath)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Parse(paymentsPath, src)
	if err != nil {
		t.Fatalf("payments playbook: %v", err)
	}
	return pb
}

// TestPaymentsExplicitForms checks every annotation form the second
// example uses: front matter, procedure comments, fence attributes in both
// notations, and {{name}} parameters.
func TestPaymentsExplicitForms(t *testing.T) {
	t.Parallel()
	pb := parsePayments(t)
	tru := true
	wantMeta := FrontMatter{
		ID: "payments-api", Service: "payments-api",
		Targets:  map[Executor]string{ExecSQL: "payments-db", ExecKube: "prod-eu"},
		Defaults: Defaults{Timeout: Duration(15 * time.Second), Auto: &tru},
		GroupBy:  []string{"alertname", "service", "namespace"},
		Labels:   []string{"service", "namespace", "pod", "deployment", "merchant_id"},
	}
	if !reflect.DeepEqual(pb.Meta, wantMeta) {
		t.Errorf("meta = %+v", pb.Meta)
	}
	if pb.ID != "payments-api" || len(pb.Procedures) != 4 || len(pb.Phases) != 4 || len(pb.Escalation) != 3 || len(pb.Templates) != 1 {
		t.Fatalf("shape: id %s, %d procedures %d phases %d levels %d templates", pb.ID, len(pb.Procedures), len(pb.Phases), len(pb.Escalation), len(pb.Templates))
	}

	auth := pb.Procedure("payment-authorization-failures")
	if !reflect.DeepEqual(auth.AlertNames, []string{"PaymentAuthFailures", "CardAuthFailureRate"}) ||
		len(auth.Matchers) != 1 || auth.Matchers[0].String() != "service=payments-api" ||
		!auth.TwoPerson || !auth.Auto || auth.Severity != "critical" {
		t.Errorf("auth annotation = %+v", auth)
	}
	declines := auth.Task("immediate-actions/declines-by-reason").Step
	if declines.Attrs.Name != "declines-by-reason" || declines.Timeout.D() != 10*time.Second || declines.Target != "payments-db" || !declines.Auto || declines.Risk != RiskRead {
		t.Errorf("declines step = %+v", declines)
	}
	pods := auth.Task("immediate-actions/api-pods").Step
	if pods.Executor != ExecKube || pods.Target != "prod-eu" || pods.Timeout.D() != 15*time.Second || pods.Commands[1].Kube.Grep != "acquirer timeout" {
		t.Errorf("api-pods step = %+v", pods)
	}
	failover := auth.Task("immediate-actions/failover-merchant").Step
	if failover.Risk != RiskWrite || failover.Auto || failover.Params[0].Name != "merchant_id" || failover.Params[0].Form != FormBraces {
		t.Errorf("failover step = %+v", failover)
	}
	r, err := failover.Bind(map[string]string{"merchant_id": "m_42"})
	if err != nil || r.SQL != "UPDATE merchant_routing SET acquirer = 'secondary'\nWHERE merchant_id = $1;" || r.Args[0] != "m_42" {
		t.Errorf("failover bind = %+v, %v", r, err)
	}

	settle := pb.Procedure("settlement-batch-delayed")
	if settle.Auto || settle.Matchers[0].Op != "=~" || settle.Severity != "warning" {
		t.Errorf("settlement = %+v", settle)
	}
	running := settle.Task("immediate-actions/running-batch").Step
	if running.Target != "payments-replica" || running.Auto {
		t.Errorf("running-batch: target %q auto %v (procedure auto=false)", running.Target, running.Auto)
	}
	restart := settle.Task("immediate-actions/restart-worker").Step
	if restart.Attrs.Timeout.D() != 2*time.Minute || restart.Executor != ExecKube || restart.Risk != RiskWrite {
		t.Errorf("restart-worker (key=value attributes) = %+v", restart)
	}
	cancel := settle.Task("investigation/2").Step
	if cancel.Attrs.Auto == nil || *cancel.Attrs.Auto || cancel.Params[0].Sources[2].Step != "investigation/1" {
		t.Errorf("cancel = %+v", cancel)
	}

	crash := pb.Procedure("payments-pod-crash-looping")
	desc := crash.Task("immediate-actions/1").Step
	if desc.Executor != ExecKube || desc.Params[0].Name != "pod" || desc.Params[0].Type != TypeK8sName {
		t.Errorf("describe = %+v", desc)
	}
	scale := crash.Task("immediate-actions/2").Step
	if scale.Params[0].Type != TypeInt || scale.Commands[0].Kube.Flags["replicas"] != "{{replicas}}" {
		t.Errorf("scale = %+v", scale)
	}
	r, err = scale.Bind(map[string]string{"replicas": "6"})
	if err != nil || r.Kube[0].Flags["replicas"] != "6" {
		t.Errorf("scale bind %+v %v", r, err)
	}
	if _, err := scale.Bind(map[string]string{"replicas": "lots"}); err == nil {
		t.Error("non-integer replicas accepted")
	}

	hook := pb.Procedure("webhook-delivery-backlog")
	if hook.Explicit() || hook.Condition != ">5000" {
		t.Errorf("webhook = %+v", hook)
	}
	curl := hook.Task("immediate-actions/2").Step
	r, _ = curl.Bind(map[string]string{"webhook_url": "https://x.example/hook?a=1&b=$(id)"})
	if r.Script != `curl -sS --max-time 5 -o /dev/null -w '%{http_code}\n' "$FB_PARAM_WEBHOOK_URL"` || r.Env["FB_PARAM_WEBHOOK_URL"] != "https://x.example/hook?a=1&b=$(id)" {
		t.Errorf("curl bind %q %v", r.Script, r.Env)
	}
}

func TestPaymentsMatching(t *testing.T) {
	t.Parallel()
	lib, err := NewLibrary(nil, filepath.Dir(paymentsPath), "../../examples/telegram-platform")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lib.Playbooks()); n != 2 {
		t.Fatalf("%d playbooks", n)
	}
	for _, d := range lib.Lint() {
		if d.Severity == SeverityError {
			t.Errorf("library lint: %s", d)
		}
	}
	tests := []struct {
		labels   map[string]string
		playbook string
		proc     string
		explicit bool
	}{
		{map[string]string{"alertname": "CardAuthFailureRate", "service": "payments-api"}, "payments-api", "payment-authorization-failures", true},
		{map[string]string{"alertname": "PaymentAuthFailures", "service": "checkout"}, "", "", false},
		{map[string]string{"alertname": "SettlementBatchDelayed", "env": "staging"}, "payments-api", "settlement-batch-delayed", true},
		{map[string]string{"alertname": "SettlementBatchDelayed", "env": "dev"}, "", "", false},
		{map[string]string{"alertname": "KubePodCrashLooping", "namespace": "payments", "pod": "api-1"}, "payments-api", "payments-pod-crash-looping", true},
		{map[string]string{"alertname": "KubePodCrashLooping", "namespace": "telegram"}, "", "", false},
		{map[string]string{"alertname": "WebhookDeliveryBacklog"}, "payments-api", "webhook-delivery-backlog", false},
		{map[string]string{"alertname": "HighQueueDepth"}, "telegram-platform", "high-queue-depth", false},
	}
	for _, tt := range tests {
		m, ok := lib.Match(tt.labels)
		if !ok {
			if tt.proc != "" {
				t.Errorf("%v: no match", tt.labels)
			}
			continue
		}
		if m.Playbook.ID != tt.playbook || m.Procedure.Key != tt.proc || m.Explicit != tt.explicit {
			t.Errorf("%v: matched %s/%s explicit=%v", tt.labels, m.Playbook.ID, m.Procedure.Key, m.Explicit)
		}
	}
}
