package controller

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/test/admission"
)

// Bad specs are refused by the API server with a message that names the field: the table
// of test/admission, which the install e2e also runs against dist/install.yaml's CRD.
func TestAdmissionRejectsBadSpecsWithTheField(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	for _, err := range admission.Check(context.Background(), k8sClient, ns) {
		t.Error(err)
	}

	// What the transition rules refuse, they refuse only in one direction: volumes grow.
	sized := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "sized", Namespace: ns}}
	Expect(k8sClient.Create(context.Background(), sized)).To(Succeed())
	grow := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"persistence":{"size":"30Gi"}}}`))
	Expect(k8sClient.Patch(context.Background(), sized, grow)).To(Succeed())
}

// A spec the CRD admits but whose children the API server refuses (what the schema cannot
// express) makes the frontend Degraded InvalidSpec, naming its own field, with nothing
// written: no Secret, ConfigMap, Service or StatefulSet. Fixed, it proceeds.
func TestRefusedChildrenAreInvalidSpecAndNothingIsWritten(t *testing.T) {
	RegisterTestingT(t)
	ctx := context.Background()
	for _, tc := range admission.RefusedChildren {
		ns := newNamespace(t)
		u, err := admission.Frontend("one", ns, tc.Spec)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Create(ctx, u)).To(Succeed(), tc.Name)
		Eventually(func(g Gomega) {
			d := degraded(g, ns)
			g.Expect(d.Status).To(Equal(metav1.ConditionTrue), tc.Name)
			g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonInvalidSpec), tc.Name)
			g.Expect(d.Message).To(ContainSubstring(tc.Message), tc.Name)
		}, timeout, poll).Should(Succeed())
		for _, list := range []client.ObjectList{&appsv1.StatefulSetList{}, &corev1.ServiceList{}, &corev1.SecretList{}, &corev1.ConfigMapList{}} {
			Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
			Expect(meta.LenList(list)).To(BeZero(), "%s: %T written for an invalid spec", tc.Name, list)
		}
	}

	// The user fixes the spec: the frontend is created.
	ns := newNamespace(t)
	u, err := admission.Frontend("one", ns, admission.RefusedChildren[0].Spec)
	Expect(err).NotTo(HaveOccurred())
	Expect(k8sClient.Create(ctx, u)).To(Succeed())
	Eventually(func(g Gomega) { g.Expect(degraded(g, ns).Reason).To(Equal(opennebulav1alpha1.ReasonInvalidSpec)) }, timeout, poll).Should(Succeed())
	fix := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"service":{"nodePorts":{"oned":30633}}}}`))
	Expect(k8sClient.Patch(ctx, u, fix)).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(degraded(g, ns).Status).To(Equal(metav1.ConditionFalse))
		svc := get(g, ns, "one", &corev1.Service{})
		g.Expect(svc.Spec.Ports).To(ContainElement(And(HaveField("Name", "oned"), HaveField("NodePort", int32(30633)))))
		get(g, ns, "one", &appsv1.StatefulSet{})
	}, timeout, poll).Should(Succeed())
}

func degraded(g Gomega, ns string) *metav1.Condition {
	fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
	return condition(g, fe, opennebulav1alpha1.ConditionDegraded)
}

