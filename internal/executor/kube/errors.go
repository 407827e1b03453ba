package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Error is a failed command, described in words an on-call engineer can act
// on. The underlying client error stays reachable through errors.Unwrap.
type Error struct {
	Msg       string
	Retryable bool
	Err       error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether running the same command again may succeed:
// timeouts, throttling, server errors (5xx), write conflicts and dropped
// connections. NotFound, Forbidden, bad input and unsupported commands are
// not retryable.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var ke *Error
	if errors.As(err, &ke) {
		return ke.Retryable
	}
	return transient(err)
}

func transient(err error) bool {
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case apierrors.IsConflict(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsTooManyRequests(err), apierrors.IsInternalError(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsUnexpectedServerError(err):
		return true
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return st.Status().Code >= 500
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// call names one API request, so that its error can say what was refused.
type call struct {
	target   string
	verb     string // API verb: get, list, patch
	resource string // as RBAC names it: pods, pods/log, events, deployments.apps
	kind     string // for "… not found": pod, deployment
	name     string
	ns       string
}

func (c call) wrap(err error) error {
	if err == nil {
		return nil
	}
	var ke *Error
	if errors.As(err, &ke) {
		return err
	}
	switch {
	case apierrors.IsNotFound(err) && c.name != "":
		return &Error{Msg: fmt.Sprintf("%s %s not found in namespace %s", c.kind, c.name, c.ns), Err: err}
	case apierrors.IsForbidden(err):
		return &Error{Msg: fmt.Sprintf(
			"forbidden by RBAC: the credentials of target %q may not %s %s in namespace %s; grant %q on %q to them (server said: %v)",
			c.target, c.verb, c.resource, c.ns, c.verb, c.resource, err), Err: err}
	case apierrors.IsUnauthorized(err):
		return &Error{Msg: fmt.Sprintf("target %q rejected its credentials (401 Unauthorized) on %s %s: %v",
			c.target, c.verb, c.resource, err), Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Msg: fmt.Sprintf("%s %s in namespace %s: canceled", c.verb, c.resource, c.ns), Err: err}
	case errors.Is(err, context.DeadlineExceeded), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return &Error{Msg: fmt.Sprintf("%s %s in namespace %s on target %q timed out", c.verb, c.resource, c.ns, c.target),
			Retryable: true, Err: err}
	}
	return &Error{Msg: fmt.Sprintf("%s %s in namespace %s on target %q: %v", c.verb, c.resource, c.ns, c.target, err),
		Retryable: transient(err), Err: err}
}
