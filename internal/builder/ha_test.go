package builder

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/utils/ptr"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

// A zone scaled back to one server is still a zone: its server keeps its Raft ID, the
// external Service keeps following the leader, and the pods keep the start wrapper.
func TestAZoneOfOneStaysAZone(t *testing.T) {
	fe := frontend()
	solo, zone := Inputs{}, Inputs{Raft: RaftInputs{Formed: true, StatefulSetReplicas: 3}}
	if HighAvailability(fe, solo) {
		t.Fatal("one replica and no zone formed: solo")
	}
	if sel := ExternalService(fe, solo).Spec.Selector; sel[LabelRaftRole] != "" {
		t.Errorf("a solo frontend's external Service selects its pod whatever its role: %v", sel)
	}
	sel := ExternalService(fe, zone).Spec.Selector
	if sel[LabelRaftRole] != RaftRoleLeader {
		t.Errorf("a zone's external Service selects the leader: %v", sel)
	}
	sts := StatefulSet(fe, Options{}, zone)
	if got := ptr.Deref(sts.Spec.Replicas, 0); got != 3 {
		t.Errorf("StatefulSet replicas = %d, want the plan's 3 (servers leave one at a time)", got)
	}
	if sts.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType {
		t.Errorf("a zone's pods are replaced by the operator, followers first: %v", sts.Spec.UpdateStrategy)
	}
	if c := sts.Spec.Template.Spec.Containers[0]; len(c.Command) != 2 || c.Command[1] != configMountDir+"/"+StartWrapperKey {
		t.Errorf("the zone's pods start through the wrapper: %v", c.Command)
	}
	if _, ok := ConfigMap(fe, zone).Data[StartWrapperKey]; !ok {
		t.Error("the ConfigMap carries the start wrapper")
	}
	sqlite := fe.DeepCopy()
	sqlite.Spec.Database.Backend = opennebulav1alpha1.DatabaseSQLite
	if _, ok := ConfigMap(sqlite, solo).Data[StartWrapperKey]; ok || UsesStartWrapper(sqlite, solo) {
		t.Error("a solo frontend on SQLite runs the image's entry point as it is")
	}
	if c := StatefulSet(fe, Options{}, solo).Spec.Template.Spec.Containers[0]; !UsesStartWrapper(fe, solo) || len(c.Command) != 2 {
		t.Errorf("a solo frontend on MySQL starts through the wrapper (its keys): %v", c.Command)
	}
	if c := StatefulSet(sqlite, Options{}, solo).Spec.Template.Spec.Containers[0]; c.Command != nil || c.Args != nil {
		t.Errorf("a solo frontend on SQLite keeps the image's entry point and command: %v %v", c.Command, c.Args)
	}
	for _, o := range Build(fe, Options{}, zone) {
		if _, ok := o.(*policyv1.PodDisruptionBudget); ok {
			t.Error("a zone of one has no disruption budget: it could never be drained")
		}
	}
}

func TestHighAvailabilityDefaults(t *testing.T) {
	fe := frontend()
	fe.Spec.Replicas = new(int32(3))
	sts := StatefulSet(fe, Options{}, Inputs{})
	aff := sts.Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("servers spread over nodes by default: %+v", aff)
	}
	var budget *policyv1.PodDisruptionBudget
	for _, o := range Build(fe, Options{}, Inputs{}) {
		if p, ok := o.(*policyv1.PodDisruptionBudget); ok {
			budget = p
		}
	}
	if budget == nil || budget.Spec.MaxUnavailable.IntValue() != 1 {
		t.Fatalf("at most one server of three disrupted: %+v", budget)
	}
	env := map[string]string{}
	for _, e := range sts.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	const want = "one.cloud.svc.cluster.local" // frontend() is "one" in "cloud"
	if env["OPENNEBULA_HOSTNAME"] != want || env["OPENNEBULA_MONITOR_ADDRESS"] != want {
		t.Errorf("hypervisors are told the external Service's name, never a pod's: HOSTNAME %q, MONITOR_ADDRESS %q, want %q",
			env["OPENNEBULA_HOSTNAME"], env["OPENNEBULA_MONITOR_ADDRESS"], want)
	}
}

