package playbook

// KubeCommand is a kubectl invocation that the kube executor runs natively
// through client-go instead of a shell. The classifier builds it from a
// shell line such as
//
//	kubectl logs -f deployment/telegram-platform --since=10m | grep ERROR
//
// and keeps the original text in Raw for display and for the shell fallback.
//
// The forms recognised are: get pods [NAME] [-l SEL] [-o FMT] [-A],
// describe pod NAME|-l SEL, logs POD|pod/X|deployment/X|-l SEL [-f]
// [-p|--previous] [--since D] [--tail N] [-c C], top pods [NAME] [-l SEL],
// scale deployment X --replicas=N, rollout restart deployment X; each with
// -n NAMESPACE and, for get/describe/logs/top, a final "| grep PATTERN".
// Resource is normalised: "pods" for get and top, "pod" for describe and
// pod logs, "deployment" for deployment/x, deploy and deployments. Name,
// Namespace, Selector, Grep and flag values may hold placeholders
// (<failed-pod>, {{replicas}}) until Step.Bind substitutes them.
type KubeCommand struct {
	Raw       string            `json:"raw"`
	Verb      string            `json:"verb"`                // get, describe, logs, top, scale, rollout restart
	Resource  string            `json:"resource,omitempty"`  // pods, pod, deployment; "deployment" for deployment/x
	Name      string            `json:"name,omitempty"`      // may hold a parameter placeholder such as <failed-pod>
	Namespace string            `json:"namespace,omitempty"` // from -n/--namespace; empty means the target's default
	Selector  string            `json:"selector,omitempty"`  // from -l/--selector
	Flags     map[string]string `json:"flags,omitempty"`     // other flags without leading dashes: since=10m, previous=true, replicas=5, follow=true
	Grep      string            `json:"grep,omitempty"`      // pattern of a trailing "| grep PATTERN"
	// Bounded is set for -f/--follow: the executor stops following at the
	// step's timeout.
	Bounded bool `json:"bounded,omitempty"`
}
