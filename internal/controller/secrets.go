package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/status"
)

// ensureGeneratedSecrets creates the Secrets the operator generates (oneadmin password,
// database credentials, SSH key pair) when they do not exist, and never touches their
// data afterwards. A generated Secret that disappears while the volume it was written to
// still exists is not generated again: new credentials would lock oned out of its data.
func (r *OpenNebulaFrontendReconciler) ensureGeneratedSecrets(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, st *reconcileState) error {
	owned := fe.Spec.SecretRetentionPolicy == opennebulav1alpha1.SecretRetentionDelete
	claims := map[string]bool{} // data claim name → exists: read once per reconcile
	for _, gen := range builder.GeneratedSecrets(fe) {
		live := &corev1.Secret{}
		err := r.applier.Get(ctx, client.ObjectKeyFromObject(gen.Secret), live)
		if apierrors.IsNotFound(err) {
			taken, p, err := r.createGeneratedSecret(ctx, fe, gen, owned, claims, st)
			if p != nil || err != nil {
				st.Report(p)
				return err
			}
			if !taken {
				continue
			}
			live = gen.Secret // the object in the way, read past the cache
		} else if err != nil {
			return err
		}
		if live.Annotations[builder.AnnotationFrontendOf] != fe.Name {
			st.Report(&status.Problem{Reason: opennebulav1alpha1.ReasonChildNotOwned, Message: fmt.Sprintf(
				"Secret %s exists and was not generated for this frontend; delete it or reference it explicitly", live.Name)})
			return nil
		}
		if p := missingKeys(live, gen); p != nil {
			st.Report(p)
			return nil
		}
		if err := r.alignSecretMetadata(ctx, fe, live, owned); err != nil {
			return err
		}
	}
	// The kept keys (made once oned runs, kubeRuntime.ShareKeys) follow the policy too.
	keys := &corev1.Secret{}
	switch err := r.applier.Get(ctx, client.ObjectKey{Namespace: fe.Namespace, Name: builder.NamesFor(fe.Name).Keys}, keys); {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	case keys.Annotations[builder.AnnotationFrontendOf] != fe.Name:
		return nil // not ours: ShareKeys reports it when it needs the name
	}
	return r.alignSecretMetadata(ctx, fe, keys, owned)
}

// createGeneratedSecret generates and creates one Secret, unless the volume its values
// would be written to already holds data (the problem returned), or its name is taken:
// then the object in the way is read into gen.Secret and taken is true.
func (r *OpenNebulaFrontendReconciler) createGeneratedSecret(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, gen builder.GeneratedSecret,
	owned bool, claims map[string]bool, st *reconcileState) (taken bool, p *status.Problem, err error) {
	if p, err := r.dataOutlivedSecret(ctx, fe, gen, claims); p != nil || err != nil {
		return false, p, err
	}
	if err := gen.Generate("oneadmin@" + fe.Namespace + "/" + fe.Name); err != nil {
		return false, nil, err
	}
	if owned {
		if err := controllerutil.SetControllerReference(fe, gen.Secret, r.Scheme); err != nil {
			return false, nil, err
		}
	}
	created, err := r.applier.Create(ctx, gen.Secret)
	if err != nil {
		return false, nil, fmt.Errorf("creating Secret %s: %w", gen.Secret.Name, err)
	}
	if created {
		st.changes.add(EventReasonCreated, "Secret "+gen.Secret.Name)
	}
	return !created, nil, nil
}

// dataOutlivedSecret reports a problem when the volume that the generated Secret's
// credentials were written to exists but the Secret does not (deleted by hand).
//
// The claim is looked for in the label-selected cache, where the claims made from the
// StatefulSet's templates are. A frontend the operator has reported on before
// (status.observedGeneration set) also has it read past the cache: a claim restored
// without the operator's labels must block regenerating credentials over its data, as
// must a claim whose labels someone removed. A brand-new frontend is not: that read was
// the only request of its creation that was not a write (one per data claim, 2 of ~12),
// and a new frontend put on an existing volume is told to reference its Secrets instead
// (docs/migrating-from-helm.md); credentials generated over such a volume are refused by
// oned (OnedAuthenticationFailed), not written into it. claims remembers the answers of
// one reconcile: the admin password and the SSH key share the frontend's claim.
func (r *OpenNebulaFrontendReconciler) dataOutlivedSecret(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, gen builder.GeneratedSecret,
	claims map[string]bool) (*status.Problem, error) {
	names := builder.NamesFor(fe.Name)
	sts := names.StatefulSet
	if gen.Kind == builder.SecretMariaDB {
		sts = names.MariaDB
	}
	claim := names.DataVolume + "-" + sts + "-0"
	exists, known := claims[claim]
	if !known {
		key := client.ObjectKey{Namespace: fe.Namespace, Name: claim}
		get := r.applier.Get
		if fe.Status.ObservedGeneration > 0 {
			get = r.applier.GetOrRead
		}
		err := get(ctx, key, &corev1.PersistentVolumeClaim{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		exists = err == nil
		claims[claim] = exists
	}
	if !exists {
		return nil, nil
	}
	return &status.Problem{Reason: opennebulav1alpha1.ReasonSecretMissing, Message: fmt.Sprintf(
		"generated Secret %s is missing but volume %s, initialised with its credentials, still exists: "+
			"restore the Secret (new credentials would not match the data), or delete the volume to start afresh",
		gen.Secret.Name, claim)}, nil
}

func missingKeys(s *corev1.Secret, gen builder.GeneratedSecret) *status.Problem {
	for _, k := range gen.Keys() {
		if len(s.Data[k]) == 0 {
			return &status.Problem{Reason: opennebulav1alpha1.ReasonSecretKeyMissing, Message: fmt.Sprintf(
				"generated Secret %s lacks key %q; the operator does not regenerate credentials over live data", s.Name, k)}
		}
	}
	return nil
}

// alignSecretMetadata adds or removes the frontend as the generated Secret's owner, so
// that secretRetentionPolicy Delete lets the garbage collector remove it with the
// frontend, and labels it for the operator's Secret watch (Secrets generated before the
// label existed lack it). It never touches the data.
func (r *OpenNebulaFrontendReconciler) alignSecretMetadata(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, s *corev1.Secret, owned bool) error {
	if metav1.IsControlledBy(s, fe) == owned && s.Labels[builder.LabelWatch] == builder.ValueWatch {
		return nil
	}
	patch := client.MergeFrom(s.DeepCopy())
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[builder.LabelWatch] = builder.ValueWatch
	switch controlled := metav1.IsControlledBy(s, fe); {
	case owned && !controlled:
		if err := controllerutil.SetControllerReference(fe, s, r.Scheme); err != nil {
			return err
		}
	case !owned && controlled:
		if err := controllerutil.RemoveControllerReference(fe, s, r.Scheme); err != nil {
			return err
		}
	}
	return r.Patch(ctx, s, patch, client.FieldOwner(apply.FieldManager))
}