func TestEveryServerHasItsOwnDatabase(t *testing.T) {
	fe := frontend()
	fe.Spec.Replicas = new(int32(3))
	in := Inputs{Raft: RaftInputs{Formed: true, StatefulSetReplicas: 2}}
	if got := ptr.Deref(MariaDBStatefulSet(fe, in).Spec.Replicas, 0); got != 2 {
		t.Errorf("one MariaDB per running server: %d, want 2", got)
	}
	svcs := MariaDBServerServices(fe, in)
	if len(svcs) != 3 {
		t.Fatalf("a Service per server asked for: %d", len(svcs))
	}
	if sel := svcs[2].Spec.Selector[appsv1.StatefulSetPodNameLabel]; sel != NamesFor(fe.Name).MariaDB+"-2" || svcs[2].Name != sel {
		t.Errorf("server 2's Service selects MariaDB pod 2 only: %s %v", svcs[2].Name, svcs[2].Spec.Selector)
	}
	pod := StatefulSet(fe, Options{}, in).Spec.Template.Spec
	order := make([]string, 0, len(pod.Containers[0].Env))
	for _, e := range pod.Containers[0].Env {
		order = append(order, e.Name)
		if e.Name == envDBHost && e.Value != NamesFor(fe.Name).MariaDB+"-$(POD_INDEX)" {
			t.Errorf("DB_HOST = %q: server k reaches MariaDB pod k", e.Value)
		}
	}
	if i, j := slices.Index(order, envPodIndex), slices.Index(order, envDBHost); i < 0 || i > j {
		t.Errorf("POD_INDEX must come before DB_HOST for the kubelet to expand it: %v", order)
	}
	inits := make([]string, 0, len(pod.InitContainers))
	for _, c := range pod.InitContainers {
		inits = append(inits, c.Name)
	}
	if !slices.Equal(inits, []string{"wait-for-database", "seed-database", "install-ssh-keys"}) {
		t.Errorf("init containers = %v", inits)
	}

	fe.Spec.Database = opennebulav1alpha1.DatabaseSpec{Backend: opennebulav1alpha1.DatabaseExternal,
		External: &opennebulav1alpha1.ExternalDatabaseSpec{Host: "db.example", PasswordSecretRef: opennebulav1alpha1.SecretKeySelector{Name: "s", Key: "k"}}}
	if MariaDBServerServices(fe, in) != nil {
		t.Error("no managed MariaDB, no per-server Services")
	}
	env := map[string]string{}
	for _, e := range StatefulSet(fe, Options{}, in).Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env[envDBNamePerServer] != "true" || env[envDBHost] != "db.example" {
		t.Errorf("an external server keeps its host and derives its database name: %v", env)
	}
}

// The start wrapper derives an external server's database name before the image's entry
// point reads it: <name> for the first server (a frontend that grows keeps its data),
// <name>_<ordinal> for the others.
func TestStartWrapperDerivesTheServerDatabase(t *testing.T) {
	for index, want := range map[string]string{"0": "opennebula", "2": "opennebula_2"} {
		dir, conf, servers, supervisor := wrapperDir(t)
		cmd := runWrapper(dir, conf, servers, supervisor, "one-"+index, "sh", "-c", `echo "db=$DB_NAME"`)
		cmd.Env = append(cmd.Env, "POD_INDEX="+index, "DB_NAME=opennebula", envDBNamePerServer+"=true")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "db="+want+"\n") {
			t.Errorf("server %s: %v: %s, want db=%s", index, err, out, want)
		}
	}
}

// The operator's ServerDatabase and the pods' shell derivation name the same databases.
func TestServerDatabaseAgreesWithThePods(t *testing.T) {
	fe := frontend()
	fe.Spec.Database = opennebulav1alpha1.DatabaseSpec{Backend: opennebulav1alpha1.DatabaseExternal,
		External: &opennebulav1alpha1.ExternalDatabaseSpec{Host: "db.example", Port: 3307, Name: "one",
			PasswordSecretRef: opennebulav1alpha1.SecretKeySelector{Name: "s", Key: "k"}}}
	for k := range 5 {
		cmd := exec.Command("sh", "-c", serverDatabaseName+`echo "$DB_NAME"`)
		cmd.Env = append(os.Environ(), "DB_NAME=one", envDBNamePerServer+"=true", envPodIndex+"="+strconv.Itoa(k))
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		host, port, name := ServerDatabase(fe, k)
		if got := strings.TrimSpace(string(out)); got != name || host != "db.example" || port != 3307 {
			t.Errorf("server %d: the pod uses database %q, the operator says %s:%d/%s", k, got, host, port, name)
		}
	}
	managed := frontend()
	if got, want := SeedSource(managed, 2), NamesFor(managed.Name).MariaDB+"-2 3306 opennebula"; got != want {
		t.Errorf("seed source of server 2 = %q, want %q", got, want)
	}
}

// The zone's keys: the first server's one_key as given, FireEdge's key and serveradmin's
// secret made anew each time (the operator creates the Secret once and keeps it).
func TestKeysSecret(t *testing.T) {
	fe := frontend()
	a, err := KeysSecret(fe, "captured-one-key")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := KeysSecret(fe, "captured-one-key")
	if a.Name != NamesFor(fe.Name).Keys || a.Labels[LabelWatch] != ValueWatch || string(a.Data[OneKeyKey]) != "captured-one-key" {
		t.Fatalf("keys Secret %s labels %v one_key %q", a.Name, a.Labels, a.Data[OneKeyKey])
	}
	for _, k := range []string{FireEdgeKeyKey, ServerAdminKey} {
		if len(a.Data[k]) < 16 || string(a.Data[k]) == string(b.Data[k]) {
			t.Errorf("%s = %q then %q: want a fresh random value", k, a.Data[k], b.Data[k])
		}
	}
}
