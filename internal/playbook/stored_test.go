package playbook

import (
	"os"
	"reflect"
	"testing"
)

// A step kept with a run binds exactly as the parsed one does, without
// parsing again: every step of both example playbooks round-trips.
func TestStoredStepsBindTheSame(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"../../examples/telegram-platform/playbook.md", "../../examples/payments-api/playbook.md"} {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := Parse(path, src)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, pr := range pb.Procedures {
			for _, task := range pr.Tasks() {
				st := task.Step
				if st == nil {
					continue
				}
				n++
				if st.binding == nil {
					t.Fatalf("%s %s: Parse left no binding", pr.Key, task.Key)
				}
				values := map[string]string{}
				for _, p := range st.Params {
					values[p.Name] = "7"
					if p.Type == TypeIP {
						values[p.Name] = "10.1.2.3"
					}
					if p.Type == TypeK8sName {
						values[p.Name] = "pod-1"
					}
				}
				want, err := st.Bind(values)
				if err != nil {
					t.Fatalf("%s %s: %v", pr.Key, task.Key, err)
				}
				data, err := st.MarshalStored()
				if err != nil {
					t.Fatal(err)
				}
				back, err := UnmarshalStored(data)
				if err != nil {
					t.Fatal(err)
				}
				got, err := back.Bind(values)
				if err != nil {
					t.Fatalf("%s %s stored: %v", pr.Key, task.Key, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s %s: stored step binds to\n%+v\nwant\n%+v", pr.Key, task.Key, got, want)
				}
				if fresh := bindingOf(st); !reflect.DeepEqual(fresh, st.binding) {
					t.Errorf("%s %s: binding from Parse differs from one computed anew", pr.Key, task.Key)
				}
			}
		}
		if n == 0 {
			t.Fatalf("%s: no steps", path)
		}
	}
}
