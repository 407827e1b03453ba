package kube_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/firebreak-dev/firebreak/internal/executor/kube"
	"github.com/firebreak-dev/firebreak/internal/playbook"
)

func scaleCmd(name string, replicas string, extra ...string) playbook.KubeCommand {
	flags := map[string]string{"replicas": replicas}
	for i := 0; i+1 < len(extra); i += 2 {
		flags[extra[i]] = extra[i+1]
	}
	return playbook.KubeCommand{
		Raw:  "kubectl scale deployment " + name + " --replicas=" + replicas,
		Verb: "scale", Resource: "deployment", Name: name, Flags: flags,
	}
}

func countPatches(b *bundle) int {
	n := 0
	for _, a := range b.kube.Actions() {
		if a.GetVerb() == "patch" {
			n++
		}
	}
	return n
}

func TestScale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		cmd           playbook.KubeCommand
		wantErr       string
		wantBefore    string
		wantAfter     string
		wantOutput    string
		wantProd      int32 // replicas of prod/telegram-platform afterwards
		wantStaging   int32
		wantUndo      *playbook.KubeCommand
		wantPatches   int
		wantRetryable bool
	}{
		{
			name:       "3 to 5 in the target's namespace",
			cmd:        scaleCmd("telegram-platform", "5"),
			wantBefore: "replicas: 3", wantAfter: "replicas: 5",
			wantOutput: "deployment.apps/telegram-platform scaled (replicas 3 → 5)\n",
			wantProd:   5, wantStaging: 1, wantPatches: 1,
			wantUndo: &playbook.KubeCommand{
				Raw:  "kubectl scale deployment telegram-platform --replicas=3 --current-replicas=5 -n prod",
				Verb: "scale", Resource: "deployment", Name: "telegram-platform", Namespace: "prod",
				Flags: map[string]string{"replicas": "3", "current-replicas": "5"},
			},
		},
		{
			name: "-n wins over the target's namespace",
			cmd: func() playbook.KubeCommand {
				c := scaleCmd("telegram-platform", "2")
				c.Namespace = "staging"
				return c
			}(),
			wantBefore: "replicas: 1", wantAfter: "replicas: 2",
			wantOutput: "deployment.apps/telegram-platform scaled (replicas 1 → 2)\n",
			wantProd:   3, wantStaging: 2, wantPatches: 1,
			wantUndo: &playbook.KubeCommand{
				Raw:  "kubectl scale deployment telegram-platform --replicas=1 --current-replicas=2 -n staging",
				Verb: "scale", Resource: "deployment", Name: "telegram-platform", Namespace: "staging",
				Flags: map[string]string{"replicas": "1", "current-replicas": "2"},
			},
		},
		{
			name:       "already at the count: nothing to undo",
			cmd:        scaleCmd("telegram-platform", "3"),
			wantBefore: "replicas: 3", wantAfter: "replicas: 3",
			wantOutput: "deployment.apps/telegram-platform scaled (replicas already 3)\n",
			wantProd:   3, wantStaging: 1,
		},
		{
			name:        "current-replicas precondition holds",
			cmd:         scaleCmd("telegram-platform", "1", "current-replicas", "3"),
			wantBefore:  "replicas: 3",
			wantAfter:   "replicas: 1",
			wantOutput:  "deployment.apps/telegram-platform scaled (replicas 3 → 1)\n",
			wantProd:    1,
			wantStaging: 1, wantPatches: 1,
			wantUndo: &playbook.KubeCommand{
				Raw:  "kubectl scale deployment telegram-platform --replicas=3 --current-replicas=1 -n prod",
				Verb: "scale", Resource: "deployment", Name: "telegram-platform", Namespace: "prod",
				Flags: map[string]string{"replicas": "3", "current-replicas": "1"},
			},
		},
		{
			name:     "current-replicas precondition fails",
			cmd:      scaleCmd("telegram-platform", "3", "current-replicas", "5"),
			wantErr:  "deployment telegram-platform in namespace prod has 3 replicas, not the expected 5",
			wantProd: 3, wantStaging: 1,
		},
		{
			name:     "missing deployment",
			cmd:      scaleCmd("telegram-platfrom", "5"),
			wantErr:  "deployment telegram-platfrom not found in namespace prod",
			wantProd: 3, wantStaging: 1,
		},
		{
			name:     "negative replicas",
			cmd:      scaleCmd("telegram-platform", "-1"),
			wantErr:  `kubectl scale: --replicas="-1" is not a replica count`,
			wantProd: 3, wantStaging: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			res, err := b.run(t, tt.cmd)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if kube.IsRetryable(err) != tt.wantRetryable {
					t.Errorf("IsRetryable = %v, want %v", !tt.wantRetryable, tt.wantRetryable)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.wantErr == "" {
				if res.Before != tt.wantBefore || res.After != tt.wantAfter {
					t.Errorf("before/after = %q/%q, want %q/%q", res.Before, res.After, tt.wantBefore, tt.wantAfter)
				}
				if res.Output != tt.wantOutput {
					t.Errorf("output = %q, want %q", res.Output, tt.wantOutput)
				}
				if !reflect.DeepEqual(res.Undo, tt.wantUndo) {
					t.Errorf("undo = %+v, want %+v", res.Undo, tt.wantUndo)
				}
			}
			if got := b.replicas(t, "prod", "telegram-platform"); got != tt.wantProd {
				t.Errorf("prod replicas = %d, want %d", got, tt.wantProd)
			}
			if got := b.replicas(t, "staging", "telegram-platform"); got != tt.wantStaging {
				t.Errorf("staging replicas = %d, want %d", got, tt.wantStaging)
			}
			if got := countPatches(b); got != tt.wantPatches {
				t.Errorf("patches sent = %d, want %d", got, tt.wantPatches)
			}
		})
	}
}

