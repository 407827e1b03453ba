package kube

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// ErrUnsupported is matched (errors.Is) by every error saying a command is
// valid kubectl but not run natively. Such a command can still run through
// a kubectl binary in the shell executor.
var ErrUnsupported = errors.New("not supported natively")

// UnsupportedError names the kubectl form that is not run natively.
type UnsupportedError struct {
	// What is the form, such as "get services" or "logs --all-containers".
	What string
}

func (e *UnsupportedError) Error() string {
	return "kubectl " + e.What + " is not supported natively; configure a kubectl binary to run it through the shell executor"
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// ParameterError reports a placeholder such as <failed-pod> that nobody
// filled in before the command ran.
type ParameterError struct {
	Param string // with its angle brackets
}

func (e *ParameterError) Error() string {
	return "parameter " + e.Param + " is not filled in"
}

// Supported returns nil when cmd runs natively. Otherwise the error either
// matches ErrUnsupported (valid kubectl, not covered here) or says what is
// malformed. Unfilled placeholders are allowed here, so a playbook can be
// checked before anyone fills them in; Run refuses them.
func Supported(cmd playbook.KubeCommand) error {
	_, err := parse(cmd)
	return err
}

type action int

const (
	actGetPods action = iota + 1
	actDescribePods
	actLogs
	actTopPods
	actScale
	actRestart
)

// spec is a command whose shape is known to be supported; its values are
// checked later by resolve, once placeholders are ruled out.
type spec struct {
	act      action
	verb     string
	resource string // canonical: "pods" or "deployment"; "" for logs of a bare pod name
	name     string
	selector string
	grep     string
	flags    map[string]string // canonical flag names
	follow   bool
}

var resourceAlias = map[string]string{
	"pod": "pods", "pods": "pods", "po": "pods",
	"deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
	"deployment.apps": "deployment", "deployments.apps": "deployment",
}

var flagAlias = map[string]string{
	"p": "previous", "f": "follow", "c": "container",
}

// flagsFor lists the flags each form accepts, by canonical name.
var flagsFor = map[action]map[string]bool{
	actGetPods:      {},
	actDescribePods: {},
	actLogs: {
		"since": true, "since-time": true, "previous": true, "tail": true, "follow": true,
		"timestamps": true, "container": true, "limit-bytes": true,
	},
	actTopPods: {"sort-by": true},
	actScale:   {"replicas": true, "current-replicas": true},
	actRestart: {},
}

func parse(cmd playbook.KubeCommand) (*spec, error) {
	verb := strings.Join(strings.Fields(cmd.Verb), " ")
	res, name := cmd.Resource, cmd.Name
	if res == "" && strings.Contains(name, "/") {
		res, name, _ = strings.Cut(name, "/")
	}
	canon, known := resourceAlias[strings.ToLower(res)]
	unsupported := func() error {
		w := verb
		if res != "" {
			w += " " + res
		}
		return &UnsupportedError{What: w}
	}

	sp := &spec{verb: verb, resource: canon, name: name, selector: cmd.Selector, grep: cmd.Grep}
	switch verb {
	case "get":
		if !known || canon != "pods" {
			return nil, unsupported()
		}
		sp.act = actGetPods
	case "describe":
		if !known || canon != "pods" {
			return nil, unsupported()
		}
		if name == "" && cmd.Selector == "" {
			return nil, errors.New("kubectl describe pod needs a pod name or a selector (-l)")
		}
		sp.act = actDescribePods
	case "logs":
		switch {
		case res == "":
			sp.resource = "pods"
		case !known:
			return nil, unsupported()
		}
		if cmd.Selector != "" {
			return nil, &UnsupportedError{What: "logs -l"}
		}
		if name == "" {
			return nil, errors.New("kubectl logs needs a pod name or deployment/NAME")
		}
		sp.act = actLogs
	case "top":
		if !known || canon != "pods" {
			return nil, unsupported()
		}
		sp.act = actTopPods
	case "scale":
		if !known || canon != "deployment" {
			return nil, unsupported()
		}
		if name == "" {
			return nil, errors.New("kubectl scale deployment needs a deployment name")
		}
		if cmd.Selector != "" {
			return nil, &UnsupportedError{What: "scale -l"}
		}
		sp.act = actScale
	case "rollout restart":
		if !known || canon != "deployment" {
			return nil, unsupported()
		}
		if name == "" {
			return nil, errors.New("kubectl rollout restart deployment needs a deployment name")
		}
		if cmd.Selector != "" {
			return nil, &UnsupportedError{What: "rollout restart -l"}
		}
		sp.act = actRestart
	default:
		return nil, unsupported()
	}

	sp.flags = make(map[string]string, len(cmd.Flags))
	keys := make([]string, 0, len(cmd.Flags))
	for k := range cmd.Flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := strings.TrimLeft(k, "-")
		if a, ok := flagAlias[c]; ok {
			c = a
		}
		if !flagsFor[sp.act][c] {
			dash := "--"
			if len(c) == 1 {
				dash = "-"
			}
			return nil, &UnsupportedError{What: verb + " " + dash + c}
		}
		sp.flags[c] = cmd.Flags[k]
	}
	if sp.act == actScale {
		if _, ok := sp.flags["replicas"]; !ok {
			return nil, errors.New("kubectl scale needs --replicas")
		}
	}
	if sp.act == actLogs {
		sp.follow = cmd.Bounded
		if v, ok := sp.flags["follow"]; ok && !isPlaceholder(v) {
			f, err := parseBool("follow", v)
			if err != nil {
				return nil, err
			}
			sp.follow = sp.follow || f
		}
	}
	if sp.grep != "" {
		if sp.act != actLogs {
			return nil, &UnsupportedError{What: verb + " | grep"}
		}
		if err := checkGrep(sp.grep); err != nil {
			return nil, err
		}
	} else if sp.act != actLogs && cmd.Bounded {
		return nil, &UnsupportedError{What: verb + " --watch"}
	}
	return sp, nil
}

