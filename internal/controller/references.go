package controller

import (
	"context"
	"fmt"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/apply"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/secrets"
)

const (
	// DefaultProblemRecheck is how soon a frontend blocked by something the user must fix
	// (a referenced Secret or StorageClass that is not watched) is looked at again.
	DefaultProblemRecheck = 30 * time.Second
	// SecretRecheck is how often the Secrets a frontend reads are read again when one
	// of them is not labelled opennebula.io/watch=true (so not watched).
	SecretRecheck = 5 * time.Minute
	// conflictRetry is how soon a reconcile that lost a write race is tried again.
	conflictRetry = 200 * time.Millisecond
	// replaceRecheck is how soon a StatefulSet being replaced is looked at again.
	replaceRecheck = 2 * time.Second
)

// problem is something the user must fix; it becomes the Degraded condition.
type problem struct{ reason, message string }

// observation is what one reconcile saw, from which the status is computed.
type observation struct {
	sts     *appsv1.StatefulSet
	err     error
	problem *problem
	inputs  builder.Inputs
	// growing lists the claims whose capacity has not reached their request.
	growing []string
	// replacing says which StatefulSets are being replaced (orphan and recreate).
	replacing []string
	// unwatchedSecrets: the pod reads a Secret the operator does not watch.
	unwatchedSecrets bool
	oned             onedCheck
	// paused is set while the paused annotation stops writes.
	paused *pauseState
	// changes lists what this reconcile created and updated.
	changes changeLog
}

type pauseState struct {
	// pending lists the children that differ from the spec ("StatefulSet one").
	pending []string
}