// What admission cannot know (a missing Secret, key or StorageClass) sets Degraded with
// a reason, holds the StatefulSet back, and recovers by itself once fixed.
func TestMissingReferencesDegradeAndRecover(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	ctx := context.Background()
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: ns}}
	fe.Spec.Admin.PasswordSecretRef = &opennebulav1alpha1.SecretKeySelector{Name: "admin", Key: "pw"}
	fe.Spec.Persistence.StorageClassName = new("fast")
	fe.Spec.Pod.PriorityClassName = "frontend-critical"
	Expect(k8sClient.Create(ctx, fe)).To(Succeed())

	Eventually(func(g Gomega) {
		d := degraded(g, ns)
		g.Expect(d.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonSecretMissing))
		g.Expect(d.Message).To(Equal("spec.admin.passwordSecretRef: Secret admin does not exist"))
	}, timeout, poll).Should(Succeed())
	Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "one"}, &appsv1.StatefulSet{}))).To(BeTrue(),
		"the StatefulSet must wait for the Secret")
	// The problem is an Event too, and rechecks (every 300ms here) do not repeat it.
	eventCount := func(g Gomega) int32 {
		return occurrences(eventsWith(g, ns, opennebulav1alpha1.ReasonSecretMissing), func(e corev1.Event) bool {
			return e.Type == corev1.EventTypeWarning && e.Message == "spec.admin.passwordSecretRef: Secret admin does not exist"
		})
	}
	Eventually(eventCount, timeout, poll).Should(BeNumerically(">", 0))
	seen := eventCount(Default)
	Consistently(eventCount, "1500ms", poll).Should(Equal(seen))
	// The Services do not depend on the Secret and are created.
	Eventually(func(g Gomega) { get(g, ns, "one", &corev1.Service{}) }, timeout, poll).Should(Succeed())

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: ns}, StringData: map[string]string{"password": "x"}}
	Expect(k8sClient.Create(ctx, secret)).To(Succeed())
	Eventually(func(g Gomega) {
		d := degraded(g, ns)
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonSecretKeyMissing))
		g.Expect(d.Message).To(Equal(`spec.admin.passwordSecretRef: Secret admin has no key "pw"`))
	}, timeout, poll).Should(Succeed())

	secret.StringData = map[string]string{"pw": "x"}
	Expect(k8sClient.Update(ctx, secret)).To(Succeed())
	Eventually(func(g Gomega) {
		d := degraded(g, ns)
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonStorageClassMissing))
		g.Expect(d.Message).To(Equal("spec.persistence.storageClassName: StorageClass fast does not exist"))
	}, timeout, poll).Should(Succeed())

	Expect(k8sClient.Create(ctx, &storageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "example.org/fast"})).To(Succeed())
	Eventually(func(g Gomega) {
		d := degraded(g, ns)
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonPriorityClassMissing))
		g.Expect(d.Message).To(Equal("spec.pod.priorityClassName: PriorityClass frontend-critical does not exist"))
	}, timeout, poll).Should(Succeed())
	Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "one"}, &appsv1.StatefulSet{}))).To(BeTrue(),
		"the StatefulSet must wait for the PriorityClass: its pod could not be created")

	Expect(k8sClient.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "frontend-critical"}, Value: 1000})).To(Succeed())
	t.Cleanup(func() {
		_ = k8sClient.Delete(context.Background(), &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "frontend-critical"}})
	})
	Eventually(func(g Gomega) {
		d := degraded(g, ns)
		g.Expect(d.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonAsExpected))
		sts := get(g, ns, "one", &appsv1.StatefulSet{})
		env := sts.Spec.Template.Spec.Containers[0].Env
		g.Expect(env).To(ContainElement(HaveField("Name", "ONEADMIN_PASSWORD")))
		var ref *corev1.SecretKeySelector
		for _, e := range env {
			if e.Name == "ONEADMIN_PASSWORD" {
				ref = e.ValueFrom.SecretKeyRef
			}
		}
		g.Expect(ref.Name).To(Equal("admin"))
		g.Expect(ref.Key).To(Equal("pw"))
		g.Expect(sts.Spec.Template.Spec.PriorityClassName).To(Equal("frontend-critical"))
	}, timeout, poll).Should(Succeed())
	// The user's Secret is never touched.
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
	Expect(secret.OwnerReferences).To(BeEmpty())
}

