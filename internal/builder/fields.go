package builder

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// UncheckedFields lists the spec's fields that are set and whose validity the CRD's
// schema cannot fully express: they embed Kubernetes types (volume sources, affinity,
// security contexts, probes' handlers, extended resources) or depend on the cluster (the
// node port range, ports already allocated). While the list is not empty, the children
// are validated by the API server (a server-side dry run) before anything is written.
func UncheckedFields(fe *opennebulav1alpha1.OpenNebulaFrontend) []string {
	s := fe.Spec
	var out []string
	add := func(set bool, field string) {
		if set {
			out = append(out, field)
		}
	}
	add(len(s.Pod.Volumes) > 0, "spec.pod.volumes")
	add(len(s.Pod.VolumeMounts) > 0, "spec.pod.volumeMounts")
	add(len(s.Pod.Env) > 0, "spec.pod.env")
	add(len(s.Pod.EnvFrom) > 0, "spec.pod.envFrom")
	add(s.Pod.Affinity != nil, "spec.pod.affinity")
	add(s.Pod.SecurityContext != nil, "spec.pod.securityContext")
	add(s.Pod.ContainerSecurityContext != nil, "spec.pod.containerSecurityContext")
	add(len(s.Pod.TopologySpreadConstraints) > 0, "spec.pod.topologySpreadConstraints")
	add(hasResources(s.Pod.Resources), "spec.pod.resources")
	add(hasResources(s.FireEdgeProxy.Resources), "spec.fireEdgeProxy.resources")
	add(s.Database.MariaDB != nil && hasResources(s.Database.MariaDB.Resources), "spec.database.mariadb.resources")
	add(s.Probes.Startup != nil || s.Probes.Liveness != nil || s.Probes.Readiness != nil, "spec.probes")
	add(len(s.Service.NodePorts) > 0, "spec.service.nodePorts")
	add(len(s.Service.Annotations) > 0, "spec.service.annotations")
	add(s.Service.LoadBalancerClass != nil, "spec.service.loadBalancerClass")
	add(len(s.Ingress.Annotations) > 0, "spec.ingress.annotations")
	return out
}

func hasResources(r corev1.ResourceRequirements) bool {
	return len(r.Limits) > 0 || len(r.Requests) > 0 || len(r.Claims) > 0
}

// ValidatedKind says whether a child's content comes from the unchecked fields: the
// children a dry run validates.
func ValidatedKind(obj client.Object) bool {
	switch obj.(type) {
	case *appsv1.StatefulSet, *corev1.Service, *networkingv1.Ingress:
		return true
	}
	return false
}

// pathIndex matches "name[3]" in a field path.
var pathIndex = regexp.MustCompile(`^([A-Za-z]+)\[(\d+)\]$`)

// SpecField names the frontend's field that the field path of one of its children comes
// from (as the API server names it in a refusal: "spec.template.spec.containers[0].env[4]"),
// so that what the user must fix is named in the frontend's own terms; "" when the child's
// field is the operator's own. child is the desired object the path refers to.
func SpecField(fe *opennebulav1alpha1.OpenNebulaFrontend, child client.Object, path string) string {
	switch c := child.(type) {
	case *corev1.Service:
		if c.Name != NamesFor(fe.Name).ExternalService {
			return ""
		}
		return serviceField(c, path)
	case *networkingv1.Ingress:
		// One rule and one TLS entry, built from single fields: name the field itself.
		f, _, _ := strings.Cut(firstMatch(path, []fieldPrefix{
			{fieldAnnotations, "spec.ingress.annotations"},
			{"spec.ingressClassName", "spec.ingress.className"},
			{"spec.tls", "spec.ingress.tlsSecretName"},
			{"spec.rules", "spec.ingress.host"},
		}), "[")
		return f
	case *appsv1.StatefulSet:
		return statefulSetField(fe, c, path)
	case *corev1.Pod:
		if f := firstMatch(path, []fieldPrefix{
			{fieldLabels, "spec.pod.labels"},
			{fieldAnnotations, "spec.pod.annotations"},
		}); f != "" {
			return f
		}
		if rest, ok := strings.CutPrefix(path, "spec."); ok {
			return podSpecField(fe, &c.Spec, rest, 0)
		}
	}
	return ""
}

