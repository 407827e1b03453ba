package kube_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"

	"github.com/firebreak-dev/firebreak/internal/executor/kube"
	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// now is the injected clock's time in every test.
var now = time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC)

const (
	podReady   = "telegram-platform-7d9f8-aaaaa"
	podCrashed = "telegram-platform-7d9f8-bbbbb"
	podWorker  = "message-worker-5c6d7-ccccc"
)

type bundle struct {
	kube    *fake.Clientset
	metrics *metricsfake.Clientset
	exec    *kube.Executor
}

type setupOpt func(*kube.Cluster, *kube.Options)

func withLogs(f kube.LogStreamFunc) setupOpt {
	return func(c *kube.Cluster, _ *kube.Options) { c.Logs = f }
}

func withMaxOutput(n int) setupOpt {
	return func(_ *kube.Cluster, o *kube.Options) { o.MaxOutput = n }
}

// setup builds an executor over fake clientsets holding the fixture below:
// the deployment telegram-platform (3 replicas) in prod with one ready pod
// and one crash-looping pod that was OOMKilled, a message-worker pod, and a
// same-named deployment and pod in staging.
func setup(t *testing.T, opts ...setupOpt) *bundle {
	t.Helper()
	objs := fixture()
	kc := fake.NewClientset(objs...)
	mc := metricsfake.NewSimpleClientset()
	// The metrics fake files PodMetrics under the guessed resource
	// "podmetricses" when seeded through NewSimpleClientset, while its
	// client reads "pods"; so seed it under the resource the client uses.
	gvr := metricsv1beta1.SchemeGroupVersion.WithResource("pods")
	for _, m := range podMetrics() {
		if err := mc.Tracker().Create(gvr, m, m.Namespace); err != nil {
			t.Fatal(err)
		}
	}
	c := kube.Cluster{Name: "prod-cluster", Namespace: "prod", Kube: kc, Metrics: mc}
	o := kube.Options{Now: func() time.Time { return now }}
	for _, f := range opts {
		f(&c, &o)
	}
	e, err := kube.NewWithClients([]kube.Cluster{c}, o)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{kube: kc, metrics: mc, exec: e}
}

func (b *bundle) run(t *testing.T, cmd playbook.KubeCommand) (*kube.Result, error) {
	t.Helper()
	return b.exec.Run(context.Background(), kube.Request{Target: "prod-cluster", Command: cmd, Timeout: 5 * time.Second})
}

func (b *bundle) replicas(t *testing.T, ns, name string) int32 {
	t.Helper()
	d, err := b.kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func ptr[T any](v T) *T { return &v }

func deployment(ns, name string, replicas int32, app string, templateAnnotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "41"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}, Annotations: templateAnnotations},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/acme/" + app + ":1.4.2"}}},
			},
		},
	}
}

type podSpec struct {
	ns, name, app, node string
	phase               corev1.PodPhase
	ready               bool
	restarts            int32
	age                 time.Duration
	state               corev1.ContainerState
	last                corev1.ContainerState
	containers          []string
}

func pod(s podSpec) *corev1.Pod {
	if s.ns == "" {
		s.ns = "prod"
	}
	if len(s.containers) == 0 {
		s.containers = []string{"app"}
	}
	ready := corev1.ConditionFalse
	if s.ready {
		ready = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.name, Namespace: s.ns, UID: types.UID("uid-" + s.name),
			Labels:            map[string]string{"app": s.app, "pod-template-hash": "7d9f8"},
			CreationTimestamp: metav1.NewTime(now.Add(-s.age)),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: s.app + "-7d9f8", UID: "rs", Controller: ptr(true),
			}},
		},
		Spec: corev1.PodSpec{NodeName: s.node},
		Status: corev1.PodStatus{
			Phase:  s.phase,
			PodIP:  "10.1.2.3",
			HostIP: "192.168.0.7",
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.NewTime(now.Add(-s.age / 2))},
			},
			StartTime: ptr(metav1.NewTime(now.Add(-s.age))),
		},
	}
	for i, c := range s.containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
			Name: c, Image: "ghcr.io/acme/" + s.app + ":1.4.2",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}},
		})
		st := corev1.ContainerStatus{Name: c, Ready: s.ready, State: s.state, LastTerminationState: s.last}
		if i == 0 {
			st.RestartCount = s.restarts
		}
		if st.State == (corev1.ContainerState{}) {
			st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now.Add(-s.age))}
		}
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, st)
	}
	return p
}

