package controller

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

const (
	// onedRecheck is how often a ready frontend's oned is called.
	onedRecheck = 5 * time.Minute
	// onedRetry is how soon an oned that did not answer (or refused) is called again. A
	// zone's first server is ready before the external Service lists it (the leader label,
	// then the EndpointSlice controller): a first call that fails then must not stand for
	// onedRecheck (the e2e zone test saw OnedUnreachable for 5 minutes on a healthy zone).
	onedRetry = 30 * time.Second
	// onedCallTimeout bounds the one.system.version call and the SSH dial: a worker must
	// not wait long on a frontend that does not answer.
	onedCallTimeout = 5 * time.Second
)

type timedCheck struct {
	at    time.Time
	check status.OnedCheck
}

// InClusterServiceAddress reaches a frontend's port through its external Service's DNS
// name, as a client inside the cluster would (the Helm chart's test did the same).
func InClusterServiceAddress(fe *opennebulav1alpha1.OpenNebulaFrontend, port int32) string {
	host := fmt.Sprintf("%s.%s.svc", builder.NamesFor(fe.Name).ExternalService, fe.Namespace)
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// FixedOnedAddress reaches every frontend's oned at addr (host:port) and no other port:
// a manager outside the cluster, in front of a port-forward.
func FixedOnedAddress(addr string) func(*opennebulav1alpha1.OpenNebulaFrontend, int32) string {
	return func(_ *opennebulav1alpha1.OpenNebulaFrontend, port int32) string {
		if port == builder.PortNumber(builder.PortOned) {
			return addr
		}
		return ""
	}
}

// onedRecheck is how long the last check of oned stands: onedRecheck after an answer,
// onedRetry after a failure (OnedRecheck overrides both when shorter).
func (r *OpenNebulaFrontendReconciler) onedRecheck(check status.OnedCheck) time.Duration {
	period := onedRecheck
	if check.Err != nil || check.SSHErr != nil {
		period = onedRetry
	}
	if r.OnedRecheck > 0 {
		period = min(period, r.OnedRecheck)
	}
	return period
}

// checkReachability calls the frontend's oned when its pods are ready:
// one.system.version with the oneadmin session from the admin Secret says at once that
// oned is reachable, that the password the operator holds is the one oned knows, and
// which version runs. Port 22 is dialled in the same check.
func (r *OpenNebulaFrontendReconciler) checkReachability(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	st.Oned = r.checkOned(ctx, fe, st.StatefulSet)
	return nil
}

func (r *OpenNebulaFrontendReconciler) checkOned(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, sts *appsv1.StatefulSet) status.OnedCheck {
	if r.ServiceAddress == nil || sts == nil || sts.Status.ReadyReplicas == 0 {
		return status.OnedCheck{}
	}
	onedAddr := r.ServiceAddress(fe, builder.PortNumber(builder.PortOned))
	if onedAddr == "" {
		return status.OnedCheck{}
	}
	// Reconciles come in bursts during a rollout: call at most once per recheck period
	// per frontend, so that an unreachable oned does not hold a worker for every one.
	key := client.ObjectKeyFromObject(fe)
	if last, ok := r.onedChecks.Load(key); ok && time.Since(last.(timedCheck).at) < r.onedRecheck(last.(timedCheck).check) {
		return last.(timedCheck).check
	}
	check := status.OnedCheck{Checked: true}
	check.Version, check.Err = r.callOned(ctx, fe, onedAddr)
	if sshAddr := r.ServiceAddress(fe, builder.PortNumber(builder.PortSSH)); sshAddr != "" {
		d := net.Dialer{Timeout: onedCallTimeout}
		conn, err := d.DialContext(ctx, "tcp", sshAddr)
		if err == nil {
			_ = conn.Close()
		}
		check.SSHErr = err
	}
	r.onedChecks.Store(key, timedCheck{at: time.Now(), check: check})
	return check
}

// callOned reads the oneadmin password and calls one.system.version at addr.
func (r *OpenNebulaFrontendReconciler) callOned(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, addr string) (string, error) {
	c, err := adminClient(ctx, r.applier, fe, oned.Endpoint(addr), onedCallTimeout)
	if err != nil {
		return "", err
	}
	return c.Version(ctx)
}

// adminClient is an oneadmin client of the frontend's oned at endpoint, with the
// password of the frontend's admin Secret (readAdminPassword).
func adminClient(ctx context.Context, reader *apply.Applier, fe *opennebulav1alpha1.OpenNebulaFrontend,
	endpoint string, timeout time.Duration) (*oned.Client, error) {
	password, err := readAdminPassword(ctx, reader, fe)
	if err != nil {
		return nil, err
	}
	return oned.New(endpoint, oned.Admin(password), oned.WithTimeout(timeout))
}

func (r *OpenNebulaFrontendReconciler) adminPassword(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend) (string, error) {
	return readAdminPassword(ctx, r.applier, fe)
}

// readAdminPassword reads the frontend's oneadmin password from the cache, or past it
// (a user's Secret not labelled for the operator's watch; that read is reused while
// the frontend is unchanged, see Applier.GetOrReadFor).
func readAdminPassword(ctx context.Context, reader *apply.Applier, fe *opennebulav1alpha1.OpenNebulaFrontend) (string, error) {
	ref := builder.AdminPasswordRef(fe)
	s := &corev1.Secret{}
	if err := reader.GetOrReadFor(ctx, client.ObjectKey{Namespace: fe.Namespace, Name: ref.Name}, s, fe.ResourceVersion); err != nil {
		if apierrors.IsNotFound(err) {
			return "", status.AdminPasswordError{Ref: ref}
		}
		return "", err
	}
	v, ok := s.Data[ref.Key]
	if !ok {
		return "", status.AdminPasswordError{Ref: ref}
	}
	return string(v), nil
}
