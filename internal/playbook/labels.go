package playbook

// PlaceholderLabels is the table through which a runbook's placeholders
// find alert labels. A placeholder's name is compared in lower case with
// letters and digits only, so $NAMESPACE, ${NAMESPACE}, <namespace>,
// {{ $labels.namespace }} and {{ .Labels.namespace }} are one row, and so
// are $POD_NAME and <pod-name>. The labels of the row are tried after the
// placeholder's own name (CandidateNames), in order; the first label the
// alert carries, with a value the parameter's type accepts, fills it.
// Workloads fall back to the service label, namespaces to the namespace
// label an exporter renamed (exported_namespace).
//
// docs/playbooks.md shows the same table; a test holds them equal.
var PlaceholderLabels = []PlaceholderRow{
	{Names: []string{"namespace", "ns", "project"}, Labels: []string{"namespace", "exported_namespace"}},
	{Names: []string{"pod", "podname"}, Labels: []string{"pod", "exported_pod"}},
	{Names: []string{"container", "containername"}, Labels: []string{"container"}},
	{Names: []string{"node", "nodename", "host", "hostname"}, Labels: []string{"node", "instance"}},
	{Names: []string{"instance"}, Labels: []string{"instance"}},
	{Names: []string{"deployment", "deploy", "deploymentname"}, Labels: []string{"deployment", "service"}},
	{Names: []string{"statefulset", "sts"}, Labels: []string{"statefulset", "service"}},
	{Names: []string{"daemonset", "ds"}, Labels: []string{"daemonset", "service"}},
	{Names: []string{"replicaset", "rs"}, Labels: []string{"replicaset"}},
	{Names: []string{"job", "jobname"}, Labels: []string{"job_name", "job"}},
	{Names: []string{"cronjob"}, Labels: []string{"cronjob"}},
	{Names: []string{"pvc", "persistentvolumeclaim", "claim", "claimname"}, Labels: []string{"persistentvolumeclaim"}},
	{Names: []string{"pv", "persistentvolume"}, Labels: []string{"persistentvolume"}},
	{Names: []string{"hpa", "horizontalpodautoscaler"}, Labels: []string{"horizontalpodautoscaler"}},
	{Names: []string{"service", "svc", "servicename", "app", "application"}, Labels: []string{"service"}},
	{Names: []string{"cluster"}, Labels: []string{"cluster"}},
}

// PlaceholderRow is one row of PlaceholderLabels.
type PlaceholderRow struct {
	Names  []string // placeholder names, normalised
	Labels []string // alert labels, tried in order
}

// placeholderLabels returns the labels of the row a placeholder name is in.
func placeholderLabels(name string) []string {
	n := normalize(name)
	for _, r := range PlaceholderLabels {
		for _, x := range r.Names {
			if x == n {
				return r.Labels
			}
		}
	}
	return nil
}

// RunbookCandidates lists the label and annotation names tried for a
// runbook's parameter: CandidateNames, then the table's labels for the
// whole name, else for the word CandidateNames ends with ("pod" for
// pod_name).
func RunbookCandidates(param string) []string {
	names := CandidateNames(param)
	add := func(ls []string) {
		for _, l := range ls {
			dup := false
			for _, n := range names {
				dup = dup || normalize(n) == normalize(l)
			}
			if !dup {
				names = append(names, l)
			}
		}
	}
	if ls := placeholderLabels(param); ls != nil {
		add(ls)
	} else if len(names) > 0 {
		add(placeholderLabels(names[len(names)-1]))
	}
	return names
}
