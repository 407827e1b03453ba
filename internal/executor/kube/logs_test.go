package kube_test

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/firebreak-dev/firebreak/internal/executor/kube"
	"github.com/firebreak-dev/firebreak/internal/playbook"
)

const appLog = `2026-03-14T02:59:01Z INFO  GET /api/v1/campaigns 200 12ms
2026-03-14T02:59:02Z ERROR POST /api/v1/messages 500 pool exhausted
2026-03-14T02:59:03Z WARN  retrying telegram send
2026-03-14T02:59:04Z ERROR POST /api/v1/messages 502 upstream timeout
2026-03-14T02:59:05Z error lowercase is not ERROR-free, grep is case-sensitive
2026-03-14T02:59:06Z INFO  no newline at the end ERROR`

func TestLogsGrepFilter(t *testing.T) {
	t.Parallel()
	lines := strings.Split(appLog, "\n")
	tests := []struct {
		name string
		grep string
		want []string
	}{
		{name: "no filter", grep: "", want: lines},
		{name: "ERROR", grep: "ERROR", want: []string{lines[1], lines[3], lines[4], lines[5]}},
		{name: "case-sensitive", grep: "error", want: []string{lines[4]}},
		{name: "text with spaces", grep: "upstream timeout", want: []string{lines[3]}},
		{name: "no match", grep: "PANIC", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &logCapture{body: appLog}
			b := setup(t, withLogs(logs.stream))
			res, err := b.run(t, playbook.KubeCommand{Verb: "logs", Name: podReady, Grep: tt.grep})
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Join(tt.want, "\n")
			if len(tt.want) > 0 && tt.want[len(tt.want)-1] != lines[len(lines)-1] {
				want += "\n"
			}
			if res.Output != want {
				t.Errorf("output:\n%q\nwant:\n%q", res.Output, want)
			}
		})
	}
}