// ensureGeneratedSecrets creates the Secrets the operator generates (oneadmin password,
// database credentials, SSH key pair) when they do not exist, and never touches their
// data afterwards. A generated Secret that disappears while the volume it was written to
// still exists is not generated again: new credentials would lock oned out of its data.
func (r *OpenNebulaFrontendReconciler) ensureGeneratedSecrets(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, changes *changeLog) (*problem, error) {
	owned := fe.Spec.SecretRetentionPolicy == opennebulav1alpha1.SecretRetentionDelete
	for _, gen := range builder.GeneratedSecrets(fe) {
		want := gen.Secret
		live := &corev1.Secret{}
		switch err := r.getLive(ctx, client.ObjectKeyFromObject(want), live); {
		case apierrors.IsNotFound(err):
			if p, err := r.dataOutlivedSecret(ctx, fe, gen); p != nil || err != nil {
				return p, err
			}
			data, err := secrets.Data(gen.Kind, "oneadmin@"+fe.Namespace+"/"+fe.Name)
			if err != nil {
				return nil, err
			}
			want.Data = data
			if owned {
				if err := controllerutil.SetControllerReference(fe, want, r.Scheme); err != nil {
					return nil, err
				}
			}
			if err := r.Create(ctx, want, client.FieldOwner(apply.FieldManager)); err != nil {
				return nil, fmt.Errorf("creating Secret %s: %w", want.Name, err)
			}
			changes.add(EventReasonCreated, "Secret "+want.Name)
		case err != nil:
			return nil, err
		case live.Annotations[builder.AnnotationFrontendOf] != fe.Name:
			return &problem{opennebulav1alpha1.ReasonChildNotOwned, fmt.Sprintf(
				"Secret %s exists and was not generated for this frontend; delete it or reference it explicitly", live.Name)}, nil
		default:
			if p := missingKeys(live, gen); p != nil {
				return p, nil
			}
			if err := r.alignSecretMetadata(ctx, fe, live, owned); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// dataOutlivedSecret reports a problem when the volume that the generated Secret's
// credentials were written to exists but the Secret does not (deleted by hand).
func (r *OpenNebulaFrontendReconciler) dataOutlivedSecret(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend, gen builder.GeneratedSecret) (*problem, error) {
	names := builder.NamesFor(fe.Name)
	sts := names.StatefulSet
	if gen.Kind == builder.SecretMariaDB {
		sts = names.MariaDB
	}
	// Past the cache when it does not have the claim: one restored from a backup may lack
	// the operator's labels, and missing it would regenerate credentials over its data.
	pvc := &corev1.PersistentVolumeClaim{}
	err := r.getLive(ctx, client.ObjectKey{Namespace: fe.Namespace, Name: names.DataVolume + "-" + sts + "-0"}, pvc)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &problem{opennebulav1alpha1.ReasonSecretMissing, fmt.Sprintf(
		"generated Secret %s is missing but volume %s, initialised with its credentials, still exists: "+
			"restore the Secret (new credentials would not match the data), or delete the volume to start afresh",
		gen.Secret.Name, pvc.Name)}, nil
}

func missingKeys(s *corev1.Secret, gen builder.GeneratedSecret) *problem {
	want := map[builder.SecretKind][]string{
		builder.SecretAdminPassword: {builder.AdminPasswordKey},
		builder.SecretMariaDB:       {builder.MariaDBPasswordKey, builder.MariaDBRootKey},
		builder.SecretSSHKeyPair:    {builder.SSHPrivateKeyKey, builder.SSHPublicKeyKey},
	}[gen.Kind]
	for _, k := range want {
		if len(s.Data[k]) == 0 {
			return &problem{opennebulav1alpha1.ReasonSecretKeyMissing, fmt.Sprintf(
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

// readPodSecrets reads the values of every Secret key the frontend pod reads, for the
// pod template's inputs hash, and finds what admission cannot: a Secret or key the pod
// needs that does not exist. A user's Secret is read past the cache, which holds only
// Secrets labelled opennebula.io/watch; unwatched reports that one was.
func (r *OpenNebulaFrontendReconciler) readPodSecrets(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend) (hash string, unwatched bool, p *problem, err error) {
	values := map[string]map[string][]byte{}
	read := map[string]*corev1.Secret{}
	for _, ref := range builder.PodSecretRefs(fe, r.Options) {
		s, seen := read[ref.Name]
		if !seen {
			s = &corev1.Secret{}
			switch err := r.getLive(ctx, client.ObjectKey{Namespace: fe.Namespace, Name: ref.Name}, s); {
			case apierrors.IsNotFound(err):
				s = nil
			case err != nil:
				return "", false, nil, err
			case s.Labels[builder.LabelWatch] != builder.ValueWatch:
				unwatched = true
			}
			read[ref.Name] = s
		}
		switch {
		case s == nil && ref.Optional:
		case s == nil:
			return "", unwatched, &problem{opennebulav1alpha1.ReasonSecretMissing, fmt.Sprintf("Secret %s does not exist", ref.Name)}, nil
		case ref.Key == "":
			values[ref.Name] = mergeBytes(values[ref.Name], s.Data)
		default:
			v, ok := s.Data[ref.Key]
			if !ok && !ref.Optional {
				return "", unwatched, &problem{opennebulav1alpha1.ReasonSecretKeyMissing, fmt.Sprintf("Secret %s has no key %q", ref.Name, ref.Key)}, nil
			}
			if ok {
				values[ref.Name] = mergeBytes(values[ref.Name], map[string][]byte{ref.Key: v})
			}
		}
	}
	return builder.HashSecretValues(values), unwatched, nil, nil
}

func mergeBytes(into, from map[string][]byte) map[string][]byte {
	if into == nil {
		into = make(map[string][]byte, len(from))
	}
	maps.Copy(into, from)
	return into
}

// checkStorageClasses finds a StorageClass the spec names that does not exist (read
// past the cache: StorageClasses are not watched).
func (r *OpenNebulaFrontendReconciler) checkStorageClasses(ctx context.Context, fe *opennebulav1alpha1.OpenNebulaFrontend) (*problem, error) {
	var classes []*string
	classes = append(classes, fe.Spec.Persistence.StorageClassName)
	if m := fe.Spec.Database.MariaDB; m != nil && builder.DatabaseBackend(fe) == opennebulav1alpha1.DatabaseMariaDB {
		classes = append(classes, m.StorageClassName)
	}
	for _, name := range classes {
		if name == nil || *name == "" {
			continue
		}
		err := r.APIReader.Get(ctx, client.ObjectKey{Name: *name}, &storagev1.StorageClass{})
		if apierrors.IsNotFound(err) {
			return &problem{opennebulav1alpha1.ReasonStorageClassMissing, fmt.Sprintf("StorageClass %s does not exist", *name)}, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// checkDowngrade refuses an image whose OpenNebula version is lower than the running
// one, unless the allow-downgrade annotation says so: oned's database schema only moves
// forward (`onedb upgrade`).
func (r *OpenNebulaFrontendReconciler) checkDowngrade(fe *opennebulav1alpha1.OpenNebulaFrontend) *problem {
	running, target := fe.Status.Version, builder.Version(builder.Image(fe, r.Options))
	if running == "" || fe.Annotations[opennebulav1alpha1.AnnotationAllowDowngrade] == "true" {
		return nil
	}
	from, err1 := utilversion.ParseGeneric(running)
	to, err2 := utilversion.ParseGeneric(target)
	if err1 != nil || err2 != nil || !to.LessThan(from) {
		return nil
	}
	return &problem{opennebulav1alpha1.ReasonDowngradeRefused, fmt.Sprintf(
		"downgrade from OpenNebula %s to %s refused: its database cannot be downgraded; to restore an older backup, "+
			"annotate the frontend %s=true", running, target, opennebulav1alpha1.AnnotationAllowDowngrade)}
}