// The undo of a scale, run as a command, really scales back.
func TestScaleUndoScalesBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.run(t, scaleCmd("telegram-platform", "5"))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.replicas(t, "prod", "telegram-platform"); got != 5 {
		t.Fatalf("replicas after scale = %d, want 5", got)
	}
	undo, err := b.run(t, *res.Undo)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.replicas(t, "prod", "telegram-platform"); got != 3 {
		t.Fatalf("replicas after undo = %d, want 3", got)
	}
	if undo.Before != "replicas: 5" || undo.After != "replicas: 3" {
		t.Errorf("undo before/after = %q/%q", undo.Before, undo.After)
	}
}

// The patch carries the resourceVersion that was read, so the server
// refuses it if the deployment changed in between; a conflict is retried
// from a fresh read.
func TestScaleRetriesConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var patches []string
	b.kube.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		patches = append(patches, string(a.(k8stesting.PatchAction).GetPatch()))
		if len(patches) == 1 {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"},
				"telegram-platform", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	res, err := b.run(t, scaleCmd("telegram-platform", "5"))
	if err != nil {
		t.Fatal(err)
	}
	if len(patches) != 2 {
		t.Fatalf("patches = %d, want 2 (one conflict, one retry)", len(patches))
	}
	if !strings.Contains(patches[0], `"resourceVersion":"41"`) || !strings.Contains(patches[0], `"replicas":5`) {
		t.Errorf("patch = %s, want resourceVersion precondition and replicas", patches[0])
	}
	if res.Before != "replicas: 3" || b.replicas(t, "prod", "telegram-platform") != 5 {
		t.Errorf("before = %q, replicas = %d", res.Before, b.replicas(t, "prod", "telegram-platform"))
	}
}

