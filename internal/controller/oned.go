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
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

const (
	// onedRecheck is how often a ready frontend's oned is called.
	onedRecheck = 5 * time.Minute
	// onedCallTimeout bounds the one.system.version call and the SSH dial: a worker must
	// not wait long on a frontend that does not answer.
	onedCallTimeout = 5 * time.Second
)

// onedCheck is what the last call to a frontend's oned found.
type onedCheck struct {
	checked bool
	// err is the call's failure: a *oned.TransportError (unreachable), an *oned.Error
	// (answered and refused), or the admin password that could not be read.
	err error
	// version is what one.system.version answered.
	version string
	// sshErr is the result of dialling port 22 in the same check.
	sshErr error
}

type timedCheck struct {
	at    time.Time
	check onedCheck
}

// InClusterServiceAddress reaches a frontend's port through its external Service's DNS
// name, as a client inside the cluster would (the Helm chart's test did the same).
func InClusterServiceAddress(fe *opennebulav1alpha1.OpenNebulaFrontend, port int32) string {
	host := fmt.Sprintf("%s.%s.svc", builder.NamesFor(fe.Name).ExternalService, fe.Namespace)
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

func (r *OpenNebulaFrontendReconciler) onedRecheck() time.Duration {
	if r.OnedRecheck > 0 {
		return r.OnedRecheck
	}
	return onedRecheck
}

// checkOned calls the frontend's oned when its pods are ready: one.system.version with
// the oneadmin session from the admin Secret says at once that oned is reachable, that the
// password the operator holds is the one oned knows, and which version runs. Port 22 is
// dialled in the same check.
func (r *OpenNebulaFrontendReconciler) checkOned(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, sts *appsv1.StatefulSet) onedCheck {
	if r.ServiceAddress == nil || sts == nil || sts.Status.ReadyReplicas == 0 {
		return onedCheck{}
	}
	onedAddr := r.ServiceAddress(fe, builder.PortNumber(builder.PortOned))
	if onedAddr == "" {
		return onedCheck{}
	}
	// Reconciles come in bursts during a rollout: call at most once per recheck period
	// per frontend, so that an unreachable oned does not hold a worker for every one.
	key := client.ObjectKeyFromObject(fe)
	if last, ok := r.onedChecks.Load(key); ok && time.Since(last.(timedCheck).at) < r.onedRecheck() {
		return last.(timedCheck).check
	}
	check := onedCheck{checked: true}
	check.version, check.err = r.callOned(ctx, fe, onedAddr)
	if sshAddr := r.ServiceAddress(fe, builder.PortNumber(builder.PortSSH)); sshAddr != "" {
		d := net.Dialer{Timeout: onedCallTimeout}
		conn, err := d.DialContext(ctx, "tcp", sshAddr)
		if err == nil {
			_ = conn.Close()
		}
		check.sshErr = err
	}
	r.onedChecks.Store(key, timedCheck{at: time.Now(), check: check})
	return check
}

// callOned reads the oneadmin password and calls one.system.version at addr.
func (r *OpenNebulaFrontendReconciler) callOned(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, addr string) (string, error) {
	password, err := r.adminPassword(ctx, fe)
	if err != nil {
		return "", err
	}
	c, err := oned.New(oned.Endpoint(addr), oned.Admin(password), oned.WithTimeout(onedCallTimeout))
	if err != nil {
		return "", err
	}
	return c.Version(ctx)
}

// errAdminPassword says the oneadmin password could not be read; the Degraded condition
// says why (the Secret or key is missing).
type errAdminPassword struct {
	ref opennebulav1alpha1.SecretKeySelector
}

func (e errAdminPassword) Error() string {
	return fmt.Sprintf("the oneadmin password (Secret %s key %q) cannot be read", e.ref.Name, e.ref.Key)
}

func (r *OpenNebulaFrontendReconciler) adminPassword(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend) (string, error) {
	ref := builder.AdminPasswordRef(fe)
	s := &corev1.Secret{}
	if err := r.getLive(ctx, client.ObjectKey{Namespace: fe.Namespace, Name: ref.Name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", errAdminPassword{ref}
		}
		return "", err
	}
	v, ok := s.Data[ref.Key]
	if !ok {
		return "", errAdminPassword{ref}
	}
	return string(v), nil
}
