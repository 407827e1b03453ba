package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// maxLine bounds the memory held for one log line; a longer line is
// filtered and kept in pieces of this size.
const maxLine = 1 << 20

// defaultContainerAnnotation names the container kubectl picks when a pod
// has several and no -c is given.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// logs prints a container's log. Like kubectl, deployment/NAME reads one
// pod that the deployment's selector matches, and the lines kubectl would
// print on stderr ("Found 3 pods, using pod/…") come first in the output.
//
// A "| grep PATTERN" keeps the lines that contain PATTERN as a fixed,
// case-sensitive string. parse only lets through patterns for which that is
// exactly what grep does (no regular-expression characters, no options).
func (r *runner) logs(ctx context.Context) error {
	var (
		pod *corev1.Pod
		err error
	)
	if r.inv.logPod {
		pod, err = r.c.Kube.CoreV1().Pods(r.inv.namespace).Get(ctx, r.inv.name, metav1.GetOptions{})
		if err != nil {
			return r.call("get", "pods", "pod", r.inv.name).wrap(err)
		}
	} else if pod, err = r.deploymentPod(ctx); err != nil {
		return err
	}
	container, err := r.pickContainer(pod)
	if err != nil {
		return err
	}

	opts := &corev1.PodLogOptions{
		Container:    container,
		Follow:       r.inv.follow,
		Previous:     r.inv.previous,
		SinceSeconds: r.inv.since,
		SinceTime:    r.inv.sinceTime,
		Timestamps:   r.inv.timestamp,
		TailLines:    r.inv.tail,
		LimitBytes:   r.inv.limit,
	}
	c := r.call("get", "pods/log", "pod", pod.Name)
	rc, err := r.c.Logs(ctx, r.inv.namespace, pod.Name, opts)
	if err != nil {
		return c.wrap(err)
	}
	return r.copyLines(ctx, rc, c)
}

// copyLines copies the stream into the output line by line, through the
// grep filter. A follow read ends at the context's deadline; the stream is
// closed then, so a reader that ignores the context is unblocked too.
func (r *runner) copyLines(ctx context.Context, rc io.ReadCloser, c call) error {
	var once sync.Once
	closeStream := func() { once.Do(func() { rc.Close() }) }
	defer closeStream()
	stop := context.AfterFunc(ctx, closeStream)
	defer stop()

	grep := []byte(r.inv.grep)
	br := bufio.NewReaderSize(rc, 64<<10)
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if errors.Is(err, bufio.ErrBufferFull) && len(line) < maxLine {
			continue
		}
		if len(line) > 0 {
			if len(grep) == 0 || bytes.Contains(line, grep) {
				r.out.Write(line)
			}
			line = line[:0]
			if r.out.Full() {
				return nil
			}
		}
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if cerr := ctx.Err(); cerr != nil {
			if r.inv.follow && errors.Is(cerr, context.DeadlineExceeded) {
				r.res.FollowStopped = true
				return nil
			}
			return c.wrap(cerr)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		return c.wrap(err)
	}
}

func (r *runner) deploymentPod(ctx context.Context) (*corev1.Pod, error) {
	ns, name := r.inv.namespace, r.inv.name
	d, err := r.c.Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, r.call("get", "deployments.apps", "deployment", name).wrap(err)
	}
	if d.Spec.Selector == nil {
		return nil, &Error{Msg: fmt.Sprintf("deployment %s in namespace %s has no selector", name, ns)}
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil, &Error{Msg: fmt.Sprintf("deployment %s in namespace %s has an unusable selector", name, ns), Err: err}
	}
	list, err := r.c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, r.call("list", "pods", "pod", "").wrap(err)
	}
	var pods []*corev1.Pod
	for i := range list.Items {
		if sel.Matches(labels.Set(list.Items[i].Labels)) {
			pods = append(pods, &list.Items[i])
		}
	}
	if len(pods) == 0 {
		return nil, &Error{Msg: fmt.Sprintf("deployment %s in namespace %s has no pods (selector %s)", name, ns, sel)}
	}
	sort.SliceStable(pods, func(i, j int) bool { return betterForLogs(pods[i], pods[j]) })
	if len(pods) > 1 {
		fmt.Fprintf(r.out, "Found %d pods, using pod/%s\n", len(pods), pods[0].Name)
	}
	return pods[0], nil
}

// betterForLogs orders the pods of a workload the way kubectl chooses one
// to read: scheduled before unscheduled; Running, then Unknown, then
// Pending; ready before not ready; ready longer first; more restarts first
// (that is the crashing one); older first.
func betterForLogs(a, b *corev1.Pod) bool {
	if sa, sb := a.Spec.NodeName != "", b.Spec.NodeName != ""; sa != sb {
		return sa
	}
	if pa, pb := phaseRank(a.Status.Phase), phaseRank(b.Status.Phase); pa != pb {
		return pa < pb
	}
	ra, rb := podReady(a), podReady(b)
	if ra != rb {
		return ra
	}
	if ra && rb {
		ta, tb := readySince(a), readySince(b)
		if !ta.IsZero() && !tb.IsZero() && !ta.Equal(tb) {
			return ta.Before(tb)
		}
	}
	if ca, cb := restartCount(a), restartCount(b); ca != cb {
		return ca > cb
	}
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		switch {
		case ta.IsZero():
			return false
		case tb.IsZero():
			return true
		}
		return ta.Before(tb)
	}
	return a.Name < b.Name
}

func phaseRank(p corev1.PodPhase) int {
	switch p {
	case corev1.PodRunning:
		return 0
	case corev1.PodUnknown:
		return 1
	case corev1.PodPending:
		return 2
	}
	return 3
}

func readySince(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

func restartCount(p *corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}

// pickContainer returns -c when given, else the pod's only container, else
// the one its default-container annotation names, else the first one (and
// says so, as kubectl does).
func (r *runner) pickContainer(p *corev1.Pod) (string, error) {
	var all []string
	for _, c := range p.Spec.Containers {
		all = append(all, c.Name)
	}
	var every []string
	every = append(every, all...)
	for _, c := range p.Spec.InitContainers {
		every = append(every, c.Name)
	}
	for _, c := range p.Spec.EphemeralContainers {
		every = append(every, c.Name)
	}
	if want := r.inv.container; want != "" {
		for _, n := range every {
			if n == want {
				return want, nil
			}
		}
		return "", &Error{Msg: fmt.Sprintf("container %s not found in pod %s (namespace %s); it has: %s",
			want, p.Name, r.inv.namespace, strings.Join(every, ", "))}
	}
	switch len(all) {
	case 0:
		return "", &Error{Msg: fmt.Sprintf("pod %s in namespace %s has no containers", p.Name, r.inv.namespace)}
	case 1:
		return all[0], nil
	}
	if want := p.Annotations[defaultContainerAnnotation]; want != "" {
		for _, n := range all {
			if n == want {
				return want, nil
			}
		}
	}
	fmt.Fprintf(r.out, "Defaulted container %q out of: %s\n", all[0], strings.Join(all, ", "))
	return all[0], nil
}
