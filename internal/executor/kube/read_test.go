package kube_test

import (
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/internal/playbook"
)

func TestGetPods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cmd      playbook.KubeCommand
		want     string // after squash
		wantErr  string
		notWant  []string
		wantNone bool
	}{
		{
			name: "selector from the playbook",
			cmd:  playbook.KubeCommand{Verb: "get", Resource: "pods", Selector: "app=telegram-platform"},
			want: "NAME READY STATUS RESTARTS AGE\n" +
				podReady + " 1/1 Running 0 120m\n" +
				podCrashed + " 0/1 CrashLoopBackOff 4 (10m ago) 3h\n",
		},
		{
			name: "no selector lists the namespace",
			cmd:  playbook.KubeCommand{Verb: "get", Resource: "pods"},
			want: "NAME READY STATUS RESTARTS AGE\n" +
				podWorker + " 1/1 Running 9 5d\n" +
				podReady + " 1/1 Running 0 120m\n" +
				podCrashed + " 0/1 CrashLoopBackOff 4 (10m ago) 3h\n",
		},
		{
			name: "-n staging",
			cmd:  playbook.KubeCommand{Verb: "get", Resource: "po", Selector: "app=telegram-platform", Namespace: "staging"},
			want: "NAME READY STATUS RESTARTS AGE\ntelegram-platform-1111-zzzzz 1/1 Running 0 60m\n",
		},
		{
			name: "one pod by name",
			cmd:  playbook.KubeCommand{Verb: "get", Resource: "pod", Name: podCrashed},
			want: "NAME READY STATUS RESTARTS AGE\n" + podCrashed + " 0/1 CrashLoopBackOff 4 (10m ago) 3h\n",
		},
		{
			name: "selector matching nothing",
			cmd:  playbook.KubeCommand{Verb: "get", Resource: "pods", Selector: "app=job-worker"},
			want: "No resources found in prod namespace.\n",
		},
		{
			name:    "set-based selector",
			cmd:     playbook.KubeCommand{Verb: "get", Resource: "pods", Selector: "app in (message-worker)"},
			want:    "NAME READY STATUS RESTARTS AGE\n" + podWorker + " 1/1 Running 9 5d\n",
			notWant: []string{podReady},
		},
		{
			name:    "bad selector",
			cmd:     playbook.KubeCommand{Verb: "get", Resource: "pods", Selector: "app in (a"},
			wantErr: `invalid label selector "app in (a"`,
		},
		{
			name:    "missing pod",
			cmd:     playbook.KubeCommand{Verb: "get", Resource: "pod", Name: "nope"},
			wantErr: "pod nope not found in namespace prod",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			res, err := b.run(t, tt.cmd)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := squash(res.Output); got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", res.Output, tt.want)
			}
		})
	}
}

func TestDescribePodShowsOOMKillAndEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.run(t, playbook.KubeCommand{Raw: "kubectl describe pod " + podCrashed, Verb: "describe", Resource: "pod", Name: podCrashed})
	if err != nil {
		t.Fatal(err)
	}
	got := squash(res.Output)
	for _, want := range []string{
		"Name: " + podCrashed,
		"Namespace: prod",
		"Node: node-b/192.168.0.7",
		"Status: Running",
		"Controlled By: ReplicaSet/telegram-platform-7d9f8",
		"Labels: app=telegram-platform\npod-template-hash=7d9f8",
		"State: Waiting\nReason: CrashLoopBackOff\nMessage: back-off 5m0s restarting failed container=app",
		"Last State: Terminated\nReason: OOMKilled\nExit Code: 137\nStarted: Sat, 14 Mar 2026 02:45:00 +0000\nFinished: Sat, 14 Mar 2026 02:50:00 +0000",
		"Ready: False\nRestart Count: 4",
		"Limits:\nmemory: 256Mi",
		"Conditions:\nType Status\nPodScheduled True\nReady False",
		"Events:\nType Reason Age From Message\n---- ------ ---- ---- -------\n" +
			"Warning OOMKilling 10m kernel-monitor Memory cgroup out of memory: Killed process 4242 (node)\n" +
			"Warning BackOff 60s (x5 over 10m) kubelet Back-off restarting failed container app in pod " + podCrashed,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("describe output lacks %q\n---\n%s", want, res.Output)
		}
	}
	if strings.Contains(got, "OTHER pod") {
		t.Errorf("describe shows another pod's event:\n%s", res.Output)
	}
}

func TestDescribePodWithoutEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.run(t, playbook.KubeCommand{Verb: "describe", Resource: "pod", Name: podWorker})
	if err != nil {
		t.Fatal(err)
	}
	if got := squash(res.Output); !strings.Contains(got, "Events: <none>") || !strings.Contains(got, "State: Running") {
		t.Errorf("output:\n%s", res.Output)
	}
}

func TestTopPods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  playbook.KubeCommand
		want string
	}{
		{
			name: "playbook form",
			cmd:  playbook.KubeCommand{Raw: "kubectl top pods", Verb: "top", Resource: "pods"},
			want: "NAME CPU(cores) MEMORY(bytes)\n" +
				podWorker + " 5m 64Mi\n" +
				podReady + " 260m 320Mi\n" +
				podCrashed + " 1000m 255Mi\n",
		},
		{
			name: "selector and sort by memory",
			cmd:  playbook.KubeCommand{Verb: "top", Resource: "pod", Selector: "app=telegram-platform", Flags: map[string]string{"sort-by": "memory"}},
			want: "NAME CPU(cores) MEMORY(bytes)\n" + podReady + " 260m 320Mi\n" + podCrashed + " 1000m 255Mi\n",
		},
		{
			name: "one pod",
			cmd:  playbook.KubeCommand{Verb: "top", Resource: "pod", Name: podWorker},
			want: "NAME CPU(cores) MEMORY(bytes)\n" + podWorker + " 5m 64Mi\n",
		},
		{
			name: "empty namespace",
			cmd:  playbook.KubeCommand{Verb: "top", Resource: "pods", Namespace: "kube-public"},
			want: "No resources found in kube-public namespace.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			res, err := b.run(t, tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if got := squash(res.Output); got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", res.Output, tt.want)
			}
		})
	}
}