// Generated credentials: created once, kept when the frontend is deleted (Retain),
// owned by it with Delete, and never regenerated over a volume initialised with them.
func TestGeneratedSecrets(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	ctx := context.Background()
	createFrontend(t, ns, "one")
	var admin, db, ssh corev1.Secret
	Eventually(func(g Gomega) {
		admin = *get(g, ns, "one-oneadmin", &corev1.Secret{})
		db = *get(g, ns, "one-mariadb", &corev1.Secret{})
		ssh = *get(g, ns, "one-ssh", &corev1.Secret{})
	}, timeout, poll).Should(Succeed())
	Expect(admin.Data["password"]).To(HaveLen(32))
	Expect(db.Data["password"]).To(HaveLen(32))
	Expect(db.Data["root-password"]).To(HaveLen(32))
	Expect(string(db.Data["password"])).NotTo(Equal(string(db.Data["root-password"])))
	Expect(string(ssh.Data["ssh-privatekey"])).To(HavePrefix("-----BEGIN OPENSSH PRIVATE KEY-----"))
	Expect(string(ssh.Data["ssh-publickey"])).To(HavePrefix("ssh-ed25519 "))
	Expect(ssh.Type).To(Equal(corev1.SecretTypeSSHAuth))
	Expect(admin.OwnerReferences).To(BeEmpty(), "Retain (the default) keeps them without an owner")

	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(fe.Status.AdminPasswordSecret).To(Equal("one-oneadmin"))
		g.Expect(fe.Status.SSHKeySecret).To(Equal("one-ssh"))
		g.Expect(fe.Status.Hostname).To(Equal("one-0.one-headless." + ns + ".svc.cluster.local"))
		g.Expect(fe.Status.Endpoints.Oned).To(Equal("http://one." + ns + ".svc.cluster.local:2633/RPC2"))
		g.Expect(fe.Status.Endpoints.FireEdge).To(Equal("http://one." + ns + ".svc.cluster.local:2616/fireedge/sunstone"))
	}, timeout, poll).Should(Succeed())

	// secretRetentionPolicy Delete: the frontend owns them, so they go with it.
	editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
		fe.Spec.SecretRetentionPolicy = opennebulav1alpha1.SecretRetentionDelete
	})
	Eventually(func(g Gomega) {
		for _, name := range []string{"one-oneadmin", "one-mariadb", "one-ssh"} {
			s := get(g, ns, name, &corev1.Secret{})
			g.Expect(metav1.GetControllerOf(s)).NotTo(BeNil(), name)
		}
	}, timeout, poll).Should(Succeed())
	// The data never changed.
	Expect(get(Default, ns, "one-oneadmin", &corev1.Secret{}).Data).To(Equal(admin.Data))

	// A generated Secret deleted while the volume it initialised exists is not generated
	// again: Degraded explains, and the StatefulSet is left as it is.
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-one-0", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	Expect(k8sClient.Create(ctx, pvc)).To(Succeed())
	Expect(k8sClient.Delete(ctx, &admin)).To(Succeed())
	Eventually(func(g Gomega) {
		d := degraded(g, ns)
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonSecretMissing))
		g.Expect(d.Message).To(ContainSubstring("generated Secret one-oneadmin is missing but volume data-one-0"))
	}, timeout, poll).Should(Succeed())
	Consistently(func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "one-oneadmin"}, &corev1.Secret{}))
	}, "1s", poll).Should(BeTrue(), "credentials must not be regenerated over live data")
}

// monitorAddress auto advertises the LoadBalancer's address once it is assigned.
func TestMonitorAddressAuto(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	ctx := context.Background()
	fe := &opennebulav1alpha1.OpenNebulaFrontend{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: ns}}
	fe.Spec.Service.Type = corev1.ServiceTypeLoadBalancer
	fe.Spec.MonitorAddress = opennebulav1alpha1.MonitorAddressAuto
	Expect(k8sClient.Create(ctx, fe)).To(Succeed())
	monitorEnv := func(g Gomega) string {
		sts := get(g, ns, "one", &appsv1.StatefulSet{})
		for _, e := range sts.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "OPENNEBULA_MONITOR_ADDRESS" {
				return e.Value
			}
		}
		return ""
	}
	Eventually(func(g Gomega) { g.Expect(monitorEnv(g)).To(BeEmpty()) }, timeout, poll).Should(Succeed())

	// What the cloud's load balancer controller does.
	Eventually(func(g Gomega) {
		svc := get(g, ns, "one", &corev1.Service{})
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.10"}}
		g.Expect(k8sClient.Status().Update(ctx, svc)).To(Succeed())
	}, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(monitorEnv(g)).To(Equal("192.0.2.10"))
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(fe.Status.MonitorAddress).To(Equal("192.0.2.10"))
		g.Expect(fe.Status.Endpoints.OnedExternal).To(Equal("http://192.0.2.10:2633/RPC2"))
		g.Expect(fe.Status.Endpoints.FireEdge).To(Equal("http://192.0.2.10:2616/fireedge/sunstone"))
	}, timeout, poll).Should(Succeed())
}

