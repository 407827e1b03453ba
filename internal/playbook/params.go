package playbook

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Labels commonly attached to alerts by Prometheus and kube-state-metrics.
// A parameter one of whose names is among them, in the front matter's
// labels or in a procedure's match= labels, counts as provided by the
// alert for lint purposes.
var wellKnownLabels = wordSet(`alertname severity pod namespace container node instance job
service deployment statefulset daemonset cluster endpoint team env environment region`)

// Words too generic to stand for a parameter on their own: "pod-name" is
// tried as "pod", not "name"; "license_id" as "license", not "id".
var genericWords = wordSet(`name id key value type number num`)

// splitWords splits a parameter name into lower-case words at -, _, and
// lower-to-upper case changes.
func splitWords(name string) []string {
	var words []string
	var cur []rune
	runes := []rune(name)
	for i, r := range runes {
		if r == '-' || r == '_' || r == '.' || r == ' ' {
			if len(cur) > 0 {
				words = append(words, strings.ToLower(string(cur)))
				cur = nil
			}
			continue
		}
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(runes[i-1]) && len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = nil
		}
		cur = append(cur, r)
	}
	if len(cur) > 0 {
		words = append(words, strings.ToLower(string(cur)))
	}
	return words
}

// CandidateNames lists the label/annotation names tried for a parameter,
// in order: the full name in kebab and snake case, then its last word
// (or the word before it when the last is generic, such as "name" or "id").
// "failed-pod" gives failed-pod, failed_pod, pod.
func CandidateNames(param string) []string {
	if strings.HasPrefix(param, "$") {
		return nil // positional: only a human can say what $1 is
	}
	w := splitWords(param)
	if len(w) == 0 {
		return nil
	}
	out := []string{strings.Join(w, "-")}
	if len(w) > 1 {
		out = append(out, strings.Join(w, "_"))
		last := w[len(w)-1]
		if genericWords[last] {
			last = w[len(w)-2]
		}
		out = append(out, last)
	}
	return out
}

// nonNetworkRange are words before "range" that make it something other
// than addresses: a time_range is not a CIDR prefix.
var nonNetworkRange = wordSet(`time date day hour port version page line row id year age size price`)

// inferType guesses a parameter's type from its name.
func inferType(name string) ParamType {
	w := splitWords(name)
	if len(w) == 0 {
		return TypeString
	}
	last := w[len(w)-1]
	switch {
	case last == "ip" || last == "addr" && len(w) > 1 && w[len(w)-2] == "ip":
		return TypeIP
	case last == "pid" || last == "port" || last == "replicas" || last == "count" || last == "limit":
		return TypeInt
	case last == "cidr" || last == "subnet" || last == "network":
		return TypeCIDR
	case last == "range" && (len(w) == 1 || !nonNetworkRange[w[len(w)-2]]):
		return TypeCIDR
	}
	for _, x := range w {
		switch x {
		case "pod", "deployment", "node", "namespace", "container", "statefulset":
			return TypeK8sName
		}
	}
	return TypeString
}