func fixture() []runtime.Object {
	oom := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: "OOMKilled", ExitCode: 137,
		StartedAt:  metav1.NewTime(now.Add(-15 * time.Minute)),
		FinishedAt: metav1.NewTime(now.Add(-10 * time.Minute)),
	}}
	backoff := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason: "CrashLoopBackOff", Message: "back-off 5m0s restarting failed container=app",
	}}
	return []runtime.Object{
		deployment("prod", "telegram-platform", 3, "telegram-platform",
			map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-03-01T12:00:00Z", "team": "messaging"}),
		deployment("prod", "message-worker", 4, "message-worker", nil),
		deployment("staging", "telegram-platform", 1, "telegram-platform", nil),
		pod(podSpec{name: podReady, app: "telegram-platform", node: "node-a", phase: corev1.PodRunning, ready: true, age: 2 * time.Hour}),
		pod(podSpec{name: podCrashed, app: "telegram-platform", node: "node-b", phase: corev1.PodRunning,
			restarts: 4, age: 3 * time.Hour, state: backoff, last: oom}),
		pod(podSpec{name: podWorker, app: "message-worker", node: "node-a", phase: corev1.PodRunning, ready: true,
			restarts: 9, age: 5 * 24 * time.Hour}),
		pod(podSpec{ns: "staging", name: "telegram-platform-1111-zzzzz", app: "telegram-platform", node: "node-s",
			phase: corev1.PodRunning, ready: true, age: time.Hour}),
		&corev1.Event{
			ObjectMeta: metav1.ObjectMeta{Name: podCrashed + ".backoff", Namespace: "prod"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "prod", Name: podCrashed,
				UID: types.UID("uid-" + podCrashed)},
			Type: "Warning", Reason: "BackOff", Message: "Back-off restarting failed container app in pod " + podCrashed,
			Count: 5, FirstTimestamp: metav1.NewTime(now.Add(-10 * time.Minute)), LastTimestamp: metav1.NewTime(now.Add(-time.Minute)),
			Source: corev1.EventSource{Component: "kubelet"},
		},
		&corev1.Event{
			ObjectMeta: metav1.ObjectMeta{Name: podCrashed + ".oom", Namespace: "prod"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "prod", Name: podCrashed,
				UID: types.UID("uid-" + podCrashed)},
			Type: "Warning", Reason: "OOMKilling", Message: "Memory cgroup out of memory: Killed process 4242 (node)",
			Count: 1, FirstTimestamp: metav1.NewTime(now.Add(-10 * time.Minute)), LastTimestamp: metav1.NewTime(now.Add(-10 * time.Minute)),
			Source: corev1.EventSource{Component: "kernel-monitor"},
		},
		&corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: podReady + ".pulled", Namespace: "prod"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "prod", Name: podReady, UID: types.UID("uid-" + podReady)},
			Type:           "Normal", Reason: "Pulled", Message: "Container image pulled for the OTHER pod",
			Count: 1, LastTimestamp: metav1.NewTime(now.Add(-2 * time.Hour)), Source: corev1.EventSource{Component: "kubelet"},
		},
	}
}

func podMetrics() []*metricsv1beta1.PodMetrics {
	m := func(ns, name, app string, usage ...corev1.ResourceList) *metricsv1beta1.PodMetrics {
		pm := &metricsv1beta1.PodMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}},
			Timestamp:  metav1.NewTime(now), Window: metav1.Duration{Duration: 30 * time.Second},
		}
		for i, u := range usage {
			pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: []string{"app", "sidecar"}[i], Usage: u})
		}
		return pm
	}
	use := func(cpu, mem string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	}
	return []*metricsv1beta1.PodMetrics{
		m("prod", podReady, "telegram-platform", use("250m", "300Mi"), use("10m", "20Mi")),
		m("prod", podCrashed, "telegram-platform", use("1", "255Mi")),
		m("prod", podWorker, "message-worker", use("5m", "64Mi")),
		m("staging", "telegram-platform-1111-zzzzz", "telegram-platform", use("999m", "999Mi")),
	}
}

// logCapture is an injected LogStreamFunc that serves body and records
// what it was asked for.
type logCapture struct {
	mu    sync.Mutex
	body  string
	calls []logCall
}

type logCall struct {
	ns, pod string
	opts    corev1.PodLogOptions
}

func (c *logCapture) stream(_ context.Context, ns, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, logCall{ns: ns, pod: pod, opts: *o})
	return io.NopCloser(strings.NewReader(c.body)), nil
}

func (c *logCapture) last(t *testing.T) logCall {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.calls) != 1 {
		t.Fatalf("log streams opened: %d, want 1", len(c.calls))
	}
	return c.calls[0]
}

// squash collapses runs of spaces, so checks on tables and describe output
// don't depend on column widths.
func squash(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
