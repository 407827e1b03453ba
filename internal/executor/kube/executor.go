// Package kube runs the kubectl commands of a playbook natively through
// client-go, without a kubectl binary or a shell.
//
// It covers what the reference playbook uses: get pods, describe pod, logs
// (of a pod or of deployment/x), top pods, scale deployment and rollout
// restart deployment. Supported tells a caller whether a command is covered;
// anything else is left to the shell executor.
//
// Output imitates what kubectl prints, so an on-call engineer reads the same
// text they would see in a terminal. Writes (scale, rollout restart) also
// record the value before and after, and scale offers the command that
// undoes it.
//
// Where it differs from kubectl:
//   - "| grep PATTERN" is a fixed-string, case-sensitive match per line.
//     Patterns with regular-expression characters (. * [ ] ^ $ \) or grep
//     options are reported unsupported rather than matched differently.
//   - Output is capped (64 KiB by default) after the last whole line that
//     fits, and Result.Truncated says so.
//   - logs -f stops at the step's deadline; that ends the step normally.
//   - scale patches spec.replicas instead of using the scale subresource,
//     guarded by the resourceVersion it read, so "before" is exact.
//
// The credentials of a target need: get and list on pods, get on pods/log,
// list on events, get and patch on deployments (apps), and list on
// pods.metrics.k8s.io for top.
package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/firebreak-dev/firebreak/internal/playbook"
)

const (
	// DefaultMaxOutput caps the text kept from one command.
	DefaultMaxOutput = 64 << 10
	// DefaultFollowWindow bounds a follow (-f) log read when neither the
	// request nor its context carries a deadline.
	DefaultFollowWindow = 30 * time.Second
)

// Target is a cluster as configured by the operator.
type Target struct {
	Name string
	// Kubeconfig is the path of a kubeconfig file. Empty means the
	// in-cluster service account.
	Kubeconfig string
	// Context selects a context of the kubeconfig; empty means its current
	// context.
	Context string
	// Namespace is used when a command has no -n. Empty means the
	// namespace of the kubeconfig context, else "default".
	Namespace string
}

// LogStreamFunc opens the log stream of one container. Tests inject one to
// control the bytes and the timing of a stream; the default reads
// pods/{pod}/log through the clientset.
type LogStreamFunc func(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)

// Cluster is a target with ready clients.
type Cluster struct {
	Name      string
	Namespace string
	Kube      kubernetes.Interface
	// Metrics serves top pods. Nil makes top pods fail with a clear error.
	Metrics metricsclient.Interface
	// Logs overrides how log streams are opened. Nil uses Kube.
	Logs LogStreamFunc
}

// Options tune an Executor. The zero value is usable.
type Options struct {
	// Now is the clock for restartedAt stamps, ages and durations.
	Now func() time.Time
	// MaxOutput caps Result.Output in bytes; 0 means DefaultMaxOutput.
	MaxOutput int
	// FollowWindow bounds a follow read without any deadline; 0 means
	// DefaultFollowWindow.
	FollowWindow time.Duration
}

// Executor runs KubeCommands against named clusters. It holds no mutable
// state and is safe for concurrent use.
type Executor struct {
	clusters     map[string]*Cluster
	names        []string
	now          func() time.Time
	maxOutput    int
	followWindow time.Duration
}

// Request is one command to run.
type Request struct {
	// Target names the cluster. Empty is allowed when exactly one cluster
	// is configured.
	Target  string
	Command playbook.KubeCommand
	// Timeout bounds the whole command. For a follow (-f) log read it is
	// the follow window: reading stops there and that is not an error.
	Timeout time.Duration
}

// Result is what a command printed and, for writes, what it changed.
type Result struct {
	Output    string
	Truncated bool
	// Before and After describe the changed field of a write, such as
	// "replicas: 3" and "replicas: 5". Empty for reads.
	Before, After string
	// Undo reverts a write, when that is possible: scale offers the scale
	// back. A rollout restart cannot be undone, so it has none.
	Undo *playbook.KubeCommand
	// FollowStopped reports that a follow (-f) read ended at its deadline,
	// which is how a bounded follow ends normally.
	FollowStopped bool
	Duration      time.Duration
}

// New builds clients for each target from its kubeconfig, or from the
// in-cluster service account when the kubeconfig is empty. No request is
// sent to a cluster here.
func New(targets []Target, opts Options) (*Executor, error) {
	clusters := make([]Cluster, 0, len(targets))
	for _, t := range targets {
		c, err := connect(t)
		if err != nil {
			return nil, err
		}
		clusters = append(clusters, c)
	}
	return NewWithClients(clusters, opts)
}