// resolveSources fills every parameter's sources once the procedure is
// complete, and warns about parameters no alert label provides.
func (p *parser) resolveSources(pr *Procedure) {
	known := knownLabels(p.pb, pr)
	type output struct {
		key  string
		cols []string
	}
	var earlier []output
	for _, t := range pr.Tasks() {
		st := t.Step
		if st == nil {
			continue
		}
		for i := range st.Params {
			prm := &st.Params[i]
			names := CandidateNames(prm.Name)
			if p.runbook {
				names = RunbookCandidates(prm.Name)
			}
			prm.Sources = nil
			if len(names) > 0 {
				prm.Sources = append(prm.Sources,
					Source{Kind: SourceLabel, Names: names},
					Source{Kind: SourceAnnotation, Names: names})
			}
			var fromStep *Source
			for k := len(earlier) - 1; k >= 0 && fromStep == nil; k-- {
				for _, c := range earlier[k].cols {
					for _, n := range append([]string{prm.Name}, names...) {
						if normalize(c) == normalize(n) {
							fromStep = &Source{Kind: SourceStep, Step: earlier[k].key, Column: c}
							break
						}
					}
					if fromStep != nil {
						break
					}
				}
			}
			if fromStep != nil {
				prm.Sources = append(prm.Sources, *fromStep)
			}
			prm.Sources = append(prm.Sources, Source{Kind: SourceHuman})
			labelled := false
			for _, n := range names {
				if known[normalize(n)] {
					labelled = true
				}
			}
			if !labelled {
				pos := Pos{Line: st.Line, Col: 1}
				for _, s := range p.procParams[st] {
					if s.name == prm.Name {
						pos = s.pos
						break
					}
				}
				how := "the approver fills it in"
				if fromStep != nil {
					how = fmt.Sprintf("the approver picks it from column %q of step %s", fromStep.Column, fromStep.Step)
				}
				p.warn(pos, CodeUnlabelledParam, "parameter %q of step %q is not provided by any known alert label (tried %s); %s", prm.Name, st.Name, describeNames(names), how)
			}
		}
		if st.NeedsEditing {
			p.warn(p.stepPos[st], CodeNeedsEditing, "step %q needs editing before it can run: %s", st.Name, st.EditReason)
		}
		if len(st.Columns) > 0 {
			earlier = append(earlier, output{t.Key, st.Columns})
		}
	}
}

// knownLabels are the labels a procedure's alerts are known to carry,
// normalised: well-known ones, the front matter's labels and those its
// match= conditions name.
func knownLabels(pb *Playbook, pr *Procedure) map[string]bool {
	known := map[string]bool{}
	for k := range wellKnownLabels {
		known[normalize(k)] = true
	}
	for _, l := range pb.Meta.Labels {
		known[normalize(l)] = true
	}
	for _, m := range pr.Matchers {
		known[normalize(m.Label)] = true
	}
	return known
}

func describeNames(names []string) string {
	if len(names) == 0 {
		return "no label names"
	}
	return strings.Join(names, ", ")
}

// lookup finds a key in m whose normalised form equals name's, trying the
// exact key first.
func lookup(m map[string]string, name string) (string, string, bool) {
	if v, ok := m[name]; ok {
		return name, v, true
	}
	n := normalize(name)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if normalize(k) == n {
			return k, m[k], true
		}
	}
	return "", "", false
}

// FromAlert returns the parameter's value from an alert's labels or
// annotations, following its sources in order, and the source used (with
// the key that matched).
func (p *Param) FromAlert(labels, annotations map[string]string) (string, Source, bool) {
	for _, s := range p.Sources {
		var m map[string]string
		switch s.Kind {
		case SourceLabel:
			m = labels
		case SourceAnnotation:
			m = annotations
		default:
			continue
		}
		for _, n := range s.Names {
			if k, v, ok := lookup(m, n); ok && v != "" {
				return v, Source{Kind: s.Kind, Names: []string{k}}, true
			}
		}
	}
	return "", Source{}, false
}

var k8sNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// Validate checks a value against the parameter's type. It is the check for
// a value a person typed; a value taken from an alert must also pass
// ValidateFromAlert.
func (p *Param) Validate(v string) error {
	if strings.ContainsRune(v, 0) {
		return fmt.Errorf("parameter %q: value contains a NUL byte", p.Name)
	}
	switch p.Type {
	case TypeInt:
		if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
			return fmt.Errorf("parameter %q: %q is not an integer", p.Name, v)
		}
	case TypeIP:
		_, err := parseIP(v)
		if err != nil {
			return fmt.Errorf("parameter %q: %w", p.Name, err)
		}
	case TypeCIDR:
		_, err := parseCIDR(v)
		if err != nil {
			return fmt.Errorf("parameter %q: %w", p.Name, err)
		}
	case TypeK8sName:
		if len(v) > 253 || !k8sNameRe.MatchString(v) {
			return fmt.Errorf("parameter %q: %q is not a valid Kubernetes name (lower-case letters, digits, - and .)", p.Name, v)
		}
	}
	return nil
}

