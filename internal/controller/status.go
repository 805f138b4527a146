package controller

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// computeStatus derives the frontend's status from what one reconcile observed. It is a
// pure function: conditions keep their lastTransitionTime unless their status changes.
func computeStatus(fe *opennebulav1alpha1.OpenNebulaFrontend, obs observation, opts builder.Options) opennebulav1alpha1.OpenNebulaFrontendStatus {
	status := *fe.Status.DeepCopy()
	status.ObservedGeneration = fe.Generation
	gen := fe.Generation
	set := func(condType string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{
			Type: condType, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen,
		})
	}
	setBool := func(condType string, ok bool, reason, msg string) {
		set(condType, map[bool]metav1.ConditionStatus{true: metav1.ConditionTrue, false: metav1.ConditionFalse}[ok], reason, msg)
	}

	reportFacts(&status, fe, obs, opts)

	if p := obs.paused; p != nil {
		setBool(opennebulav1alpha1.ConditionPaused, true, opennebulav1alpha1.ReasonPaused, p.message())
	} else {
		setBool(opennebulav1alpha1.ConditionPaused, false, opennebulav1alpha1.ReasonNotPaused, "the operator reconciles the frontend")
	}

	switch {
	case obs.problem != nil:
		setBool(opennebulav1alpha1.ConditionDegraded, true, obs.problem.reason, obs.problem.message)
	case obs.err != nil:
		setBool(opennebulav1alpha1.ConditionDegraded, true, opennebulav1alpha1.ReasonReconcileFailed, obs.err.Error())
	default:
		setBool(opennebulav1alpha1.ConditionDegraded, false, opennebulav1alpha1.ReasonAsExpected, "every child matches the spec")
	}

	reportReachability(&status, fe, set, setBool, obs.oned)

	sts := obs.sts
	if sts == nil {
		status.Replicas, status.ReadyReplicas = 0, 0
		reason, msg := opennebulav1alpha1.ReasonStatefulSetMissing, "the StatefulSet does not exist yet"
		switch {
		case obs.err != nil:
			reason, msg = opennebulav1alpha1.ReasonReconcileFailed, obs.err.Error()
		case obs.problem != nil:
			reason, msg = obs.problem.reason, "waiting: "+obs.problem.message
		}
		setBool(opennebulav1alpha1.ConditionReady, false, reason, msg)
		setBool(opennebulav1alpha1.ConditionProgressing, obs.err == nil && obs.problem == nil, reason, msg)
		return status
	}

	want := ptr.Deref(sts.Spec.Replicas, 1)
	st := sts.Status
	status.Replicas = st.Replicas
	status.ReadyReplicas = st.ReadyReplicas
	for _, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == builder.ContainerName {
			status.Image = c.Image
		}
	}
	status.TargetVersion = builder.Version(builder.Image(fe, opts))

	observed := st.ObservedGeneration >= sts.Generation
	updated := observed && st.UpdatedReplicas == want &&
		(st.UpdateRevision == "" || st.CurrentRevision == st.UpdateRevision)
	// Ready says whether the pods serve, whichever revision they run.
	serving := st.ReadyReplicas >= want
	if updated && serving && status.Image != "" {
		// The pods run the template's image: that is the running version now.
		status.Version = builder.Version(status.Image)
	}

	// A replaced StatefulSet counts no replicas until the StatefulSet controller has adopted
	// the running pods (its pod informer may still show them owned by the old one): until
	// then its status says nothing about the pods, and the replacement is still under way.
	prevProgressing := meta.FindStatusCondition(status.Conditions, opennebulav1alpha1.ConditionProgressing)
	adopting := prevProgressing != nil && prevProgressing.Status == metav1.ConditionTrue &&
		prevProgressing.Reason == opennebulav1alpha1.ReasonReplacingStatefulSet && (st.ObservedGeneration == 0 || st.Replicas < want)

	switch {
	case obs.err != nil:
		setBool(opennebulav1alpha1.ConditionProgressing, false, opennebulav1alpha1.ReasonReconcileFailed, obs.err.Error())
	case len(obs.replacing) > 0:
		setBool(opennebulav1alpha1.ConditionProgressing, true, opennebulav1alpha1.ReasonReplacingStatefulSet, strings.Join(obs.replacing, "; "))
	case adopting:
		setBool(opennebulav1alpha1.ConditionProgressing, true, opennebulav1alpha1.ReasonReplacingStatefulSet,
			fmt.Sprintf("StatefulSet %s was replaced; waiting for it to adopt the running pods", sts.Name))
	case len(obs.growing) > 0:
		setBool(opennebulav1alpha1.ConditionProgressing, true, opennebulav1alpha1.ReasonVolumesGrowing, strings.Join(obs.growing, "; "))
	case !updated || !serving:
		setBool(opennebulav1alpha1.ConditionProgressing, true, opennebulav1alpha1.ReasonRolloutInProgress,
			fmt.Sprintf("StatefulSet %s: %d of %d replicas updated, %d ready (revision %s, target %s)",
				sts.Name, st.UpdatedReplicas, want, st.ReadyReplicas, st.CurrentRevision, st.UpdateRevision))
	default:
		setBool(opennebulav1alpha1.ConditionProgressing, false, opennebulav1alpha1.ReasonRolloutComplete,
			fmt.Sprintf("StatefulSet %s runs revision %s", sts.Name, st.CurrentRevision))
	}

	switch {
	case (st.ObservedGeneration == 0 || adopting) && meta.FindStatusCondition(status.Conditions, opennebulav1alpha1.ConditionReady) != nil:
		// A StatefulSet the StatefulSet controller has not looked at yet, or that has not
		// adopted its pods yet (just replaced), says nothing about them: keep what was last seen.
	case serving:
		setBool(opennebulav1alpha1.ConditionReady, true, opennebulav1alpha1.ReasonAllReplicasReady,
			fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, want))
	default:
		setBool(opennebulav1alpha1.ConditionReady, false, opennebulav1alpha1.ReasonReplicasNotReady,
			fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, want))
	}
	return status
}