// checkGrep accepts patterns that mean the same as a fixed string to grep.
// grep reads its pattern as a basic regular expression; with none of the
// characters below, that expression matches exactly the literal text, so a
// substring test gives grep's answer. Anything else goes to real grep.
func checkGrep(p string) error {
	if strings.HasPrefix(p, "-") {
		return &UnsupportedError{What: "logs | grep " + p}
	}
	if strings.ContainsAny(p, `.*[]^$\`) {
		return &UnsupportedError{What: fmt.Sprintf("logs | grep %q (a regular expression; only fixed strings are matched natively)", p)}
	}
	if strings.ContainsAny(p, "\n\r") {
		return &UnsupportedError{What: "logs | grep with a multi-line pattern"}
	}
	return nil
}

var placeholderRE = regexp.MustCompile(`<[^<>\s]+>`)

func isPlaceholder(s string) bool { return placeholderRE.MatchString(s) }

// checkFilled refuses a command that still holds a placeholder.
func checkFilled(cmd playbook.KubeCommand) error {
	fields := []string{cmd.Name, cmd.Resource, cmd.Namespace, cmd.Selector, cmd.Grep}
	keys := make([]string, 0, len(cmd.Flags))
	for k := range cmd.Flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fields = append(fields, cmd.Flags[k])
	}
	for _, f := range fields {
		if p := placeholderRE.FindString(f); p != "" {
			return &ParameterError{Param: p}
		}
	}
	return nil
}

// invocation is a spec with its values checked and the namespace settled.
type invocation struct {
	*spec
	namespace string
	labelSel  labels.Selector

	// logs
	logPod    bool // name is a pod, not a deployment
	container string
	previous  bool
	timestamp bool
	since     *int64
	sinceTime *metav1.Time
	tail      *int64
	limit     *int64

	// top
	sortBy string

	// scale
	replicas int32
	current  *int32
}

func (s *spec) what() string {
	w := s.verb
	if s.resource != "" {
		w += " " + s.resource
	}
	if s.name != "" {
		w += " " + s.name
	}
	return w
}

func (s *spec) resolve(ns string) (*invocation, error) {
	inv := &invocation{spec: s, namespace: ns}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return nil, fmt.Errorf("invalid namespace %q: %s", ns, strings.Join(errs, "; "))
	}
	if s.name != "" {
		if errs := validation.IsDNS1123Subdomain(s.name); len(errs) > 0 {
			return nil, fmt.Errorf("invalid %s name %q: %s", kindWord(s.resource), s.name, strings.Join(errs, "; "))
		}
	}
	if s.selector != "" {
		sel, err := labels.Parse(s.selector)
		if err != nil {
			return nil, fmt.Errorf("invalid label selector %q: %w", s.selector, err)
		}
		inv.labelSel = sel
	}

	f := s.flags
	var err error
	switch s.act {
	case actLogs:
		inv.logPod = s.resource == "pods"
		inv.container = f["container"]
		if inv.container != "" {
			if errs := validation.IsDNS1123Label(inv.container); len(errs) > 0 {
				return nil, fmt.Errorf("invalid container name %q: %s", inv.container, strings.Join(errs, "; "))
			}
		}
		if v, ok := f["previous"]; ok {
			if inv.previous, err = parseBool("previous", v); err != nil {
				return nil, err
			}
		}
		if v, ok := f["timestamps"]; ok {
			if inv.timestamp, err = parseBool("timestamps", v); err != nil {
				return nil, err
			}
		}
		_, hasSince := f["since"]
		_, hasSinceTime := f["since-time"]
		if hasSince && hasSinceTime {
			return nil, errors.New("kubectl logs: --since and --since-time cannot be used together")
		}
		if v := f["since"]; hasSince {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("kubectl logs: --since=%q is not a positive duration such as 10m", v)
			}
			secs := int64(math.Ceil(d.Seconds()))
			inv.since = &secs
		}
		if v := f["since-time"]; hasSinceTime {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, fmt.Errorf("kubectl logs: --since-time=%q is not an RFC 3339 time", v)
			}
			mt := metav1.NewTime(t)
			inv.sinceTime = &mt
		}
		if v, ok := f["tail"]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < -1 {
				return nil, fmt.Errorf("kubectl logs: --tail=%q is not a line count (-1 means all)", v)
			}
			if n >= 0 {
				inv.tail = &n
			}
		}
		if v, ok := f["limit-bytes"]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("kubectl logs: --limit-bytes=%q is not a positive byte count", v)
			}
			inv.limit = &n
		}
	case actTopPods:
		switch v := f["sort-by"]; v {
		case "", "cpu", "memory":
			inv.sortBy = v
		default:
			return nil, fmt.Errorf("kubectl top pods: --sort-by=%q must be cpu or memory", v)
		}
	case actScale:
		n, err := parseReplicas("replicas", f["replicas"])
		if err != nil {
			return nil, err
		}
		inv.replicas = n
		if v, ok := f["current-replicas"]; ok {
			c, err := parseReplicas("current-replicas", v)
			if err != nil {
				return nil, err
			}
			inv.current = &c
		}
	}
	return inv, nil
}

func parseReplicas(flag, v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("kubectl scale: --%s=%q is not a replica count (a whole number, 0 or more)", flag, v)
	}
	return int32(n), nil
}

func parseBool(flag, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("kubectl: --%s=%q is not true or false", flag, v)
}

func kindWord(resource string) string {
	if resource == "deployment" {
		return "deployment"
	}
	return "pod"
}