// NewWithClients builds an Executor over ready clientsets, such as
// client-go's fake clientsets in tests.
func NewWithClients(clusters []Cluster, opts Options) (*Executor, error) {
	if len(clusters) == 0 {
		return nil, errors.New("kube executor: no targets configured")
	}
	e := &Executor{
		clusters:     make(map[string]*Cluster, len(clusters)),
		now:          opts.Now,
		maxOutput:    opts.MaxOutput,
		followWindow: opts.FollowWindow,
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.maxOutput <= 0 {
		e.maxOutput = DefaultMaxOutput
	}
	if e.followWindow <= 0 {
		e.followWindow = DefaultFollowWindow
	}
	for i := range clusters {
		c := clusters[i]
		switch {
		case c.Name == "":
			return nil, fmt.Errorf("kube executor: target %d has no name", i+1)
		case c.Kube == nil:
			return nil, fmt.Errorf("kube executor: target %q has no Kubernetes client", c.Name)
		}
		if _, dup := e.clusters[c.Name]; dup {
			return nil, fmt.Errorf("kube executor: target %q is configured twice", c.Name)
		}
		if c.Logs == nil {
			kube := c.Kube
			c.Logs = func(ctx context.Context, ns, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
				return kube.CoreV1().Pods(ns).GetLogs(pod, o).Stream(ctx)
			}
		}
		e.clusters[c.Name] = &c
		e.names = append(e.names, c.Name)
	}
	sort.Strings(e.names)
	return e, nil
}

func connect(t Target) (Cluster, error) {
	if t.Name == "" {
		return Cluster{}, errors.New("kube executor: a target has no name")
	}
	var (
		cfg *rest.Config
		ns  = t.Namespace
		err error
	)
	if t.Kubeconfig == "" {
		if t.Context != "" {
			return Cluster{}, fmt.Errorf("target %q: context %q is set but no kubeconfig is", t.Name, t.Context)
		}
		cfg, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			return Cluster{}, fmt.Errorf("target %q: no kubeconfig and not running in a cluster", t.Name)
		}
		if err != nil {
			return Cluster{}, fmt.Errorf("target %q: in-cluster config: %w", t.Name, err)
		}
	} else {
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: t.Kubeconfig},
			&clientcmd.ConfigOverrides{CurrentContext: t.Context},
		)
		cfg, err = cc.ClientConfig()
		if err != nil {
			return Cluster{}, fmt.Errorf("target %q: load kubeconfig %s: %w", t.Name, t.Kubeconfig, err)
		}
		if ns == "" {
			// kubectl takes the context's namespace when -n is absent.
			if ctxNS, _, err := cc.Namespace(); err == nil {
				ns = ctxNS
			}
		}
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "firebreak"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Cluster{}, fmt.Errorf("target %q: kubernetes client: %w", t.Name, err)
	}
	metrics, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return Cluster{}, fmt.Errorf("target %q: metrics client: %w", t.Name, err)
	}
	return Cluster{Name: t.Name, Namespace: ns, Kube: kube, Metrics: metrics}, nil
}

// Targets lists the configured target names in order.
func (e *Executor) Targets() []string {
	return append([]string(nil), e.names...)
}

// Run executes one command. It always returns a non-nil Result, so a failed
// step still has its duration and any output gathered before the failure.
// Errors say what went wrong in words an on-call engineer can act on;
// IsRetryable tells whether trying again may help.
func (e *Executor) Run(ctx context.Context, req Request) (*Result, error) {
	start := e.now()
	res := &Result{}
	err := e.run(ctx, req, res)
	res.Duration = e.now().Sub(start)
	return res, err
}

func (e *Executor) run(ctx context.Context, req Request, res *Result) error {
	c, err := e.cluster(req.Target)
	if err != nil {
		return err
	}
	// Unsupported comes first: the caller may hand the command to the shell
	// executor, which needs the parameters filled in just the same.
	sp, err := parse(req.Command)
	if err != nil {
		return err
	}
	if err := checkFilled(req.Command); err != nil {
		return err
	}
	ns := req.Command.Namespace
	if ns == "" {
		ns = c.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	inv, err := sp.resolve(ns)
	if err != nil {
		return err
	}

	switch {
	case req.Timeout > 0:
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	case inv.follow:
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, e.followWindow)
			defer cancel()
		}
	}

	r := &runner{e: e, c: c, inv: inv, out: newCappedBuffer(e.maxOutput), res: res}
	err = r.dispatch(ctx)
	res.Output = r.out.String()
	res.Truncated = r.out.Truncated()
	return err
}

func (e *Executor) cluster(name string) (*Cluster, error) {
	if name == "" {
		if len(e.names) == 1 {
			return e.clusters[e.names[0]], nil
		}
		return nil, fmt.Errorf("no target given; configured targets: %s", strings.Join(e.names, ", "))
	}
	c, ok := e.clusters[name]
	if !ok {
		return nil, fmt.Errorf("unknown target %q; configured targets: %s", name, strings.Join(e.names, ", "))
	}
	return c, nil
}

// runner carries one command's collaborators through its handler.
type runner struct {
	e   *Executor
	c   *Cluster
	inv *invocation
	out *cappedBuffer
	res *Result
}

func (r *runner) dispatch(ctx context.Context) error {
	switch r.inv.act {
	case actGetPods:
		return r.getPods(ctx)
	case actDescribePods:
		return r.describePods(ctx)
	case actLogs:
		return r.logs(ctx)
	case actTopPods:
		return r.topPods(ctx)
	case actScale:
		return r.scale(ctx)
	case actRestart:
		return r.restart(ctx)
	}
	return fmt.Errorf("internal: no handler for %s", r.inv.what())
}