// reportFacts fills in what users need to reach and operate the frontend, the Helm
// chart's NOTES.txt as status fields.
func reportFacts(status *opennebulav1alpha1.OpenNebulaFrontendStatus, fe *opennebulav1alpha1.OpenNebulaFrontend, obs observation, opts builder.Options) {
	names := builder.NamesFor(fe.Name)
	domain := cmp.Or(opts.ClusterDomain, builder.DefaultClusterDomain)
	svcHost := fmt.Sprintf("%s.%s.svc.%s", names.ExternalService, fe.Namespace, domain)
	port := func(name string) string { return strconv.Itoa(int(builder.PortNumber(name))) }
	lb := obs.inputs.LoadBalancerAddress
	status.Endpoints = opennebulav1alpha1.Endpoints{
		Oned:     "http://" + net.JoinHostPort(svcHost, port(builder.PortOned)) + "/RPC2",
		FireEdge: "http://" + net.JoinHostPort(svcHost, port(builder.PortFireEdge)) + "/fireedge/sunstone",
	}
	if lb != "" {
		status.Endpoints.OnedExternal = "http://" + net.JoinHostPort(lb, port(builder.PortOned)) + "/RPC2"
		status.Endpoints.FireEdge = "http://" + net.JoinHostPort(lb, port(builder.PortFireEdge)) + "/fireedge/sunstone"
	}
	if ing := fe.Spec.Ingress; ing.Enabled && ing.Host != "" {
		scheme := "http"
		if ing.TLSSecretName != "" {
			scheme = "https"
		}
		status.Endpoints.FireEdge = scheme + "://" + ing.Host + "/fireedge/sunstone"
	}
	status.Hostname = builder.Hostname(fe, opts)
	status.MonitorAddress = builder.MonitorAddress(fe, obs.inputs)
	status.AdminPasswordSecret = builder.AdminPasswordRef(fe).Name
	status.SSHKeySecret = builder.SSHKeySecretName(fe)
}

// reportReachability sets OnedReachable and SSHReachable (and onedVersion) from the last
// call to oned and dial of port 22.
func reportReachability(status *opennebulav1alpha1.OpenNebulaFrontendStatus, fe *opennebulav1alpha1.OpenNebulaFrontend,
	set func(string, metav1.ConditionStatus, string, string), setBool func(string, bool, string, string), check onedCheck) {
	err := check.err
	_, noPassword := errors.AsType[errAdminPassword](err)
	// answered: oned itself refused the call; any other error means it was not reached.
	_, answered := errors.AsType[*oned.Error](err)
	switch {
	case !check.checked:
		set(opennebulav1alpha1.ConditionOnedReachable, metav1.ConditionUnknown, opennebulav1alpha1.ReasonNotChecked,
			"oned is called when the frontend is ready and the operator runs inside the cluster")
	case noPassword:
		set(opennebulav1alpha1.ConditionOnedReachable, metav1.ConditionUnknown, opennebulav1alpha1.ReasonNotChecked, err.Error())
	case oned.IsAuthentication(err):
		ref := builder.AdminPasswordRef(fe)
		setBool(opennebulav1alpha1.ConditionOnedReachable, false, opennebulav1alpha1.ReasonOnedAuthenticationFailed, fmt.Sprintf(
			"oned refused the oneadmin password of Secret %s key %q (changed in OpenNebula, or the Secret replaced after the first boot): %v",
			ref.Name, ref.Key, err))
	case err != nil && !answered:
		setBool(opennebulav1alpha1.ConditionOnedReachable, false, opennebulav1alpha1.ReasonOnedUnreachable, err.Error())
	case err != nil:
		setBool(opennebulav1alpha1.ConditionOnedReachable, false, opennebulav1alpha1.ReasonOnedRefused, err.Error())
	default:
		status.OnedVersion = check.version
		setBool(opennebulav1alpha1.ConditionOnedReachable, true, opennebulav1alpha1.ReasonOnedAnswers, fmt.Sprintf(
			"oned %s answers one.system.version as %s on port %d", check.version, oned.AdminUser, builder.PortNumber(builder.PortOned)))
	}
	switch {
	case !check.checked:
		set(opennebulav1alpha1.ConditionSSHReachable, metav1.ConditionUnknown, opennebulav1alpha1.ReasonNotChecked,
			"port 22 is dialled when the frontend is ready and the operator runs inside the cluster")
	case check.sshErr != nil:
		setBool(opennebulav1alpha1.ConditionSSHReachable, false, opennebulav1alpha1.ReasonSSHUnreachable,
			check.sshErr.Error()+"; the sshd sidecar needs an image with /usr/sbin/sshd (spec.ssh.image)")
	default:
		setBool(opennebulav1alpha1.ConditionSSHReachable, true, opennebulav1alpha1.ReasonSSHAnswers, "sshd accepts connections on 22")
	}
}

// message says that the frontend is paused and what resuming will change.
func (p *pauseState) message() string {
	if len(p.pending) == 0 {
		return "paused by the " + opennebulav1alpha1.AnnotationPaused + " annotation; no changes pending"
	}
	return fmt.Sprintf("paused by the %s annotation; %d changes pending: %s", opennebulav1alpha1.AnnotationPaused,
		len(p.pending), strings.Join(p.pending, ", "))
}
