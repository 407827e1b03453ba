package kube

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCappedBuffer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
		trunc  bool
	}{
		{name: "fits", max: 10, writes: []string{"ab\n", "cd\n"}, want: "ab\ncd\n"},
		{name: "exactly full", max: 6, writes: []string{"ab\n", "cd\n"}, want: "ab\ncd\n"},
		{name: "cut after the last whole line", max: 8, writes: []string{"ab\n", "cd\n", "efgh\n"}, want: "ab\ncd\n", trunc: true},
		{name: "line split over writes", max: 7, writes: []string{"ab\nc", "def\n"}, want: "ab\n", trunc: true},
		{name: "one long line", max: 5, writes: []string{"abcdefgh"}, want: "abcde", trunc: true},
		{name: "no half rune", max: 4, writes: []string{"ab→x"}, want: "ab", trunc: true},
		{name: "writes after full are dropped", max: 3, writes: []string{"ab\nc", "d\n", "e\n"}, want: "ab\n", trunc: true},
	}
	for _, tt := range tests {
		b := newCappedBuffer(tt.max)
		for _, w := range tt.writes {
			if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("%s: Write = %d, %v", tt.name, n, err)
			}
		}
		if b.String() != tt.want || b.Truncated() != tt.trunc {
			t.Errorf("%s: got %q truncated=%v, want %q truncated=%v", tt.name, b.String(), b.Truncated(), tt.want, tt.trunc)
		}
	}
}

func TestPodStatus(t *testing.T) {
	t.Parallel()
	now := metav1.NewTime(time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC))
	always := corev1.ContainerRestartPolicyAlways
	waiting := func(r string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: r}}
	}
	term := func(r string, code, sig int32) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: r, ExitCode: code, Signal: sig}}
	}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	tests := []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{name: "phase", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}, want: "Pending"},
		{name: "evicted", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}}, want: "Evicted"},
		{name: "image pull", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{State: waiting("ImagePullBackOff")}}}}, want: "ImagePullBackOff"},
		{name: "oom killed", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{State: term("OOMKilled", 137, 0)}}}}, want: "OOMKilled"},
		{name: "signal", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{State: term("", 0, 9)}}}}, want: "Signal:9"},
		{name: "exit code", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{State: term("", 3, 0)}}}}, want: "ExitCode:3"},
		{name: "init running", pod: corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "migrate"}, {Name: "seed"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "migrate", State: term("Completed", 0, 0)}, {Name: "seed", State: running}}}}, want: "Init:1/2"},
		{name: "init crash", pod: corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "migrate"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "migrate", State: waiting("CrashLoopBackOff")}}}}, want: "Init:CrashLoopBackOff"},
		{name: "started sidecar does not hold init", pod: corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "proxy", RestartPolicy: &always}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "proxy", State: running, Started: ptrTo(true)}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: "app", State: running, Ready: true}}}}, want: "Running"},
		{name: "terminating", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}, want: "Terminating"},
	}
	for _, tt := range tests {
		if got := podStatus(&tt.pod); got != tt.want {
			t.Errorf("%s: status = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestCheckGrep(t *testing.T) {
	t.Parallel()
	for p, ok := range map[string]bool{
		"ERROR": true, "upstream timeout": true, "level=error": true, `"msg"`: true, "500 Internal": true,
		"5..": false, "ERR*": false, "^ERROR": false, "done$": false, "[Ee]rror": false, `a\|b`: false, "-i": false,
	} {
		if err := checkGrep(p); (err == nil) != ok {
			t.Errorf("checkGrep(%q) = %v", p, err)
		}
	}
}

func TestBetterForLogs(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC)
	type p struct {
		node       string
		phase      corev1.PodPhase
		ready      bool
		readyFor   time.Duration
		restarts   int32
		age        time.Duration
		noCreation bool
	}
	mk := func(name string, s p) *corev1.Pod {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: s.node},
			Status: corev1.PodStatus{Phase: s.phase, ContainerStatuses: []corev1.ContainerStatus{{RestartCount: s.restarts}}}}
		if !s.noCreation {
			pod.CreationTimestamp = metav1.NewTime(base.Add(-s.age))
		}
		if s.ready {
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(base.Add(-s.readyFor))}}
		}
		return pod
	}
	run := corev1.PodRunning
	tests := []struct {
		name          string
		better, worse p
	}{
		{"scheduled before unscheduled", p{node: "n", phase: corev1.PodPending}, p{phase: corev1.PodPending}},
		{"running before pending", p{node: "n", phase: run}, p{node: "n", phase: corev1.PodPending}},
		{"running before unknown", p{node: "n", phase: run}, p{node: "n", phase: corev1.PodUnknown}},
		{"unknown before pending", p{node: "n", phase: corev1.PodUnknown}, p{node: "n", phase: corev1.PodPending}},
		{"ready before not ready", p{node: "n", phase: run, ready: true}, p{node: "n", phase: run, restarts: 7}},
		{"ready longer first", p{node: "n", phase: run, ready: true, readyFor: time.Hour}, p{node: "n", phase: run, ready: true, readyFor: time.Minute}},
		{"more restarts first", p{node: "n", phase: run, restarts: 4}, p{node: "n", phase: run, restarts: 1, age: time.Hour}},
		{"older first", p{node: "n", phase: run, age: time.Hour}, p{node: "n", phase: run, age: time.Minute}},
		{"no timestamp last", p{node: "n", phase: run, age: time.Minute}, p{node: "n", phase: run, noCreation: true}},
	}
	for _, tt := range tests {
		// The better pod sorts last by name, so the name tie-break can't
		// hide a rule that is missing.
		a, b := mk("z", tt.better), mk("a", tt.worse)
		if !betterForLogs(a, b) || betterForLogs(b, a) {
			t.Errorf("%s: order not as kubectl picks", tt.name)
		}
	}
}
