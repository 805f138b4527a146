package builder

import (
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A refusal of a child names the frontend's field, with the operator's own list items
// (env, volumes, mounts) counted out.
func TestSpecFieldNamesTheFrontendsField(t *testing.T) {
	fe := frontend()
	fe.Spec.Service.Type = corev1.ServiceTypeNodePort
	fe.Spec.Service.NodePorts = map[string]int32{"oned": 4124}
	fe.Spec.Pod.Env = []corev1.EnvVar{{Name: "A", Value: "a"}, {Name: "B"}}
	fe.Spec.Pod.Volumes = []corev1.Volume{{Name: "extra"}}
	fe.Spec.Pod.VolumeMounts = []corev1.VolumeMount{{Name: "extra", MountPath: "/extra"}}
	fe.Spec.Probes.Liveness = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(0)}}}
	fe.Spec.Ingress.Enabled = true
	sts := StatefulSet(fe, Options{}, Inputs{})
	svc := ExternalService(fe, Inputs{})
	pod := sts.Spec.Template.Spec
	var frontendIdx, onedIdx, proxyIdx int
	for i, c := range pod.Containers {
		switch c.Name {
		case ContainerName:
			frontendIdx = i
		case ProxyContainerName:
			proxyIdx = i
		}
	}
	for i, p := range svc.Spec.Ports {
		if p.Name == PortOned {
			onedIdx = i
		}
	}
	idx := strconv.Itoa
	c := "spec.template.spec.containers[" + idx(frontendIdx) + "]"
	opEnv := len(pod.Containers[frontendIdx].Env) - len(fe.Spec.Pod.Env)
	opMounts := len(pod.Containers[frontendIdx].VolumeMounts) - len(fe.Spec.Pod.VolumeMounts)
	for _, tc := range []struct {
		child      client.Object
		path, want string
	}{
		{svc, "spec.ports[" + idx(onedIdx) + "].nodePort", "spec.service.nodePorts.oned"},
		{svc, "metadata.annotations", "spec.service.annotations"},
		{svc, "spec.ports[0].port", "spec.service"},
		{HeadlessService(fe), "spec.clusterIP", ""},
		{sts, c + ".env[" + idx(opEnv+1) + "].name", "spec.pod.env[1].name"},
		{sts, c + ".env[0].name", ""},
		// The API server numbers a StatefulSet's template volumes after one per claim template.
		{sts, "spec.template.spec.volumes[" + idx(len(sts.Spec.VolumeClaimTemplates)+len(pod.Volumes)-1) + "].emptyDir", "spec.pod.volumes[0].emptyDir"},
		{sts, "spec.template.spec.volumes[" + idx(len(pod.Volumes)-1) + "]", ""},
		{sts, c + ".volumeMounts[" + idx(opMounts) + "].name", "spec.pod.volumeMounts[0].name"},
		{sts, c + ".volumeMounts[" + idx(opMounts-1) + "].name", ""},
		{sts, c + ".livenessProbe.httpGet.port", "spec.probes.liveness.httpGet.port"},
		{sts, "spec.template.spec.containers[" + idx(proxyIdx) + "].resources.limits", "spec.fireEdgeProxy.resources.limits"},
		{sts, "spec.template.spec.affinity.nodeAffinity", "spec.pod.affinity.nodeAffinity"},
		{sts, "spec.template.metadata.labels", "spec.pod.labels"},
		{sts, "spec.selector", ""},
		// The dry-run pod: the template's volumes, then one per claim template.
		{ValidationPod(sts), "spec.volumes[" + idx(len(pod.Volumes)-1) + "].hostPath", "spec.pod.volumes[0].hostPath"},
		{ValidationPod(sts), "spec.volumes[" + idx(len(pod.Volumes)) + "]", ""},
		{ValidationPod(sts), "spec.volumes[0]", ""},
		{ValidationPod(sts), "spec.containers[" + idx(frontendIdx) + "].env[" + idx(opEnv) + "]", "spec.pod.env[0]"},
		{ValidationPod(sts), "metadata.labels", "spec.pod.labels"},
		{Ingress(fe), "spec.rules[0].host", "spec.ingress.host"},
		{Ingress(fe), "metadata.annotations", "spec.ingress.annotations"},
	} {
		if got := SpecField(fe, tc.child, tc.path); got != tc.want {
			t.Errorf("SpecField(%T, %q) = %q, want %q", tc.child, tc.path, got, tc.want)
		}
	}
}