// ValidateFromAlert checks a value taken from an alert's labels or
// annotations: everything Validate checks, and no value that means "every
// address". Alert labels are written by whoever can raise an alert, so an
// ip may not be unspecified (0.0.0.0, ::) and a cidr may not be a /0
// (0.0.0.0/0, ::/0, or ::ffff:0.0.0.0/96, all of IPv4). A person may still
// give such a cidr at approval, through Validate.
func (p Param) ValidateFromAlert(v string) error {
	if err := p.Validate(v); err != nil {
		return err
	}
	switch p.Type {
	case TypeIP:
		a, _ := parseIP(v)
		if a.Unmap().IsUnspecified() {
			return fmt.Errorf("parameter %q: %q from the alert is the unspecified address, which matches every address; a person must give this value", p.Name, v)
		}
	case TypeCIDR:
		pf, _ := parseCIDR(v)
		if pf.Bits() == 0 || pf.Addr().Is4In6() && pf.Bits() <= 96 {
			return fmt.Errorf("parameter %q: %q from the alert covers every address; a person must give this value", p.Name, v)
		}
	}
	return nil
}

// parseIP accepts exactly one IP address, as written: no prefix length, no
// zone, no surrounding space.
func parseIP(v string) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	switch {
	case err == nil && a.Zone() != "":
		return netip.Addr{}, fmt.Errorf("%q has an IPv6 zone; give the address alone", v)
	case err == nil:
		return a, nil
	case isPrefix(v):
		return netip.Addr{}, fmt.Errorf("%q is a range, not one IP address", v)
	default:
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", v)
	}
}

func isPrefix(v string) bool {
	_, err := netip.ParsePrefix(v)
	return err == nil
}

// parseCIDR accepts a prefix in its canonical form: address bits past the
// prefix length must be zero (10.0.0.0/8, not 10.1.2.3/8), so the value
// says exactly the range it covers.
func parseCIDR(v string) (netip.Prefix, error) {
	pf, err := netip.ParsePrefix(v)
	if err != nil {
		if a, aerr := netip.ParseAddr(v); aerr == nil && a.Zone() == "" {
			return netip.Prefix{}, fmt.Errorf("%q has no prefix length; write %s/%d for one address", v, v, a.BitLen())
		}
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8", v)
	}
	if m := pf.Masked(); m != pf {
		return netip.Prefix{}, fmt.Errorf("%q has bits set past the prefix length; the range it covers is %s", v, m)
	}
	return pf, nil
}

// Rendered is a step with its parameters bound, ready for an executor.
// Values are never part of SQL or script text.
type Rendered struct {
	Executor Executor `json:"executor"`
	// SQL is the step's whole text in positional form, for people to read;
	// Args[i] binds $(i+1) and ArgNames[i] names it. Args holds int64 for
	// int parameters, string otherwise, and nil for a missing value.
	SQL      string   `json:"sql,omitempty"`
	Args     []any    `json:"args,omitempty"`
	ArgNames []string `json:"arg_names,omitempty"`
	// Statements are what runs: the statements the classifier judged, in
	// order, split by PostgreSQL's parser, each numbered from $1 with its
	// own arguments. An executor sends each as it is, one per call, and
	// never splits the text again.
	Statements []BoundSQL `json:"statements,omitempty"`
	// Script is the shell text with each placeholder replaced by a quoted
	// "$FB_PARAM_NAME" reference; Env holds the values.
	Script string            `json:"script,omitempty"`
	Env    map[string]string `json:"env,omitempty"`
	// Kube holds the native commands with placeholders substituted (a
	// kube step also carries Script and Env for a shell fallback).
	Kube []KubeCommand `json:"kube,omitempty"`
	// Missing names the parameters without a value, in step order.
	Missing []string `json:"missing,omitempty"`
}

// BoundSQL is one statement with its arguments.
type BoundSQL struct {
	SQL      string   `json:"sql"`
	Args     []any    `json:"args"`
	ArgNames []string `json:"arg_names"`
}

