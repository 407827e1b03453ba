package playbook

// KubeCommand is a kubectl invocation that the kube executor runs natively
// through client-go instead of a shell. The classifier builds it from a
// shell line such as
//
//	kubectl logs -f deployment/telegram-platform --since=10m | grep ERROR
//
// and keeps the original text in Raw for display and for the shell fallback.
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