func TestRolloutRestart(t *testing.T) {
	t.Parallel()
	restart := func(name string) playbook.KubeCommand {
		return playbook.KubeCommand{Raw: "kubectl rollout restart deployment " + name, Verb: "rollout restart", Resource: "deployment", Name: name}
	}
	tests := []struct {
		name       string
		cmd        playbook.KubeCommand
		ns         string
		paused     bool
		wantBefore string
		wantErr    string
	}{
		{name: "records the previous restart", cmd: restart("telegram-platform"), ns: "prod",
			wantBefore: "restartedAt: 2026-03-01T12:00:00Z"},
		{name: "first restart", cmd: restart("message-worker"), ns: "prod", wantBefore: "restartedAt: <none>"},
		{name: "paused deployment", cmd: restart("telegram-platform"), ns: "prod", paused: true,
			wantErr: "deployment telegram-platform in namespace prod is paused; resume it"},
		{name: "missing deployment", cmd: restart("job-worker"), ns: "prod",
			wantErr: "deployment job-worker not found in namespace prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			api := b.kube.AppsV1().Deployments(tt.ns)
			if tt.paused {
				d, _ := api.Get(context.Background(), tt.cmd.Name, metav1.GetOptions{})
				d.Spec.Paused = true
				if _, err := api.Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			res, err := b.run(t, tt.cmd)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if n := countPatches(b); n != 0 {
					t.Errorf("patches sent = %d, want 0", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			stamp := now.Format(time.RFC3339)
			if res.Before != tt.wantBefore || res.After != "restartedAt: "+stamp {
				t.Errorf("before/after = %q/%q, want %q/%q", res.Before, res.After, tt.wantBefore, "restartedAt: "+stamp)
			}
			if res.Output != "deployment.apps/"+tt.cmd.Name+" restarted\n" {
				t.Errorf("output = %q", res.Output)
			}
			if res.Undo != nil {
				t.Errorf("undo = %+v, want none: a restart cannot be undone", res.Undo)
			}
			d, err := api.Get(context.Background(), tt.cmd.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]; got != stamp {
				t.Errorf("restartedAt annotation = %q, want %q", got, stamp)
			}
			if tt.cmd.Name == "telegram-platform" && d.Spec.Template.Annotations["team"] != "messaging" {
				t.Errorf("other template annotations were lost: %v", d.Spec.Template.Annotations)
			}
			if *d.Spec.Replicas != map[string]int32{"telegram-platform": 3, "message-worker": 4}[tt.cmd.Name] {
				t.Errorf("replicas changed to %d", *d.Spec.Replicas)
			}
		})
	}
}

// Restarting twice within the clock's second would be a no-op patch;
// kubectl refuses that, and so does the executor.
func TestRolloutRestartTwiceInOneSecond(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cmd := playbook.KubeCommand{Verb: "rollout restart", Resource: "deployment", Name: "telegram-platform"}
	if _, err := b.run(t, cmd); err != nil {
		t.Fatal(err)
	}
	_, err := b.run(t, cmd)
	if err == nil || !strings.Contains(err.Error(), "already restarted at 2026-03-14T03:00:00Z") {
		t.Fatalf("err = %v", err)
	}
	if !kube.IsRetryable(err) {
		t.Error("a restart refused for being in the same second should be retryable")
	}
}

// API errors become messages that say what happened, and transient ones
// are retryable.
func TestAPIErrors(t *testing.T) {
	t.Parallel()
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	tests := []struct {
		name          string
		verb          string // reactor verb
		err           error
		wantMsg       []string
		wantRetryable bool
	}{
		{name: "forbidden", verb: "patch",
			err: apierrors.NewForbidden(gr, "telegram-platform",
				errors.New(`User "system:serviceaccount:firebreak:runner" cannot patch resource "deployments" in API group "apps" in the namespace "prod"`)),
			wantMsg: []string{"forbidden by RBAC", `target "prod-cluster" may not patch deployments.apps in namespace prod`,
				"system:serviceaccount:firebreak:runner"}},
		{name: "unauthorized", verb: "get", err: apierrors.NewUnauthorized("token expired"),
			wantMsg: []string{`target "prod-cluster" rejected its credentials (401 Unauthorized)`}},
		{name: "service unavailable", verb: "get", err: apierrors.NewServiceUnavailable("apiserver restarting"),
			wantMsg: []string{"apiserver restarting"}, wantRetryable: true},
		{name: "internal error", verb: "patch", err: apierrors.NewInternalError(errors.New("etcd leader changed")),
			wantMsg: []string{"etcd leader changed"}, wantRetryable: true},
		{name: "server timeout", verb: "get", err: apierrors.NewServerTimeout(gr, "get", 2),
			wantMsg: []string{"get deployments.apps in namespace prod on target \"prod-cluster\" timed out"}, wantRetryable: true},
		{name: "throttled", verb: "get", err: apierrors.NewTooManyRequests("slow down", 1),
			wantMsg: []string{"slow down"}, wantRetryable: true},
		{name: "conflict that persists", verb: "patch", err: apierrors.NewConflict(gr, "telegram-platform", errors.New("modified")),
			wantMsg: []string{"modified"}, wantRetryable: true},
		{name: "invalid", verb: "patch", err: apierrors.NewBadRequest("spec.replicas: must be >= 0"),
			wantMsg: []string{"spec.replicas: must be >= 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.kube.PrependReactor(tt.verb, "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, tt.err
			})
			_, err := b.run(t, scaleCmd("telegram-platform", "5"))
			if err == nil {
				t.Fatal("no error")
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("err = %q, want it to contain %q", err, m)
				}
			}
			if got := kube.IsRetryable(err); got != tt.wantRetryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.wantRetryable)
			}
			if !errors.Is(err, tt.err) {
				t.Error("the client error is not reachable through errors.Is")
			}
		})
	}
}

func TestIsRetryableOnPlainErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "x"), false},
		{apierrors.NewServiceUnavailable("x"), true},
		{&kube.UnsupportedError{What: "get svc"}, false},
		{&kube.ParameterError{Param: "<failed-pod>"}, false},
		{errors.New("something else"), false},
	}
	for _, tt := range tests {
		if got := kube.IsRetryable(tt.err); got != tt.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