// Bind renders a step with the given parameter values. Values are checked
// against the parameters' types; a value that fails is an error. A
// parameter without a value is listed in Missing: the step must not run
// until it is supplied.
func (s *Step) Bind(values map[string]string) (*Rendered, error) {
	r := &Rendered{Executor: s.Executor}
	var errs []error
	for i := range s.Params {
		prm := &s.Params[i]
		v, ok := values[prm.Name]
		if !ok {
			r.Missing = append(r.Missing, prm.Name)
			continue
		}
		if err := prm.Validate(v); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	switch s.Executor {
	case ExecSQL:
		if err := s.bindSQL(r, values); err != nil {
			return nil, err
		}
	default:
		s.bindShell(r, values)
		if s.Executor == ExecKube {
			for _, c := range s.Commands {
				if c.Kube != nil {
					r.Kube = append(r.Kube, s.bindKube(*c.Kube, values))
				}
			}
		}
	}
	return r, nil
}

func (s *Step) arg(name string, values map[string]string) any {
	v, ok := values[name]
	if !ok {
		return nil
	}
	if prm := s.Param(name); prm != nil && prm.Type == TypeInt {
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n
	}
	return v
}

func (s *Step) bindSQL(r *Rendered, values map[string]string) error {
	bd := s.binding
	if bd == nil {
		bd = bindingOf(s) // a Step built by hand, not by Parse
	}
	idents := bd.SQLIdents
	text, names, err := positional(s.SQL, bd.SQLParams, idents)
	if err != nil {
		return fmt.Errorf("step %q: %w", s.Name, err)
	}
	r.SQL, r.ArgNames = text, names
	for _, n := range names {
		r.Args = append(r.Args, s.arg(n, values))
	}
	for _, span := range bd.Stmts {
		start, end := span[0], span[1]
		var toks, ids []sqlToken
		for _, t := range bd.SQLParams {
			if t.Start >= start && t.End <= end {
				t.Start -= start
				t.End -= start
				toks = append(toks, t)
			}
		}
		for _, t := range idents {
			if t.Start >= start && t.End <= end {
				t.Start -= start
				t.End -= start
				ids = append(ids, t)
			}
		}
		text, names, err := positional(s.SQL[start:end], toks, ids)
		if err != nil {
			return fmt.Errorf("step %q: %w", s.Name, err)
		}
		b := BoundSQL{SQL: text, ArgNames: names, Args: []any{}}
		for _, n := range names {
			b.Args = append(b.Args, s.arg(n, values))
		}
		r.Statements = append(r.Statements, b)
	}
	return nil
}

func (s *Step) bindShell(r *Rendered, values map[string]string) {
	var phs []shellPlaceholder
	if s.binding != nil {
		phs = s.binding.Shell
	} else {
		phs = scanShell(s.Script)
	}
	r.Script = renderShell(s.Script, phs)
	for _, ph := range phs {
		if v, ok := values[ph.Name]; ok {
			if r.Env == nil {
				r.Env = map[string]string{}
			}
			r.Env[EnvName(ph.Name)] = v
		}
	}
}

// bindKube substitutes placeholders in a native command's fields. This is
// safe because client-go takes them as API fields, never as shell text;
// Validate has already checked names.
func (s *Step) bindKube(k KubeCommand, values map[string]string) KubeCommand {
	sub := func(f string) string {
		phs := scanShell(f)
		if len(phs) == 0 {
			return f
		}
		var b strings.Builder
		last := 0
		for _, ph := range phs {
			b.WriteString(f[last:ph.Start])
			if v, ok := values[ph.Name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(f[ph.Start:ph.End])
			}
			last = ph.End
		}
		b.WriteString(f[last:])
		return b.String()
	}
	k.Name = sub(k.Name)
	k.Namespace = sub(k.Namespace)
	k.Selector = sub(k.Selector)
	k.Grep = sub(k.Grep)
	if k.Flags != nil {
		flags := make(map[string]string, len(k.Flags))
		for key, v := range k.Flags {
			flags[key] = sub(v)
		}
		k.Flags = flags
	}
	return k
}
