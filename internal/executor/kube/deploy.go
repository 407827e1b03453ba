package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/firebreak-dev/firebreak/internal/playbook"
)

// restartedAtAnnotation is the pod-template annotation kubectl rollout
// restart sets; changing the template makes the deployment roll its pods.
const restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// A write reads the deployment, then patches it with the resourceVersion it
// read as a precondition. The API server refuses the patch (409 Conflict) if
// anyone changed the deployment in between, so the recorded "before" value
// is exactly the one replaced. Conflicts are retried from the read.

// patchDeployment sends a strategic merge patch guarded by resourceVersion.
func (r *runner) patchDeployment(ctx context.Context, d *appsv1.Deployment, spec map[string]any) (*appsv1.Deployment, error) {
	body := map[string]any{"spec": spec}
	if d.ResourceVersion != "" {
		body["metadata"] = map[string]any{"resourceVersion": d.ResourceVersion}
	}
	patch, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return r.c.Kube.AppsV1().Deployments(r.inv.namespace).Patch(ctx, d.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
}

func (r *runner) getDeployment(ctx context.Context) (*appsv1.Deployment, error) {
	d, err := r.c.Kube.AppsV1().Deployments(r.inv.namespace).Get(ctx, r.inv.name, metav1.GetOptions{})
	if err != nil {
		return nil, r.call("get", "deployments.apps", "deployment", r.inv.name).wrap(err)
	}
	return d, nil
}

// errStop ends a retry loop with an error that is not a conflict.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

func unwrapStop(err error) error {
	var s errStop
	if errors.As(err, &s) {
		return s.err
	}
	return err
}

func (r *runner) scale(ctx context.Context) error {
	name, ns, want := r.inv.name, r.inv.namespace, r.inv.replicas
	var before, after int32
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := r.getDeployment(ctx)
		if err != nil {
			return errStop{err}
		}
		before = 1 // the API's default when spec.replicas is unset
		if d.Spec.Replicas != nil {
			before = *d.Spec.Replicas
		}
		if r.inv.current != nil && *r.inv.current != before {
			return errStop{&Error{Msg: fmt.Sprintf(
				"deployment %s in namespace %s has %d replicas, not the expected %d (--current-replicas); someone or an autoscaler changed it, so it was left alone",
				name, ns, before, *r.inv.current)}}
		}
		if before == want {
			after, changed = before, false
			return nil
		}
		got, err := r.patchDeployment(ctx, d, map[string]any{"replicas": want})
		if err != nil {
			return err
		}
		after, changed = want, true
		if got.Spec.Replicas != nil {
			after = *got.Spec.Replicas
		}
		return nil
	})
	if err != nil {
		return r.call("patch", "deployments.apps", "deployment", name).wrap(unwrapStop(err))
	}

	r.res.Before = fmt.Sprintf("replicas: %d", before)
	r.res.After = fmt.Sprintf("replicas: %d", after)
	if !changed {
		fmt.Fprintf(r.out, "deployment.apps/%s scaled (replicas already %d)\n", name, after)
		return nil
	}
	fmt.Fprintf(r.out, "deployment.apps/%s scaled (replicas %d → %d)\n", name, before, after)
	// The undo carries --current-replicas so that it only scales back if
	// nobody changed the count since.
	r.res.Undo = &playbook.KubeCommand{
		Raw:       fmt.Sprintf("kubectl scale deployment %s --replicas=%d --current-replicas=%d -n %s", name, before, after, ns),
		Verb:      "scale",
		Resource:  "deployment",
		Name:      name,
		Namespace: ns,
		Flags:     map[string]string{"replicas": fmt.Sprint(before), "current-replicas": fmt.Sprint(after)},
	}
	return nil
}

func (r *runner) restart(ctx context.Context) error {
	name, ns := r.inv.name, r.inv.namespace
	stamp := r.e.now().Format(time.RFC3339)
	var old string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := r.getDeployment(ctx)
		if err != nil {
			return errStop{err}
		}
		if d.Spec.Paused {
			return errStop{&Error{Msg: fmt.Sprintf(
				"deployment %s in namespace %s is paused; resume it (kubectl rollout resume deployment %s) before restarting", name, ns, name)}}
		}
		old = d.Spec.Template.Annotations[restartedAtAnnotation]
		if old == stamp {
			return errStop{&Error{Msg: fmt.Sprintf(
				"deployment %s in namespace %s was already restarted at %s; wait a second before restarting it again", name, ns, stamp),
				Retryable: true}}
		}
		_, err = r.patchDeployment(ctx, d, map[string]any{
			"template": map[string]any{"metadata": map[string]any{"annotations": map[string]string{restartedAtAnnotation: stamp}}},
		})
		return err
	})
	if err != nil {
		return r.call("patch", "deployments.apps", "deployment", name).wrap(unwrapStop(err))
	}
	r.res.Before = "restartedAt: " + orNone(old)
	r.res.After = "restartedAt: " + stamp
	fmt.Fprintf(r.out, "deployment.apps/%s restarted\n", name)
	return nil
}
