package kube_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/executor/kube"
	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// Every kubectl line of the reference playbook, as the classifier is
// expected to shape it.
var playbookCommands = []playbook.KubeCommand{
	{Raw: "kubectl scale deployment telegram-platform --replicas=5", Verb: "scale", Resource: "deployment", Name: "telegram-platform", Flags: map[string]string{"replicas": "5"}},
	{Raw: "kubectl rollout restart deployment telegram-platform", Verb: "rollout restart", Resource: "deployment", Name: "telegram-platform"},
	{Raw: "kubectl logs -f deployment/telegram-platform --since=10m | grep ERROR", Verb: "logs", Resource: "deployment", Name: "telegram-platform",
		Flags: map[string]string{"follow": "true", "since": "10m"}, Grep: "ERROR", Bounded: true},
	{Raw: "kubectl scale deployment message-worker --replicas=10", Verb: "scale", Resource: "deployment", Name: "message-worker", Flags: map[string]string{"replicas": "10"}},
	{Raw: "kubectl scale deployment job-worker --replicas=15", Verb: "scale", Resource: "deployment", Name: "job-worker", Flags: map[string]string{"replicas": "15"}},
	{Raw: "kubectl scale deployment postgres --replicas=2", Verb: "scale", Resource: "deployment", Name: "postgres", Flags: map[string]string{"replicas": "2"}},
	{Raw: "kubectl get pods -l app=telegram-platform", Verb: "get", Resource: "pods", Selector: "app=telegram-platform"},
	{Raw: "kubectl describe pod <failed-pod>", Verb: "describe", Resource: "pod", Name: "<failed-pod>"},
	{Raw: "kubectl top pods", Verb: "top", Resource: "pods"},
	{Raw: "kubectl logs <pod-name> --previous", Verb: "logs", Name: "<pod-name>", Flags: map[string]string{"previous": "true"}},
}

func TestSupportedCoversThePlaybook(t *testing.T) {
	t.Parallel()
	for _, c := range playbookCommands {
		if err := kube.Supported(c); err != nil {
			t.Errorf("%s: %v", c.Raw, err)
		}
	}
}

func TestSupportedRefusesOtherForms(t *testing.T) {
	t.Parallel()
	const tail = " is not supported natively; configure a kubectl binary to run it through the shell executor"
	tests := []struct {
		cmd  playbook.KubeCommand
		want string // "" when the error must not be ErrUnsupported
		msg  string
	}{
		{cmd: playbook.KubeCommand{Verb: "get", Resource: "svc"}, want: "kubectl get svc" + tail},
		{cmd: playbook.KubeCommand{Verb: "get", Resource: "deployments"}, want: "kubectl get deployments" + tail},
		{cmd: playbook.KubeCommand{Verb: "delete", Resource: "pod", Name: "x"}, want: "kubectl delete pod" + tail},
		{cmd: playbook.KubeCommand{Verb: "exec", Name: "x"}, want: "kubectl exec" + tail},
		{cmd: playbook.KubeCommand{Verb: "rollout undo", Resource: "deployment", Name: "x"}, want: "kubectl rollout undo deployment" + tail},
		{cmd: playbook.KubeCommand{Verb: "rollout restart", Resource: "statefulset", Name: "x"}, want: "kubectl rollout restart statefulset" + tail},
		{cmd: playbook.KubeCommand{Verb: "scale", Resource: "statefulset", Name: "x", Flags: map[string]string{"replicas": "1"}}, want: "kubectl scale statefulset" + tail},
		{cmd: playbook.KubeCommand{Verb: "logs", Resource: "job", Name: "x"}, want: "kubectl logs job" + tail},
		{cmd: playbook.KubeCommand{Verb: "logs", Selector: "app=x"}, want: "kubectl logs -l" + tail},
		{cmd: playbook.KubeCommand{Verb: "logs", Name: "x", Flags: map[string]string{"all-containers": "true"}}, want: "kubectl logs --all-containers" + tail},
		{cmd: playbook.KubeCommand{Verb: "get", Resource: "pods", Flags: map[string]string{"o": "yaml"}}, want: "kubectl get -o" + tail},
		{cmd: playbook.KubeCommand{Verb: "get", Resource: "pods", Bounded: true}, want: "kubectl get --watch" + tail},
		{cmd: playbook.KubeCommand{Verb: "top", Resource: "nodes"}, want: "kubectl top nodes" + tail},
		{cmd: playbook.KubeCommand{Verb: "logs", Name: "x", Grep: "5.."}, msg: "a regular expression"},
		{cmd: playbook.KubeCommand{Verb: "logs", Name: "x", Grep: "-v"}, msg: "kubectl logs | grep -v" + tail},
		{cmd: playbook.KubeCommand{Verb: "get", Resource: "pods", Grep: "Crash"}, want: "kubectl get | grep" + tail},
		// malformed rather than unsupported
		{cmd: playbook.KubeCommand{Verb: "scale", Resource: "deployment", Name: "x"}, msg: "kubectl scale needs --replicas"},
		{cmd: playbook.KubeCommand{Verb: "logs"}, msg: "kubectl logs needs a pod name or deployment/NAME"},
		{cmd: playbook.KubeCommand{Verb: "describe", Resource: "pod"}, msg: "needs a pod name or a selector"},
	}
	for _, tt := range tests {
		err := kube.Supported(tt.cmd)
		if err == nil {
			t.Errorf("%+v: supported, want an error", tt.cmd)
			continue
		}
		if tt.want != "" && err.Error() != tt.want {
			t.Errorf("%+v:\n got %q\nwant %q", tt.cmd, err, tt.want)
		}
		if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%+v: %q lacks %q", tt.cmd, err, tt.msg)
		}
		malformed := strings.Contains(tt.msg, "needs")
		if errors.Is(err, kube.ErrUnsupported) == malformed {
			t.Errorf("%+v: errors.Is(ErrUnsupported) = %v", tt.cmd, !malformed)
		}
		// Run gives the same answer and touches nothing.
		b := setup(t)
		if _, runErr := b.run(t, tt.cmd); runErr == nil || runErr.Error() != err.Error() {
			t.Errorf("%+v: Run error %v, Supported error %v", tt.cmd, runErr, err)
		}
		if n := len(b.kube.Actions()); n != 0 {
			t.Errorf("%+v: %d API calls for an unsupported command", tt.cmd, n)
		}
	}
}

func TestUnfilledParametersAreRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd  playbook.KubeCommand
		want string
	}{
		{playbookCommands[7], "parameter <failed-pod> is not filled in"},
		{playbookCommands[9], "parameter <pod-name> is not filled in"},
		{playbook.KubeCommand{Verb: "scale", Resource: "deployment", Name: "x", Flags: map[string]string{"replicas": "<replicas>"}},
			"parameter <replicas> is not filled in"},
		{playbook.KubeCommand{Verb: "get", Resource: "pods", Namespace: "<namespace>"}, "parameter <namespace> is not filled in"},
	}
	for _, tt := range tests {
		b := setup(t)
		_, err := b.run(t, tt.cmd)
		var pe *kube.ParameterError
		if err == nil || err.Error() != tt.want || !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want %q", tt.cmd.Raw, err, tt.want)
		}
		if n := len(b.kube.Actions()); n != 0 {
			t.Errorf("%s: %d API calls before refusing", tt.cmd.Raw, n)
		}
	}
}

func TestInvalidNames(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for cmd, want := range map[*playbook.KubeCommand]string{
		{Verb: "describe", Resource: "pod", Name: "Bad_Name"}:                                           `invalid pod name "Bad_Name"`,
		{Verb: "get", Resource: "pods", Namespace: "Prod Space"}:                                        `invalid namespace "Prod Space"`,
		{Verb: "scale", Resource: "deployment", Name: "a b", Flags: map[string]string{"replicas": "1"}}: `invalid deployment name "a b"`,
	} {
		if _, err := b.run(t, *cmd); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: err = %v, want %q", *cmd, err, want)
		}
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cmd := playbook.KubeCommand{Verb: "get", Resource: "pods"}
	if _, err := b.exec.Run(context.Background(), kube.Request{Command: cmd}); err != nil {
		t.Errorf("the only target should be the default: %v", err)
	}
	_, err := b.exec.Run(context.Background(), kube.Request{Target: "staging-cluster", Command: cmd})
	if err == nil || err.Error() != `unknown target "staging-cluster"; configured targets: prod-cluster` {
		t.Errorf("err = %v", err)
	}
	if _, err := kube.NewWithClients(nil, kube.Options{}); err == nil {
		t.Error("no targets accepted")
	}
}

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://prod.example.invalid:6443"}
- name: staging
  cluster: {server: "https://staging.example.invalid:6443"}
users:
- name: oncall
  user: {token: not-a-real-token}
contexts:
- name: prod
  context: {cluster: prod, user: oncall, namespace: telegram}
- name: staging
  context: {cluster: staging, user: oncall}
current-context: staging
`

// New only builds clients; nothing is sent, so no cluster is needed.
func TestNewFromKubeconfig(t *testing.T) {
	// Not parallel: t.Setenv.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := kube.New([]kube.Target{
		{Name: "prod", Kubeconfig: path, Context: "prod"},
		{Name: "staging", Kubeconfig: path},
	}, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Targets(), ","); got != "prod,staging" {
		t.Errorf("targets = %s", got)
	}

	tests := []struct {
		target kube.Target
		want   string
	}{
		{kube.Target{Name: "incluster"}, `target "incluster": no kubeconfig and not running in a cluster`},
		{kube.Target{Name: "missing", Kubeconfig: filepath.Join(t.TempDir(), "nope")}, `target "missing": load kubeconfig`},
		{kube.Target{Name: "badctx", Kubeconfig: path, Context: "dev"}, `target "badctx": load kubeconfig`},
		{kube.Target{Name: "ctxonly", Context: "prod"}, `target "ctxonly": context "prod" is set but no kubeconfig is`},
	}
	for _, tt := range tests {
		_, err := kube.New([]kube.Target{tt.target}, kube.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want %q", tt.target, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "not-a-real-token") {
			t.Errorf("error leaks the token: %v", err)
		}
	}
}
