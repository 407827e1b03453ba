package kube

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// topPods prints pod usage from metrics.k8s.io/v1beta1 (metrics-server), in
// kubectl's units: CPU in millicores, memory in MiB, summed over the
// containers of a pod.
func (r *runner) topPods(ctx context.Context) error {
	if r.c.Metrics == nil {
		return &Error{Msg: fmt.Sprintf("top pods: target %q has no metrics client", r.c.Name)}
	}
	api := r.c.Metrics.MetricsV1beta1().PodMetricses(r.inv.namespace)
	var items []metricsv1beta1.PodMetrics
	if r.inv.name != "" {
		m, err := api.Get(ctx, r.inv.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return &Error{Msg: fmt.Sprintf("no metrics for pod %s in namespace %s (the pod is missing, just started, or metrics-server is not installed)",
				r.inv.name, r.inv.namespace), Err: err}
		}
		if err != nil {
			return r.call("get", "pods.metrics.k8s.io", "pod", r.inv.name).wrap(err)
		}
		items = append(items, *m)
	} else {
		list, err := api.List(ctx, metav1.ListOptions{LabelSelector: r.inv.selector})
		if apierrors.IsNotFound(err) {
			return &Error{Msg: fmt.Sprintf("the metrics API (metrics.k8s.io) is not available on target %q; is metrics-server installed?", r.c.Name), Err: err}
		}
		if err != nil {
			return r.call("list", "pods.metrics.k8s.io", "", "").wrap(err)
		}
		for _, m := range list.Items {
			if r.inv.labelSel == nil || r.inv.labelSel.Matches(labels.Set(m.Labels)) {
				items = append(items, m)
			}
		}
	}
	if len(items) == 0 {
		r.noneFound()
		return nil
	}

	type row struct {
		name     string
		milliCPU int64
		memory   int64
	}
	rows := make([]row, 0, len(items))
	for _, m := range items {
		rw := row{name: m.Name}
		for _, c := range m.Containers {
			cpu, mem := c.Usage[corev1.ResourceCPU], c.Usage[corev1.ResourceMemory]
			rw.milliCPU += cpu.MilliValue()
			rw.memory += mem.Value()
		}
		rows = append(rows, rw)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		switch r.inv.sortBy {
		case "cpu":
			if rows[i].milliCPU != rows[j].milliCPU {
				return rows[i].milliCPU > rows[j].milliCPU
			}
		case "memory":
			if rows[i].memory != rows[j].memory {
				return rows[i].memory > rows[j].memory
			}
		}
		return rows[i].name < rows[j].name
	})

	tw := newTable(r.out)
	fmt.Fprintln(tw, "NAME\tCPU(cores)\tMEMORY(bytes)")
	for _, rw := range rows {
		fmt.Fprintf(tw, "%s\t%dm\t%dMi\n", rw.name, rw.milliCPU, rw.memory/(1<<20))
	}
	return tw.Flush()
}
