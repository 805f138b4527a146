package controller

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
)

// The memo answers builder.PodSecretRefs for the frontend's version: the same version
// is not listed again, and any other version, uid or a forgotten entry is.
func TestPodSecretRefsMemoFollowsTheVersion(t *testing.T) {
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "ns", UID: "u1", ResourceVersion: "5"}}
	var m podSecretRefsMemo
	names := func(refs []builder.SecretKeyRef) []string {
		out := make([]string, 0, len(refs))
		for _, r := range refs {
			out = append(out, r.Name)
		}
		return out
	}
	first := m.of(fe, builder.Options{})
	if !slices.Equal(first, builder.PodSecretRefs(fe, builder.Options{})) {
		t.Fatalf("memo gave %v, PodSecretRefs %v", first, builder.PodSecretRefs(fe, builder.Options{}))
	}
	if again := m.of(fe.DeepCopy(), builder.Options{}); &again[0] != &first[0] {
		t.Error("the same version was listed again")
	}

	edited := fe.DeepCopy()
	edited.ResourceVersion = "6"
	edited.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "admin", Key: "pw"}
	if got := names(m.of(edited, builder.Options{})); !slices.Contains(got, "admin") {
		t.Errorf("a new version kept the old refs: %v", got)
	}

	recreated := fe.DeepCopy() // deleted and made again: the version numbers are the etcd's, the uid is new
	recreated.UID, recreated.ResourceVersion = "u2", "6"
	if got := names(m.of(recreated, builder.Options{})); slices.Contains(got, "admin") {
		t.Errorf("a frontend of another uid got the refs of the old one: %v", got)
	}

	m.forget(types.NamespacedName{Namespace: "ns", Name: "one"})
	if len(m.entries) != 0 {
		t.Errorf("forget left %v", m.entries)
	}

	unversioned := edited.DeepCopy()
	unversioned.ResourceVersion = ""
	if m.of(unversioned, builder.Options{}); len(m.entries) != 0 {
		t.Error("an object with no version was remembered")
	}
}
