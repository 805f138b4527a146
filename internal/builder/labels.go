package builder

import (
	"maps"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// Label keys and values put on every child. The operator's informers select on
// LabelManagedBy, so only the operator's own objects are cached.
//
// The frontend is identified by LabelFrontend and deliberately NOT by
// app.kubernetes.io/instance: Argo CD tracks its resources with that label, and copying
// it onto children would make Argo CD prune or flag them as out of sync.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelFrontend  = "opennebula.io/frontend"

	ValueName      = "opennebula"
	ValueComponent = "frontend"
	ValuePartOf    = "opennebula"
	ValueManagedBy = "opennebula-operator"
)

// SelectorLabels select the frontend's pods. They are immutable on a StatefulSet, so
// they never change for the life of a frontend.
func SelectorLabels(fe *opennebulav1alpha1.OpenNebulaFrontend) map[string]string {
	return map[string]string{
		LabelName:     ValueName,
		LabelFrontend: NamesFor(fe.Name).FrontendLabel,
	}
}

// Labels are put on every child object and on the pods.
func Labels(fe *opennebulav1alpha1.OpenNebulaFrontend) map[string]string {
	l := SelectorLabels(fe)
	maps.Copy(l, map[string]string{
		LabelComponent: ValueComponent,
		LabelPartOf:    ValuePartOf,
		LabelManagedBy: ValueManagedBy,
	})
	return l
}