// Every spec field reaches the children.
func TestSpecFieldsReachTheChildren(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	ctx := context.Background()
	doc := `apiVersion: opennebula.io/v1alpha1
kind: OpenNebulaFrontend
metadata: {name: prod, namespace: ` + ns + `}
spec:
  image: registry.example.org/opennebula:7.2.0
  imagePullPolicy: Always
  imagePullSecrets: [{name: regcred}]
  hostname: one.example.org
  monitorAddress: 198.51.100.7
  database: {backend: External, external: {host: db.example.org, port: 3307, name: one, user: one, passwordSecretRef: {name: db, key: pw}}}
  service:
    type: LoadBalancer
    annotations: {lb.example.org/internal: "false"}
    labels: {team: cloud}
    loadBalancerClass: example.org/lb
    loadBalancerSourceRanges: [203.0.113.0/24]
    externalTrafficPolicy: Local
    nodePorts: {ssh: 30022}
  persistence: {size: 50Gi, accessMode: ReadWriteOncePod}
  ssh: {keySecretRef: {name: keys}, image: registry.example.org/opennebula-sshd:7.2.0}
  fireEdgeProxy: {publicURL: "https://one.example.org"}
  ingress: {enabled: true, host: one.example.org, className: nginx, tlsSecretName: one-tls, annotations: {cert-manager.io/cluster-issuer: le}}
  pod:
    labels: {team: cloud}
    annotations: {backup.example.org/enabled: "true"}
    resources: {requests: {cpu: "1", memory: 2Gi}}
    nodeSelector: {role: cloud}
    tolerations: [{key: dedicated, operator: Equal, value: cloud, effect: NoSchedule}]
    priorityClassName: system-cluster-critical
    serviceAccountName: opennebula
    env: [{name: TZ, value: UTC}]
  probes:
    readiness: {tcpSocket: {port: 2633}, periodSeconds: 5}
`
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(doc), &u.Object)).To(Succeed())
	for name, data := range map[string]map[string]string{
		"db":   {"pw": "x"},
		"keys": {"ssh-privatekey": "k", "ssh-publickey": "ssh-rsa AAAA"},
	} {
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data})).To(Succeed())
	}
	Expect(k8sClient.Create(ctx, u)).To(Succeed())

	Eventually(func(g Gomega) {
		sts := get(g, ns, "prod", &appsv1.StatefulSet{})
		pod := sts.Spec.Template.Spec
		c := pod.Containers[0]
		g.Expect(c.Image).To(Equal("registry.example.org/opennebula:7.2.0"))
		g.Expect(c.ImagePullPolicy).To(Equal(corev1.PullAlways))
		g.Expect(pod.ImagePullSecrets).To(ConsistOf(corev1.LocalObjectReference{Name: "regcred"}))
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		g.Expect(env).To(HaveKeyWithValue("OPENNEBULA_HOSTNAME", "one.example.org"))
		g.Expect(env).To(HaveKeyWithValue("OPENNEBULA_MONITOR_ADDRESS", "198.51.100.7"))
		g.Expect(env).To(HaveKeyWithValue("DB_BACKEND", "mysql"))
		g.Expect(env).To(HaveKeyWithValue("DB_HOST", "db.example.org"))
		g.Expect(env).To(HaveKeyWithValue("DB_PORT", "3307"))
		g.Expect(env).To(HaveKeyWithValue("DB_NAME", "one"))
		g.Expect(env).To(HaveKeyWithValue("TZ", "UTC"))
		g.Expect(c.Resources.Requests.Cpu().String()).To(Equal("1"))
		g.Expect(c.ReadinessProbe.TCPSocket).NotTo(BeNil())
		g.Expect(pod.InitContainers[0].Name).To(Equal("wait-for-database"))
		g.Expect(pod.NodeSelector).To(HaveKeyWithValue("role", "cloud"))
		g.Expect(pod.Tolerations).To(HaveLen(1))
		g.Expect(pod.PriorityClassName).To(Equal("system-cluster-critical"))
		g.Expect(pod.ServiceAccountName).To(Equal("opennebula"))
		g.Expect(*pod.AutomountServiceAccountToken).To(BeTrue())
		g.Expect(sts.Spec.Template.Labels).To(HaveKeyWithValue("team", "cloud"))
		g.Expect(sts.Spec.Template.Annotations).To(HaveKeyWithValue("backup.example.org/enabled", "true"))
		g.Expect(sts.Spec.VolumeClaimTemplates[0].Spec.AccessModes).To(ConsistOf(corev1.ReadWriteOncePod))
		var sshd *corev1.Container
		for i := range pod.Containers {
			if pod.Containers[i].Name == builder.SSHDContainerName {
				sshd = &pod.Containers[i]
			}
		}
		g.Expect(sshd).NotTo(BeNil())
		g.Expect(sshd.Image).To(Equal("registry.example.org/opennebula-sshd:7.2.0"))
		var sshKeys string
		for _, v := range pod.Volumes {
			if v.Name == "ssh-keys" {
				sshKeys = v.Secret.SecretName
			}
		}
		g.Expect(sshKeys).To(Equal("keys"))

		svc := get(g, ns, "prod", &corev1.Service{})
		g.Expect(svc.Spec.Type).To(Equal(corev1.ServiceTypeLoadBalancer))
		g.Expect(svc.Annotations).To(HaveKeyWithValue("lb.example.org/internal", "false"))
		g.Expect(svc.Labels).To(HaveKeyWithValue("team", "cloud"))
		g.Expect(*svc.Spec.LoadBalancerClass).To(Equal("example.org/lb"))
		g.Expect(svc.Spec.LoadBalancerSourceRanges).To(ConsistOf("203.0.113.0/24"))
		g.Expect(svc.Spec.ExternalTrafficPolicy).To(Equal(corev1.ServiceExternalTrafficPolicyLocal))
		for _, p := range svc.Spec.Ports {
			if p.Name == "ssh" {
				g.Expect(p.NodePort).To(Equal(int32(30022)))
			}
		}

		ing := get(g, ns, "prod", &ingress{})
		g.Expect(*ing.Spec.IngressClassName).To(Equal("nginx"))
		g.Expect(ing.Spec.TLS[0].SecretName).To(Equal("one-tls"))
		g.Expect(ing.Spec.Rules[0].Host).To(Equal("one.example.org"))
		g.Expect(ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name).To(Equal("fireedge"))

		cm := get(g, ns, "prod-config", &corev1.ConfigMap{})
		g.Expect(cm.Data["nginx.conf"]).To(ContainSubstring("sub_filter '__HOST__' 'https://one.example.org';"))
		g.Expect(cm.Data["sshd_config"]).To(ContainSubstring("AllowUsers oneadmin"))

		fe := get(g, ns, "prod", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(fe.Status.Endpoints.FireEdge).To(Equal("https://one.example.org/fireedge/sunstone"))
		g.Expect(fe.Status.SSHKeySecret).To(Equal("keys"))
		g.Expect(fe.Status.TargetVersion).To(Equal("7.2.0"))
	}, timeout, poll).Should(Succeed())

	// No MariaDB and no generated secrets for an external database with given keys.
	Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-mariadb"}, &appsv1.StatefulSet{}))).To(BeTrue())
	Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-ssh"}, &corev1.Secret{}))).To(BeTrue())
}

