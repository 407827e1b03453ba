package kube

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/duration"
)

// newTable matches the column spacing of kubectl's tables.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
}

func (r *runner) call(verb, resource, kind, name string) call {
	return call{target: r.c.Name, verb: verb, resource: resource, kind: kind, name: name, ns: r.inv.namespace}
}

// pods fetches the pod named by the command, or the pods its selector
// (possibly empty) matches, sorted by name.
func (r *runner) pods(ctx context.Context) ([]corev1.Pod, error) {
	api := r.c.Kube.CoreV1().Pods(r.inv.namespace)
	if r.inv.name != "" {
		p, err := api.Get(ctx, r.inv.name, metav1.GetOptions{})
		if err != nil {
			return nil, r.call("get", "pods", "pod", r.inv.name).wrap(err)
		}
		if r.inv.labelSel != nil && !r.inv.labelSel.Matches(labels.Set(p.Labels)) {
			return nil, nil
		}
		return []corev1.Pod{*p}, nil
	}
	list, err := api.List(ctx, metav1.ListOptions{LabelSelector: r.inv.selector})
	if err != nil {
		return nil, r.call("list", "pods", "pod", "").wrap(err)
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, nil
}

func (r *runner) noneFound() {
	fmt.Fprintf(r.out, "No resources found in %s namespace.\n", r.inv.namespace)
}

func (r *runner) getPods(ctx context.Context) error {
	pods, err := r.pods(ctx)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		r.noneFound()
		return nil
	}
	now := r.e.now()
	tw := newTable(r.out)
	fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tRESTARTS\tAGE")
	for i := range pods {
		p := &pods[i]
		ready, total := readyCount(p)
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\n", p.Name, ready, total, podStatus(p), restarts(p, now), age(now, p.CreationTimestamp.Time))
	}
	return tw.Flush()
}

func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

func isSidecar(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
	}
	return false
}

// countedStatuses are the containers kubectl counts in READY and RESTARTS:
// the app containers and the sidecars (restartable init containers).
func countedStatuses(p *corev1.Pod) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for _, s := range p.Status.InitContainerStatuses {
		if isSidecar(p, s.Name) {
			out = append(out, s)
		}
	}
	return append(out, p.Status.ContainerStatuses...)
}

func readyCount(p *corev1.Pod) (ready, total int) {
	total = len(p.Spec.Containers)
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			total++
		}
	}
	for _, s := range countedStatuses(p) {
		if s.Ready {
			ready++
		}
	}
	return ready, total
}

