package controller

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
)

// EventSource names the operator in the Events it records.
const EventSource = "opennebula-operator"

// NewEventRecorder records core/v1 Events (what `kubectl describe` shows). The core API
// is used rather than events.k8s.io because OperatorHub's bundle validators flag any RBAC
// rule on events.k8s.io as a removed API. Call the returned function on shutdown.
func NewEventRecorder(cfg *rest.Config, scheme *runtime.Scheme) (record.EventRecorder, func(), error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	return b.NewRecorder(scheme, corev1.EventSource{Component: EventSource}), b.Shutdown, nil
}