type (
	storageClass = storagev1.StorageClass
	ingress      = networkingv1.Ingress
)

// The paused annotation stops every write to the children and says what is pending;
// removing it applies the pending changes.
func TestPauseStopsWritesAndResumes(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	ctx := context.Background()
	createFrontend(t, ns, "one")
	Eventually(func(g Gomega) { get(g, ns, "one", &appsv1.StatefulSet{}) }, timeout, poll).Should(Succeed())
	patchFrontend := func(patch string) {
		Eventually(func(g Gomega) {
			fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
			g.Expect(k8sClient.Patch(ctx, fe, client.RawPatch("application/merge-patch+json", []byte(patch)))).To(Succeed())
		}, timeout, poll).Should(Succeed())
	}
	patchFrontend(`{"metadata":{"annotations":{"opennebula.io/paused":"true"}}}`)
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		p := condition(g, fe, opennebulav1alpha1.ConditionPaused)
		g.Expect(p.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(p.Message).To(ContainSubstring("no changes pending"))
	}, timeout, poll).Should(Succeed())

	childWrites := func() []string {
		var out []string
		for _, w := range writesIn(ns) {
			if !strings.Contains(w, "/opennebulafrontends/") && !strings.Contains(w, "/events") {
				out = append(out, w)
			}
		}
		return out
	}
	before := childWrites()
	patchFrontend(`{"spec":{"image":"registry.test/opennebula:7.4.0"}}`)
	Eventually(func(g Gomega) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		p := condition(g, fe, opennebulav1alpha1.ConditionPaused)
		g.Expect(p.Message).To(ContainSubstring("1 changes pending: StatefulSet one"))
		g.Expect(p.ObservedGeneration).To(Equal(fe.Generation))
	}, timeout, poll).Should(Succeed())
	Consistently(childWrites, "1s", poll).Should(Equal(before), "a paused frontend's children must not be written")
	Expect(get(Default, ns, "one", &appsv1.StatefulSet{}).Spec.Template.Spec.Containers[0].Image).To(Equal("registry.test/opennebula:7.2.0"))

	patchFrontend(`{"metadata":{"annotations":{"opennebula.io/paused":null}}}`)
	Eventually(func(g Gomega) {
		g.Expect(get(g, ns, "one", &appsv1.StatefulSet{}).Spec.Template.Spec.Containers[0].Image).To(Equal("registry.test/opennebula:7.4.0"))
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		g.Expect(condition(g, fe, opennebulav1alpha1.ConditionPaused).Status).To(Equal(metav1.ConditionFalse))
	}, timeout, poll).Should(Succeed())

	// A restart on demand: the annotation reaches the pod template, which rolls the pods.
	patchFrontend(`{"metadata":{"annotations":{"opennebula.io/restartedAt":"2026-11-27T18:00:00Z"}}}`)
	Eventually(func(g Gomega) {
		sts := get(g, ns, "one", &appsv1.StatefulSet{})
		g.Expect(sts.Spec.Template.Annotations).To(HaveKeyWithValue("opennebula.io/restartedAt", "2026-11-27T18:00:00Z"))
	}, timeout, poll).Should(Succeed())
}