// The end-to-end path through the fake clientset's own GetLogs: the body
// comes from a "get pods/log" reactor, and the PodLogOptions that reach the
// API are the action's value.
func TestLogsThroughFakeGetLogs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *corev1.PodLogOptions
	b.kube.PrependReactor("get", "pods/log", func(a k8stesting.Action) (bool, runtime.Object, error) {
		got = a.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions)
		return true, &runtime.Unknown{Raw: []byte(appLog)}, nil
	})
	res, err := b.run(t, playbook.KubeCommand{
		Raw:  "kubectl logs " + podCrashed + " --previous --since=90s --tail=200 | grep ERROR",
		Verb: "logs", Name: podCrashed, Grep: "ERROR",
		Flags: map[string]string{"previous": "true", "since": "90s", "tail": "200"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(res.Output, "\n"); n != 3 || strings.Contains(res.Output, "INFO  GET") {
		t.Errorf("output not filtered by ERROR:\n%s", res.Output)
	}
	want := &corev1.PodLogOptions{Container: "app", Previous: true, SinceSeconds: ptr[int64](90), TailLines: ptr[int64](200)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PodLogOptions = %+v, want %+v", got, want)
	}
}

// Without a reactor the fake serves its fixed body "fake logs"; that it
// arrives (and is filtered) shows the default stream is wired to GetLogs.
func TestLogsDefaultStreamIsGetLogs(t *testing.T) {
	t.Parallel()
	for grep, want := range map[string]string{"": "fake logs", "fake": "fake logs", "ERROR": ""} {
		b := setup(t)
		res, err := b.run(t, playbook.KubeCommand{Verb: "logs", Resource: "deployment", Name: "message-worker", Grep: grep})
		if err != nil {
			t.Fatal(err)
		}
		if res.Output != want {
			t.Errorf("grep %q: output = %q, want %q", grep, res.Output, want)
		}
		var sawLog bool
		for _, a := range b.kube.Actions() {
			sawLog = sawLog || (a.GetVerb() == "get" && a.GetSubresource() == "log" && a.GetNamespace() == "prod")
		}
		if !sawLog {
			t.Errorf("grep %q: no get pods/log action recorded", grep)
		}
	}
}

func TestLogsOfDeploymentPicksAPodOfItsSelector(t *testing.T) {
	t.Parallel()
	// Extra pods: a Pending one of the deployment, and pods elsewhere that
	// a wrong selector or namespace would pick.
	pending := func(b *bundle) {
		ctx := context.Background()
		p := pod(podSpec{name: "telegram-platform-7d9f8-ppppp", app: "telegram-platform", phase: corev1.PodPending, age: time.Minute})
		if _, err := b.kube.CoreV1().Pods("prod").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dropReady := func(b *bundle) {
		if err := b.kube.CoreV1().Pods("prod").Delete(context.Background(), podReady, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		prepare []func(*bundle)
		cmd     playbook.KubeCommand
		wantPod string
		wantNS  string
		note    string
	}{
		{
			name:    "the ready pod of telegram-platform",
			prepare: []func(*bundle){pending},
			cmd: playbook.KubeCommand{Raw: "kubectl logs -f deployment/telegram-platform --since=10m | grep ERROR",
				Verb: "logs", Resource: "deployment", Name: "telegram-platform", Grep: "ERROR", Bounded: true,
				Flags: map[string]string{"since": "10m", "follow": "true"}},
			wantPod: podReady, wantNS: "prod",
			note: "Found 3 pods, using pod/" + podReady + "\n",
		},
		{
			name:    "running before pending when none is ready",
			prepare: []func(*bundle){pending, dropReady},
			cmd:     playbook.KubeCommand{Verb: "logs", Resource: "deployment", Name: "telegram-platform"},
			wantPod: podCrashed, wantNS: "prod",
			note: "Found 2 pods, using pod/" + podCrashed + "\n",
		},
		{
			name:    "deployment/x written in the name",
			cmd:     playbook.KubeCommand{Verb: "logs", Name: "deployment/message-worker"},
			wantPod: podWorker, wantNS: "prod",
		},
		{
			name:    "other namespace",
			cmd:     playbook.KubeCommand{Verb: "logs", Resource: "deploy", Name: "telegram-platform", Namespace: "staging"},
			wantPod: "telegram-platform-1111-zzzzz", wantNS: "staging",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &logCapture{body: "boot\nERROR db down\n"}
			b := setup(t, withLogs(logs.stream))
			for _, p := range tt.prepare {
				p(b)
			}
			res, err := b.run(t, tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			c := logs.last(t)
			if c.pod != tt.wantPod || c.ns != tt.wantNS {
				t.Errorf("read %s/%s, want %s/%s", c.ns, c.pod, tt.wantNS, tt.wantPod)
			}
			if !strings.HasPrefix(res.Output, tt.note) {
				t.Errorf("output = %q, want it to start with %q", res.Output, tt.note)
			}
		})
	}
}

func TestLogsOptionsReachTheAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		flags map[string]string
		want  corev1.PodLogOptions
	}{
		{name: "since rounds up to seconds", flags: map[string]string{"since": "10m"},
			want: corev1.PodLogOptions{Container: "app", SinceSeconds: ptr[int64](600)}},
		{name: "previous", flags: map[string]string{"previous": "true"},
			want: corev1.PodLogOptions{Container: "app", Previous: true}},
		{name: "-p short form", flags: map[string]string{"p": ""},
			want: corev1.PodLogOptions{Container: "app", Previous: true}},
		{name: "since-time", flags: map[string]string{"since-time": "2026-03-14T02:00:00Z"},
			want: corev1.PodLogOptions{Container: "app", SinceTime: ptr(metav1.NewTime(now.Add(-time.Hour)))}},
		{name: "tail, timestamps, limit", flags: map[string]string{"tail": "50", "timestamps": "true", "limit-bytes": "4096"},
			want: corev1.PodLogOptions{Container: "app", TailLines: ptr[int64](50), Timestamps: true, LimitBytes: ptr[int64](4096)}},
		{name: "tail -1 means all", flags: map[string]string{"tail": "-1"},
			want: corev1.PodLogOptions{Container: "app"}},
		{name: "follow", flags: map[string]string{"follow": "true"},
			want: corev1.PodLogOptions{Container: "app", Follow: true}},
		{name: "container", flags: map[string]string{"c": "sidecar"},
			want: corev1.PodLogOptions{Container: "sidecar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &logCapture{body: "x\n"}
			b := setup(t, withLogs(logs.stream))
			p := pod(podSpec{name: "two-containers", app: "x", node: "n", phase: corev1.PodRunning, ready: true,
				containers: []string{"app", "sidecar"}})
			if _, err := b.kube.CoreV1().Pods("prod").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err := b.run(t, playbook.KubeCommand{Verb: "logs", Name: "two-containers", Flags: tt.flags})
			if err != nil {
				t.Fatal(err)
			}
			got := logs.last(t).opts
			if got.SinceTime != nil && tt.want.SinceTime != nil && got.SinceTime.Equal(tt.want.SinceTime) {
				got.SinceTime = tt.want.SinceTime
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PodLogOptions = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLogsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cmd     playbook.KubeCommand
		wantErr string
	}{
		{name: "since and since-time", cmd: playbook.KubeCommand{Verb: "logs", Name: podReady,
			Flags: map[string]string{"since": "1h", "since-time": "2026-03-14T02:00:00Z"}},
			wantErr: "--since and --since-time cannot be used together"},
		{name: "bad since", cmd: playbook.KubeCommand{Verb: "logs", Name: podReady, Flags: map[string]string{"since": "ten minutes"}},
			wantErr: `--since="ten minutes" is not a positive duration`},
		{name: "unknown container", cmd: playbook.KubeCommand{Verb: "logs", Name: podReady, Flags: map[string]string{"container": "db"}},
			wantErr: "container db not found in pod " + podReady + " (namespace prod); it has: app"},
		{name: "missing pod", cmd: playbook.KubeCommand{Verb: "logs", Name: "gone-pod"},
			wantErr: "pod gone-pod not found in namespace prod"},
		{name: "missing deployment", cmd: playbook.KubeCommand{Verb: "logs", Resource: "deployment", Name: "job-worker"},
			wantErr: "deployment job-worker not found in namespace prod"},
		{name: "deployment without pods", cmd: playbook.KubeCommand{Verb: "logs", Resource: "deployment", Name: "telegram-platform", Namespace: "staging"},
			wantErr: "deployment telegram-platform in namespace staging has no pods (selector app=telegram-platform)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withLogs((&logCapture{}).stream))
			if tt.name == "deployment without pods" {
				if err := b.kube.CoreV1().Pods("staging").Delete(context.Background(), "telegram-platform-1111-zzzzz", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := b.run(t, tt.cmd)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if kube.IsRetryable(err) {
				t.Error("bad input should not be retryable")
			}
		})
	}
}

// endless is a log stream that writes some lines and then blocks like a
// follow stream with nothing new to say. It ignores the context, so only
// closing it (as the executor does at the deadline) ends a Read.
func endless(lines ...string) kube.LogStreamFunc {
	return func(_ context.Context, _, _ string, _ *corev1.PodLogOptions) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			for _, l := range lines {
				if _, err := io.WriteString(pw, l+"\n"); err != nil {
					return
				}
			}
		}()
		return pr, nil
	}
}

// runWithin fails the test if Run is still busy 5s after a deadline far
// shorter than that, rather than letting a stuck read hang the test binary.
func runWithin(t *testing.T, b *bundle, ctx context.Context, req kube.Request) (*kube.Result, error) {
	t.Helper()
	type outcome struct {
		res *kube.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := b.exec.Run(ctx, req)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-time.After(5 * time.Second):
		t.Fatal("Run still reading 5s after its deadline")
		return nil, nil
	}
}

func TestLogsFollowStopsAtDeadline(t *testing.T) {
	t.Parallel()
	follow := playbook.KubeCommand{Verb: "logs", Resource: "deployment", Name: "message-worker", Grep: "ERROR", Bounded: true,
		Flags: map[string]string{"follow": "true", "since": "10m"}}
	tests := []struct {
		name    string
		timeout time.Duration // Request.Timeout
		ctxTO   time.Duration // deadline on the caller's context
	}{
		{name: "step timeout", timeout: 300 * time.Millisecond},
		{name: "caller's deadline", ctxTO: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withLogs(endless("INFO start", "ERROR one", "INFO tick", "ERROR two")))
			ctx := context.Background()
			if tt.ctxTO > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTO)
				defer cancel()
			}
			res, err := runWithin(t, b, ctx, kube.Request{Target: "prod-cluster", Command: follow, Timeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			if !res.FollowStopped {
				t.Error("FollowStopped = false, want true")
			}
			if res.Output != "ERROR one\nERROR two\n" {
				t.Errorf("output = %q", res.Output)
			}
		})
	}
}

// A plain (non-follow) read that hits the deadline is a timeout error,
// and retryable, with what was read so far kept.
func TestLogsTimeoutWithoutFollow(t *testing.T) {
	t.Parallel()
	b := setup(t, withLogs(endless("ERROR partial")))
	res, err := runWithin(t, b, context.Background(), kube.Request{
		Command: playbook.KubeCommand{Verb: "logs", Name: podReady}, Timeout: 200 * time.Millisecond,
	})
	if err == nil || !strings.Contains(err.Error(), "timed out") || !kube.IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable timeout", err)
	}
	if res.FollowStopped || res.Output != "ERROR partial\n" {
		t.Errorf("result = %+v", res)
	}
}

func TestOutputIsCapped(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&sb, "ERROR line %04d\n", i)
	}
	logs := &logCapture{body: sb.String()}
	b := setup(t, withLogs(logs.stream), withMaxOutput(1000))
	res, err := b.run(t, playbook.KubeCommand{Verb: "logs", Name: podReady, Grep: "ERROR"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || len(res.Output) > 1000 || !strings.HasSuffix(res.Output, "\n") {
		t.Fatalf("truncated = %v, len = %d, ends with newline = %v", res.Truncated, len(res.Output), strings.HasSuffix(res.Output, "\n"))
	}
	if !strings.HasPrefix(res.Output, "ERROR line 0000\n") {
		t.Errorf("output starts %q", res.Output[:20])
	}

	b = setup(t, withLogs((&logCapture{body: "short\n"}).stream), withMaxOutput(1000))
	res, err = b.run(t, playbook.KubeCommand{Verb: "logs", Name: podReady})
	if err != nil || res.Truncated {
		t.Fatalf("short output: truncated = %v, err = %v", res.Truncated, err)
	}
}