type fieldPrefix struct{ child, spec string }

// firstMatch maps the first prefix path starts with, keeping what follows it.
func firstMatch(path string, prefixes []fieldPrefix) string {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(path, p.child); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return p.spec + rest
		}
	}
	return ""
}

func serviceField(svc *corev1.Service, path string) string {
	// spec.ports[i].nodePort → spec.service.nodePorts.<port name>
	if rest, ok := strings.CutPrefix(path, "spec.ports["); ok {
		i, tail, _ := strings.Cut(rest, "]")
		n, err := strconv.Atoi(i)
		if err == nil && n < len(svc.Spec.Ports) && strings.HasPrefix(tail, ".nodePort") {
			return "spec.service.nodePorts." + svc.Spec.Ports[n].Name
		}
		return "spec.service"
	}
	return firstMatch(path, []fieldPrefix{
		{fieldAnnotations, "spec.service.annotations"},
		{fieldLabels, "spec.service.labels"},
		{"spec.loadBalancerSourceRanges", "spec.service.loadBalancerSourceRanges"},
		{"spec.loadBalancerClass", "spec.service.loadBalancerClass"},
		{"spec.externalTrafficPolicy", "spec.service.externalTrafficPolicy"},
		{"spec.type", "spec.service.type"},
	})
}

func statefulSetField(fe *opennebulav1alpha1.OpenNebulaFrontend, sts *appsv1.StatefulSet, path string) string {
	if f := firstMatch(path, []fieldPrefix{
		{"spec.persistentVolumeClaimRetentionPolicy", "spec.persistentVolumeClaimRetentionPolicy"},
		{"spec.template.metadata.labels", "spec.pod.labels"},
		{"spec.template.metadata.annotations", "spec.pod.annotations"},
	}); f != "" {
		return f
	}
	if rest, ok := strings.CutPrefix(path, "spec.template.spec."); ok {
		// The API server validates a StatefulSet's template with one volume per claim
		// template put before its volumes, and numbers them so (k8s.io/kubernetes
		// pkg/apis/apps/validation: volumesToAddForTemplates); no template shares a
		// volume's name here (the CRD refuses a volume named data).
		return podSpecField(fe, &sts.Spec.Template.Spec, rest, len(sts.Spec.VolumeClaimTemplates))
	}
	return ""
}

// ValidationPod is the pod the StatefulSet controller would create from sts (its first
// replica, with a volume per claim template, added after the template's own), named by
// the API server: what a server-side dry run validates in full where a StatefulSet's is
// partial (Kubernetes 1.32 admits a StatefulSet whose template has a volume with two
// sources; its pods are then refused, with nothing on the StatefulSet to say why).
func ValidationPod(sts *appsv1.StatefulSet) *corev1.Pod {
	tmpl := sts.Spec.Template.DeepCopy()
	pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
	pod.Namespace, pod.GenerateName = sts.Namespace, sts.Name+"-"
	for _, c := range sts.Spec.VolumeClaimTemplates {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name + "-" + sts.Name + "-0"},
		}})
	}
	return pod
}

