package playbook

import (
	"reflect"
	"strings"
	"testing"
)

func TestCandidateNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"failed-pod", []string{"failed-pod", "failed_pod", "pod"}},
		{"pod-name", []string{"pod-name", "pod_name", "pod"}},
		{"license_id", []string{"license-id", "license_id", "license"}},
		{"SUSPICIOUS_IP", []string{"suspicious-ip", "suspicious_ip", "ip"}},
		{"pid", []string{"pid"}},
		{"merchantId", []string{"merchant-id", "merchant_id", "merchant"}},
		{"$1", nil},
	}
	for _, tt := range tests {
		if got := CandidateNames(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("CandidateNames(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func step(t *testing.T, pb *Playbook, proc, task string) *Step {
	t.Helper()
	pr := pb.Procedure(proc)
	if pr == nil {
		t.Fatalf("no procedure %s", proc)
	}
	tk := pr.Task(task)
	if tk == nil || tk.Step == nil {
		t.Fatalf("no step %s/%s", proc, task)
	}
	return tk.Step
}

func TestReferenceParams(t *testing.T) {
	t.Parallel()
	pb := parseReference(t)
	tests := []struct {
		proc, task string
		params     []Param
	}{
		{"service-down", "immediate-actions/1", []Param{{Name: "failed-pod", Type: TypeK8sName, Form: FormAngle, Sources: []Source{
			{Kind: SourceLabel, Names: []string{"failed-pod", "failed_pod", "pod"}},
			{Kind: SourceAnnotation, Names: []string{"failed-pod", "failed_pod", "pod"}},
			{Kind: SourceHuman}}}}},
		{"high-license-usage", "investigation/1", []Param{{Name: "license_id", Type: TypeString, Form: FormDollar, Sources: []Source{
			{Kind: SourceLabel, Names: []string{"license-id", "license_id", "license"}},
			{Kind: SourceAnnotation, Names: []string{"license-id", "license_id", "license"}},
			{Kind: SourceHuman}}}}},
		{"high-database-cpu", "immediate-actions/2", []Param{{Name: "pid", Type: TypeInt, Form: FormIdentifier, Sources: []Source{
			{Kind: SourceLabel, Names: []string{"pid"}},
			{Kind: SourceAnnotation, Names: []string{"pid"}},
			{Kind: SourceStep, Step: "immediate-actions/1", Column: "pid"},
			{Kind: SourceHuman}}}}},
		{"high-failed-login-rate", "immediate-actions/1", []Param{{Name: "SUSPICIOUS_IP", Type: TypeIP, Form: FormCaps, Sources: []Source{
			{Kind: SourceLabel, Names: []string{"suspicious-ip", "suspicious_ip", "ip"}},
			{Kind: SourceAnnotation, Names: []string{"suspicious-ip", "suspicious_ip", "ip"}},
			{Kind: SourceHuman}}}}},
		{"high-queue-depth", "immediate-actions/3", nil},
	}
	for _, tt := range tests {
		st := step(t, pb, tt.proc, tt.task)
		if !reflect.DeepEqual(st.Params, tt.params) {
			t.Errorf("%s/%s params:\n got %+v\nwant %+v", tt.proc, tt.task, st.Params, tt.params)
		}
	}
}

func TestBindSQL(t *testing.T) {
	t.Parallel()
	pb := parseReference(t)
	usage := step(t, pb, "high-license-usage", "investigation/1")
	r, err := usage.Bind(map[string]string{"license_id": "lic'; DROP TABLE users; --"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.SQL, "DROP") || !strings.Contains(r.SQL, "license_id = $1 AND") {
		t.Errorf("SQL = %q", r.SQL)
	}
	if !reflect.DeepEqual(r.ArgNames, []string{"license_id"}) || !reflect.DeepEqual(r.Args, []any{"lic'; DROP TABLE users; --"}) || len(r.Missing) != 0 {
		t.Errorf("args %v %v missing %v", r.ArgNames, r.Args, r.Missing)
	}
	if len(r.Statements) != 1 || r.Statements[0].SQL != strings.TrimSuffix(r.SQL, ";") {
		t.Errorf("statements %+v", r.Statements)
	}

	cancel := step(t, pb, "high-database-cpu", "immediate-actions/2")
	r, err = cancel.Bind(map[string]string{"pid": "4242"})
	if err != nil {
		t.Fatal(err)
	}
	if r.SQL != "SELECT pg_cancel_backend($1);" || !reflect.DeepEqual(r.Args, []any{int64(4242)}) {
		t.Errorf("cancel = %q %v", r.SQL, r.Args)
	}
	if _, err := cancel.Bind(map[string]string{"pid": "1; SELECT 1"}); err == nil || !strings.Contains(err.Error(), `"pid"`) {
		t.Errorf("bad pid accepted: %v", err)
	}
	r, err = cancel.Bind(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Missing, []string{"pid"}) || r.Args[0] != nil {
		t.Errorf("missing = %v args %v", r.Missing, r.Args)
	}
}

func TestBindShellAndKube(t *testing.T) {
	t.Parallel()
	pb := parseReference(t)
	fw := step(t, pb, "high-failed-login-rate", "immediate-actions/1")
	r, err := fw.Bind(map[string]string{"SUSPICIOUS_IP": "203.0.113.7"})
	if err != nil {
		t.Fatal(err)
	}
	want := "# Add to firewall or rate limiter\niptables -A INPUT -s \"$FB_PARAM_SUSPICIOUS_IP\" -j DROP"
	if r.Script != want || r.Env["FB_PARAM_SUSPICIOUS_IP"] != "203.0.113.7" {
		t.Errorf("script %q env %v", r.Script, r.Env)
	}
	if _, err := fw.Bind(map[string]string{"SUSPICIOUS_IP": "1.2.3.4; rm -rf /"}); err == nil {
		t.Error("non-IP accepted")
	}

	pods := step(t, pb, "service-down", "immediate-actions/1")
	r, err = pods.Bind(map[string]string{"failed-pod": "telegram-platform-7d9f-x2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Kube) != 2 || r.Kube[1].Name != "telegram-platform-7d9f-x2" || r.Kube[0].Selector != "app=telegram-platform" {
		t.Errorf("kube %+v", r.Kube)
	}
	if pods.Commands[1].Kube.Name != "<failed-pod>" {
		t.Error("Bind modified the parsed step")
	}
	if !strings.Contains(r.Script, `kubectl describe pod "$FB_PARAM_FAILED_POD"`) {
		t.Errorf("fallback script %q", r.Script)
	}
	if _, err := pods.Bind(map[string]string{"failed-pod": "x --all-namespaces"}); err == nil {
		t.Error("invalid pod name accepted")
	}
	r, _ = pods.Bind(nil)
	if !reflect.DeepEqual(r.Missing, []string{"failed-pod"}) || r.Kube[1].Name != "<failed-pod>" {
		t.Errorf("missing %v kube %+v", r.Missing, r.Kube[1])
	}
}

func TestFromAlert(t *testing.T) {
	t.Parallel()
	pb := parseReference(t)
	prm := step(t, pb, "service-down", "immediate-actions/1").Param("failed-pod")
	tests := []struct {
		labels, ann map[string]string
		want, from  string
	}{
		{map[string]string{"pod": "a", "failed_pod": "b"}, nil, "b", "failed_pod"},
		{map[string]string{"pod": "a"}, nil, "a", "pod"},
		{map[string]string{"FailedPod": "c"}, nil, "c", "FailedPod"},
		{nil, map[string]string{"pod": "d"}, "d", "pod"},
		{map[string]string{"pod": "a"}, map[string]string{"failed-pod": "e"}, "a", "pod"},
		{map[string]string{"container": "x"}, nil, "", ""},
	}
	for _, tt := range tests {
		v, src, ok := prm.FromAlert(tt.labels, tt.ann)
		if v != tt.want || ok && src.Names[0] != tt.from {
			t.Errorf("%v %v: %q from %+v", tt.labels, tt.ann, v, src)
		}
	}
}

func TestInferType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want ParamType
	}{
		{"SUSPICIOUS_IP", TypeIP},
		{"source-ip-addr", TypeIP},
		{"blocked_cidr", TypeCIDR},
		{"subnet", TypeCIDR},
		{"office-network", TypeCIDR},
		{"ip_range", TypeCIDR},
		{"SOURCE_RANGE", TypeCIDR},
		{"time_range", TypeString},
		{"port_range", TypeString},
		{"pid", TypeInt},
		{"failed-pod", TypeK8sName},
		{"license_id", TypeString},
	}
	for _, tt := range tests {
		if got := inferType(tt.name); got != tt.want {
			t.Errorf("inferType(%q) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestValidateAddresses(t *testing.T) {
	t.Parallel()
	ip := Param{Name: "SUSPICIOUS_IP", Type: TypeIP}
	cidr := Param{Name: "blocked_cidr", Type: TypeCIDR}
	tests := []struct {
		p         Param
		v         string
		person    string // substring of Validate's error, "" for none
		fromAlert string // substring of ValidateFromAlert's error, "" for none
	}{
		{ip, "203.0.113.7", "", ""},
		{ip, "2001:db8::1", "", ""},
		{ip, "::ffff:203.0.113.7", "", ""},
		{ip, "0.0.0.0/0", "is a range, not one IP address", "is a range"},
		{ip, "203.0.113.0/24", "is a range", "is a range"},
		{ip, "203.0.113.7/32", "is a range", "is a range"},
		{ip, "fe80::1%eth0", "has an IPv6 zone", "zone"},
		{ip, " 203.0.113.7", "is not an IP address", "is not an IP address"},
		{ip, "203.0.113.7\n", "is not an IP address", "is not an IP address"},
		{ip, "1.2.3.4; rm -rf /", "is not an IP address", "is not an IP address"},
		{ip, "", "is not an IP address", "is not an IP address"},
		{ip, "0.0.0.0", "", "unspecified address"},
		{ip, "::", "", "unspecified address"},
		{ip, "::ffff:0.0.0.0", "", "unspecified address"},
		{cidr, "10.0.0.0/8", "", ""},
		{cidr, "203.0.113.7/32", "", ""},
		{cidr, "2001:db8::/32", "", ""},
		{cidr, "0.0.0.0/0", "", "covers every address"},
		{cidr, "::/0", "", "covers every address"},
		{cidr, "::ffff:0.0.0.0/96", "", "covers every address"},
		{cidr, "10.1.2.3/8", "the range it covers is 10.0.0.0/8", "10.0.0.0/8"},
		{cidr, "203.0.113.7", "has no prefix length; write 203.0.113.7/32", "/32"},
		{cidr, "10.0.0.0/33", "is not a CIDR prefix", "is not a CIDR prefix"},
		{cidr, " 10.0.0.0/8", "is not a CIDR prefix", "is not a CIDR prefix"},
		{cidr, "10.0.0.0/8\x00", "NUL", "NUL"},
	}
	check := func(what string, p Param, v string, err error, want string) {
		t.Helper()
		switch {
		case want == "" && err != nil:
			t.Errorf("%s(%s %q) = %v, want nil", what, p.Type, v, err)
		case want != "" && err == nil:
			t.Errorf("%s(%s %q) = nil, want an error with %q", what, p.Type, v, want)
		case want != "" && (!strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"`+p.Name+`"`)):
			t.Errorf("%s(%s %q) = %v, want it to name the parameter and say %q", what, p.Type, v, err, want)
		}
	}
	for _, tt := range tests {
		check("Validate", tt.p, tt.v, tt.p.Validate(tt.v), tt.person)
		check("ValidateFromAlert", tt.p, tt.v, tt.p.ValidateFromAlert(tt.v), tt.fromAlert)
	}
}

// TestAlertCannotWidenFirewallRule: an alert label may not turn the
// reference's iptables step into a rule for every address.
func TestAlertCannotWidenFirewallRule(t *testing.T) {
	t.Parallel()
	pb := parseReference(t)
	prm := step(t, pb, "high-failed-login-rate", "immediate-actions/1").Param("SUSPICIOUS_IP")
	for _, v := range []string{"0.0.0.0/0", "0.0.0.0", "::/0", "::"} {
		got, _, ok := prm.FromAlert(map[string]string{"suspicious_ip": v}, nil)
		if !ok || got != v {
			t.Fatalf("FromAlert: %q %v", got, ok)
		}
		if err := prm.ValidateFromAlert(got); err == nil {
			t.Errorf("alert value %q accepted for %s", v, prm.Name)
		}
	}
	if err := prm.ValidateFromAlert("203.0.113.7"); err != nil {
		t.Errorf("a real address refused: %v", err)
	}
}