// restarts renders the RESTARTS column: the count, and how long ago the
// last restart was when the kubelet recorded it.
func restarts(p *corev1.Pod, now time.Time) string {
	var n int32
	var last time.Time
	for _, s := range countedStatuses(p) {
		n += s.RestartCount
		if t := s.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(last) {
			last = t.FinishedAt.Time
		}
	}
	if n == 0 || last.IsZero() {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d (%s ago)", n, duration.HumanDuration(now.Sub(last)))
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podStatus is the STATUS column as kubectl derives it: the most telling
// container reason (CrashLoopBackOff, OOMKilled, Init:…) wins over the
// phase, and a pod being deleted shows Terminating.
func podStatus(p *corev1.Pod) string {
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	initializing := false
	for i, s := range p.Status.InitContainerStatuses {
		t, w := s.State.Terminated, s.State.Waiting
		switch {
		case t != nil && t.ExitCode == 0:
			continue
		case isSidecar(p, s.Name) && s.Started != nil && *s.Started:
			continue
		case t != nil && t.Reason != "":
			reason = "Init:" + t.Reason
		case t != nil && t.Signal != 0:
			reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
		case t != nil:
			reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			reason = "Init:" + w.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing {
		running := false
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			s := p.Status.ContainerStatuses[i]
			t, w := s.State.Terminated, s.State.Waiting
			switch {
			case w != nil && w.Reason != "":
				reason = w.Reason
			case t != nil && t.Reason != "":
				reason = t.Reason
			case t != nil && t.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", t.Signal)
			case t != nil:
				reason = fmt.Sprintf("ExitCode:%d", t.ExitCode)
			case s.Ready && s.State.Running != nil:
				running = true
			}
		}
		if reason == "Completed" && running {
			reason = "NotReady"
			if podReady(p) {
				reason = "Running"
			}
		}
	}

	if p.DeletionTimestamp != nil {
		if p.Status.Reason == "NodeLost" {
			return "Unknown"
		}
		return "Terminating"
	}
	return reason
}

func (r *runner) describePods(ctx context.Context) error {
	pods, err := r.pods(ctx)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		r.noneFound()
		return nil
	}
	now := r.e.now()
	for i := range pods {
		if i > 0 {
			fmt.Fprint(r.out, "\n\n")
		}
		events, evErr := r.podEvents(ctx, &pods[i])
		describePod(r.out, &pods[i], events, evErr, now)
		if r.out.Full() {
			break
		}
	}
	return nil
}

// podEvents lists the events about one pod, oldest first. The field
// selector narrows the list on a real server; the check below makes the
// result right even where it is ignored (such as the fake clientset).
func (r *runner) podEvents(ctx context.Context, p *corev1.Pod) ([]corev1.Event, error) {
	sel := fields.Set{
		"involvedObject.kind":      "Pod",
		"involvedObject.name":      p.Name,
		"involvedObject.namespace": p.Namespace,
	}
	if p.UID != "" {
		sel["involvedObject.uid"] = string(p.UID)
	}
	list, err := r.c.Kube.CoreV1().Events(r.inv.namespace).List(ctx, metav1.ListOptions{FieldSelector: sel.AsSelector().String()})
	if err != nil {
		return nil, r.call("list", "events", "", "").wrap(err)
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		o := ev.InvolvedObject
		if o.Name != p.Name || (o.Kind != "" && o.Kind != "Pod") ||
			(o.Namespace != "" && o.Namespace != p.Namespace) ||
			(o.UID != "" && p.UID != "" && o.UID != p.UID) {
			continue
		}
		out = append(out, ev)
	}
	sort.SliceStable(out, func(i, j int) bool {
		_, a, _ := eventTimes(&out[i])
		_, b, _ := eventTimes(&out[j])
		return a.Before(b)
	})
	return out, nil
}

// eventTimes reads first and last occurrence and count from whichever of
// the old (core/v1) and new (series) fields the reporter filled in.
func eventTimes(ev *corev1.Event) (first, last time.Time, count int32) {
	first, last, count = ev.FirstTimestamp.Time, ev.LastTimestamp.Time, ev.Count
	if ev.Series != nil {
		count = ev.Series.Count
		last = ev.Series.LastObservedTime.Time
	}
	if first.IsZero() {
		first = ev.EventTime.Time
	}
	if first.IsZero() {
		first = ev.CreationTimestamp.Time
	}
	if last.IsZero() {
		last = first
	}
	return first, last, count
}

func stamp(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return t.Format(time.RFC1123Z)
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func describePod(w io.Writer, p *corev1.Pod, events []corev1.Event, evErr error, now time.Time) {
	field := func(indent, key, value string) {
		if key != "" {
			key += ":"
		}
		fmt.Fprintf(w, "%s%-*s%s\n", indent, 18-len(indent), key, value)
	}
	field("", "Name", p.Name)
	field("", "Namespace", p.Namespace)
	node := "<none>"
	if p.Spec.NodeName != "" {
		node = p.Spec.NodeName
		if p.Status.HostIP != "" {
			node += "/" + p.Status.HostIP
		}
	}
	field("", "Node", node)
	if p.Status.StartTime != nil {
		field("", "Start Time", stamp(*p.Status.StartTime))
	}
	writeMap(w, field, "Labels", p.Labels)
	status := string(p.Status.Phase)
	if p.DeletionTimestamp != nil {
		status = "Terminating (lasts " + duration.HumanDuration(now.Sub(p.DeletionTimestamp.Time)) + ")"
	}
	field("", "Status", orNone(status))
	if p.Status.Reason != "" {
		field("", "Reason", p.Status.Reason)
	}
	if p.Status.Message != "" {
		field("", "Message", p.Status.Message)
	}
	field("", "IP", orNone(p.Status.PodIP))
	if ref := metav1.GetControllerOf(p); ref != nil {
		field("", "Controlled By", ref.Kind+"/"+ref.Name)
	}

	statuses := map[string]corev1.ContainerStatus{}
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		statuses[s.Name] = s
	}
	if len(p.Spec.InitContainers) > 0 {
		fmt.Fprintln(w, "Init Containers:")
		for _, c := range p.Spec.InitContainers {
			describeContainer(w, c, statuses)
		}
	}
	fmt.Fprintln(w, "Containers:")
	for _, c := range p.Spec.Containers {
		describeContainer(w, c, statuses)
	}

	fmt.Fprintln(w, "Conditions:")
	if len(p.Status.Conditions) == 0 {
		fmt.Fprintln(w, "  <none>")
	} else {
		tw := newTable(w)
		fmt.Fprintln(tw, "  Type\tStatus")
		for _, c := range p.Status.Conditions {
			fmt.Fprintf(tw, "  %s\t%s\n", c.Type, c.Status)
		}
		tw.Flush()
	}

	switch {
	case evErr != nil:
		fmt.Fprintf(w, "Events:            <not listed: %v>\n", evErr)
	case len(events) == 0:
		fmt.Fprintln(w, "Events:            <none>")
	default:
		fmt.Fprintln(w, "Events:")
		tw := newTable(w)
		fmt.Fprintln(tw, "  Type\tReason\tAge\tFrom\tMessage")
		fmt.Fprintln(tw, "  ----\t------\t----\t----\t-------")
		for i := range events {
			ev := &events[i]
			first, last, count := eventTimes(ev)
			when := age(now, last)
			if count > 1 {
				when = fmt.Sprintf("%s (x%d over %s)", when, count, age(now, first))
			}
			from := ev.Source.Component
			if from == "" {
				from = ev.ReportingController
			}
			msg := strings.Join(strings.Fields(ev.Message), " ")
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", ev.Type, ev.Reason, when, orNone(from), msg)
		}
		tw.Flush()
	}
}

func writeMap(w io.Writer, field func(indent, key, value string), key string, m map[string]string) {
	if len(m) == 0 {
		field("", key, "<none>")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			field("", key, k+"="+m[k])
			continue
		}
		field("", "", k+"="+m[k])
	}
}

func describeContainer(w io.Writer, c corev1.Container, statuses map[string]corev1.ContainerStatus) {
	field := func(indent, key, value string) {
		fmt.Fprintf(w, "%s%-*s%s\n", indent, 20-len(indent)+4, key+":", value)
	}
	fmt.Fprintf(w, "  %s:\n", c.Name)
	field("    ", "Image", c.Image)
	s, ok := statuses[c.Name]
	if ok {
		describeState(field, "State", s.State)
		if s.LastTerminationState.Terminated != nil {
			describeState(field, "Last State", s.LastTerminationState)
		}
		field("    ", "Ready", boolWord(s.Ready))
		field("    ", "Restart Count", fmt.Sprint(s.RestartCount))
	} else {
		field("    ", "State", "<unknown>")
	}
	describeResources(w, "Limits", c.Resources.Limits)
	describeResources(w, "Requests", c.Resources.Requests)
}

func describeState(field func(indent, key, value string), label string, st corev1.ContainerState) {
	switch {
	case st.Running != nil:
		field("    ", label, "Running")
		field("      ", "Started", stamp(st.Running.StartedAt))
	case st.Terminated != nil:
		t := st.Terminated
		field("    ", label, "Terminated")
		if t.Reason != "" {
			field("      ", "Reason", t.Reason)
		}
		if t.Message != "" {
			field("      ", "Message", strings.Join(strings.Fields(t.Message), " "))
		}
		field("      ", "Exit Code", fmt.Sprint(t.ExitCode))
		if t.Signal != 0 {
			field("      ", "Signal", fmt.Sprint(t.Signal))
		}
		field("      ", "Started", stamp(t.StartedAt))
		field("      ", "Finished", stamp(t.FinishedAt))
	case st.Waiting != nil:
		field("    ", label, "Waiting")
		if st.Waiting.Reason != "" {
			field("      ", "Reason", st.Waiting.Reason)
		}
		if st.Waiting.Message != "" {
			field("      ", "Message", strings.Join(strings.Fields(st.Waiting.Message), " "))
		}
	default:
		field("    ", label, "Waiting")
	}
}

func describeResources(w io.Writer, label string, rl corev1.ResourceList) {
	if len(rl) == 0 {
		return
	}
	fmt.Fprintf(w, "    %s:\n", label)
	names := make([]string, 0, len(rl))
	for n := range rl {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		q := rl[corev1.ResourceName(n)]
		fmt.Fprintf(w, "      %-9s%s\n", n+":", q.String())
	}
}

func boolWord(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