// podSpecField maps a field of a pod spec the operator built (rest: "containers[0].env[4]");
// the API server numbers its volumes after volumeOffset volumes it put first.
func podSpecField(fe *opennebulav1alpha1.OpenNebulaFrontend, pod *corev1.PodSpec, rest string, volumeOffset int) string {
	first, tail, _ := strings.Cut(rest, ".")
	if m := pathIndex.FindStringSubmatch(first); m != nil {
		i, _ := strconv.Atoi(m[2])
		switch m[1] {
		case "containers":
			if i < len(pod.Containers) {
				return containerField(fe, pod.Containers[i], tail)
			}
		case "initContainers":
			return ""
		case "volumes":
			// The user's volumes follow the operator's (and come before the claims'
			// of a ValidationPod).
			return userVolumeField(fe, pod, i-volumeOffset, tail)
		case "imagePullSecrets":
			return fmt.Sprintf("spec.imagePullSecrets[%d]", i) + dotted(tail)
		case "tolerations", "topologySpreadConstraints":
			return fmt.Sprintf("spec.pod.%s[%d]", m[1], i) + dotted(tail)
		}
		return ""
	}
	return firstMatch(rest, []fieldPrefix{
		{"affinity", "spec.pod.affinity"},
		{"tolerations", "spec.pod.tolerations"},
		{"topologySpreadConstraints", "spec.pod.topologySpreadConstraints"},
		{"securityContext", "spec.pod.securityContext"},
		{"nodeSelector", "spec.pod.nodeSelector"},
		{"priorityClassName", "spec.pod.priorityClassName"},
		{"serviceAccountName", "spec.pod.serviceAccountName"},
		{"imagePullSecrets", "spec.imagePullSecrets"},
	})
}

// userVolumeField names pod.Volumes[i] by the user's numbering, "" for the operator's.
func userVolumeField(fe *opennebulav1alpha1.OpenNebulaFrontend, pod *corev1.PodSpec, i int, tail string) string {
	user := fe.Spec.Pod.Volumes
	if len(user) == 0 || i < 0 || i >= len(pod.Volumes) {
		return ""
	}
	start := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == user[0].Name })
	if start < 0 || i < start || i >= start+len(user) {
		return ""
	}
	return fmt.Sprintf("spec.pod.volumes[%d]", i-start) + dotted(tail)
}

// Field names of a container and of object metadata, as the API server's paths spell them.
const (
	fieldResources   = "resources"
	fieldImage       = "image"
	fieldAnnotations = "metadata.annotations"
	fieldLabels      = "metadata.labels"
)

// containerFields: for each of the operator's containers, the frontend's field each of
// its fields comes from (its lists are handled by containerField).
var containerFields = map[string]map[string]string{
	ContainerName: {
		fieldResources:    "spec.pod.resources",
		"securityContext": "spec.pod.containerSecurityContext",
		"startupProbe":    "spec.probes.startup",
		"livenessProbe":   "spec.probes.liveness",
		"readinessProbe":  "spec.probes.readiness",
		fieldImage:        "spec.image",
	},
	ProxyContainerName:   {fieldResources: "spec.fireEdgeProxy.resources", fieldImage: "spec.fireEdgeProxy.image"},
	SSHDContainerName:    {fieldImage: "spec.ssh.image"},
	MariaDBContainerName: {fieldResources: "spec.database.mariadb.resources", fieldImage: "spec.database.mariadb.image"},
}

// containerField maps a field of one of the pod's containers (tail: "env[4].name").
func containerField(fe *opennebulav1alpha1.OpenNebulaFrontend, c corev1.Container, tail string) string {
	first, rest, _ := strings.Cut(tail, ".")
	name, index := first, -1
	if m := pathIndex.FindStringSubmatch(first); m != nil {
		name = m[1]
		index, _ = strconv.Atoi(m[2])
	}
	if c.Name == ContainerName {
		switch name {
		case "env":
			return shifted("spec.pod.env", index, len(c.Env)-len(fe.Spec.Pod.Env), rest)
		case "envFrom":
			return shifted("spec.pod.envFrom", index, 0, rest)
		case "volumeMounts":
			return shifted("spec.pod.volumeMounts", index, len(c.VolumeMounts)-len(fe.Spec.Pod.VolumeMounts), rest)
		}
	}
	if f, ok := containerFields[c.Name][name]; ok && index < 0 {
		if name == fieldImage {
			return f
		}
		return f + dotted(rest)
	}
	return ""
}

// shifted names item index of a child's list whose first offset items are the
// operator's; "" for one of those.
func shifted(field string, index, offset int, rest string) string {
	if index < 0 {
		return field + dotted(rest)
	}
	if index < offset {
		return ""
	}
	return fmt.Sprintf("%s[%d]", field, index-offset) + dotted(rest)
}

func dotted(rest string) string {
	if rest == "" {
		return ""
	}
	return "." + rest
}