// An upgrade rolls out and reports current and target versions; a downgrade is refused
// (OpenNebula's database only moves forward) unless explicitly allowed.
func TestUpgradeRollsOutAndDowngradeIsRefused(t *testing.T) {
	RegisterTestingT(t)
	ns := newNamespace(t)
	createFrontend(t, ns, "one")
	Eventually(func(g Gomega) { setStatefulSetReady(g, ns, 1) }, timeout, poll).Should(Succeed())
	versions := func(g Gomega) (string, string) {
		fe := get(g, ns, "one", &opennebulav1alpha1.OpenNebulaFrontend{})
		return fe.Status.Version, fe.Status.TargetVersion
	}
	Eventually(func(g Gomega) {
		v, target := versions(g)
		g.Expect(v).To(Equal("7.2.0"))
		g.Expect(target).To(Equal("7.2.0"))
	}, timeout, poll).Should(Succeed())
	setImage := func(image string) {
		editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
			fe.Spec.Image = image
		})
	}
	stsImage := func(g Gomega) string {
		return get(g, ns, "one", &appsv1.StatefulSet{}).Spec.Template.Spec.Containers[0].Image
	}

	setImage("registry.test/opennebula:7.4.0")
	Eventually(func(g Gomega) {
		g.Expect(stsImage(g)).To(Equal("registry.test/opennebula:7.4.0"))
		v, target := versions(g)
		g.Expect([]string{v, target}).To(Equal([]string{"7.2.0", "7.4.0"}), "rolling out: running 7.2.0, target 7.4.0")
	}, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) { setStatefulSetReady(g, ns, 1) }, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		v, _ := versions(g)
		g.Expect(v).To(Equal("7.4.0"))
	}, timeout, poll).Should(Succeed())

	setImage("registry.test/opennebula:7.2.0")
	Eventually(func(g Gomega) {
		d := degraded(g, ns)
		g.Expect(d.Reason).To(Equal(opennebulav1alpha1.ReasonDowngradeRefused))
		g.Expect(d.Message).To(HavePrefix("downgrade from OpenNebula 7.4.0 to 7.2.0 refused"))
	}, timeout, poll).Should(Succeed())
	Consistently(stsImage, "1s", poll).Should(Equal("registry.test/opennebula:7.4.0"))

	editFrontend(ns, func(fe *opennebulav1alpha1.OpenNebulaFrontend) {
		fe.Annotations = map[string]string{opennebulav1alpha1.AnnotationAllowDowngrade: "true"}
	})
	Eventually(stsImage, timeout, poll).Should(Equal("registry.test/opennebula:7.2.0"))
}
