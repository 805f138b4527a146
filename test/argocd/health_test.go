// Package argocd runs the operator's Argo CD health check in gopher-lua, the Lua
// interpreter Argo CD embeds, against a frontend in every state.
package argocd

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var dir = filepath.Join("..", "..", "config", "argocd")

type health struct{ status, message string }

// evaluate runs the script the way Argo CD does: the object as the global `obj`, the
// script's return value a table with status and message.
func evaluate(t *testing.T, script, objYAML string) health {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(objYAML), &obj); err != nil {
		t.Fatal(err)
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("lua: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the script returned %s, not a table", L.Get(-1).Type())
	}
	return health{status: ret.RawGetString("status").String(), message: ret.RawGetString("message").String()}
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch t := v.(type) {
	case map[string]any:
		tbl := L.NewTable()
		for k, val := range t {
			tbl.RawSetString(k, toLua(L, val))
		}
		return tbl
	case []any:
		tbl := L.NewTable()
		for _, val := range t {
			tbl.Append(toLua(L, val))
		}
		return tbl
	case string:
		return lua.LString(t)
	case float64:
		return lua.LNumber(t)
	case int64:
		return lua.LNumber(t)
	case bool:
		return lua.LBool(t)
	case nil:
		return lua.LNil
	default:
		panic("unexpected type")
	}
}

func script(t *testing.T) string {
	t.Helper()
	return readScript(t, "health.lua")
}

func readScript(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const ready = `
  - {type: Ready, status: "True", reason: AllReplicasReady, message: "1 of 1 replicas ready", observedGeneration: 3}
  - {type: Progressing, status: "False", reason: RolloutComplete, message: "StatefulSet one runs revision one-abc", observedGeneration: 3}`

func frontend(generation int, status string) string {
	return "apiVersion: opennebula.io/v1alpha1\nkind: OpenNebulaFrontend\nmetadata: {name: one, generation: " +
		strconv.Itoa(generation) + "}\nspec: {}\n" + status
}

func TestHealthCheck(t *testing.T) {
	s := script(t)
	cases := []healthCase{
		{"no status yet", frontend(1, ""), "Progressing", "Waiting for the operator to observe generation 1"},
		{"ready", frontend(3, "status:\n  observedGeneration: 3\n  conditions:"+ready), "Healthy", "1 of 1 replicas ready"},
		{"new spec not observed yet: never Healthy", frontend(4, "status:\n  observedGeneration: 3\n  conditions:"+ready),
			"Progressing", "Waiting for the operator to observe generation 4"},
		{"status observed but conditions stale", frontend(3, "status:\n  observedGeneration: 3\n  conditions:"+
			strings.ReplaceAll(ready, "observedGeneration: 3", "observedGeneration: 2")),
			"Progressing", "Waiting for the frontend to become Ready"},
		{"rolling out", frontend(3, `status:
  observedGeneration: 3
  conditions:
  - {type: Ready, status: "False", reason: ReplicasNotReady, message: "0 of 1 replicas ready and updated", observedGeneration: 3}
  - {type: Progressing, status: "True", reason: RolloutInProgress, message: "StatefulSet one: 0 of 1 replicas updated", observedGeneration: 3}`),
			"Progressing", "StatefulSet one: 0 of 1 replicas updated"},
		{"reconcile failed", frontend(3, `status:
  observedGeneration: 3
  conditions:
  - {type: Ready, status: "True", reason: AllReplicasReady, message: ok, observedGeneration: 3}
  - {type: Progressing, status: "False", reason: ReconcileFailed, message: "Service one exists and is not controlled by this OpenNebulaFrontend", observedGeneration: 3}`),
			"Degraded", "ReconcileFailed: Service one exists and is not controlled by this OpenNebulaFrontend"},
		{"degraded condition", frontend(3, `status:
  observedGeneration: 3
  conditions:
  - {type: Degraded, status: "True", reason: SecretMissing, message: "Secret db is missing", observedGeneration: 3}`+ready),
			"Degraded", "SecretMissing: Secret db is missing"},
		{"paused", frontend(3, `status:
  observedGeneration: 3
  conditions:
  - {type: Paused, status: "True", reason: Paused, message: "paused; 2 changes pending", observedGeneration: 3}`+ready),
			"Suspended", "paused; 2 changes pending"},
		{"raft zone serving", frontend(3, `status:
  observedGeneration: 3
  raft: {leader: one-1, term: 4}
  conditions:
  - {type: Ready, status: "True", reason: AllReplicasReady, message: "one-1 leads term 4, followed by 3 of 3 servers", observedGeneration: 3}`),
			"Healthy", "one-1 leads term 4, followed by 3 of 3 servers"},
		{"raft zone without quorum", frontend(3, `status:
  observedGeneration: 3
  conditions:
  - {type: Ready, status: "False", reason: RaftNoQuorum, message: "no server leads the zone (3 members)", observedGeneration: 3}
  - {type: Degraded, status: "True", reason: RaftServerUnreachable, message: "server 0 (pod one-0) does not answer", observedGeneration: 3}`),
			"Degraded", "RaftServerUnreachable: server 0 (pod one-0) does not answer"},
		{"raft zone electing (before the lag grace)", frontend(3, `status:
  observedGeneration: 3
  conditions:
  - {type: Ready, status: "False", reason: RaftNoQuorum, message: "no server leads the zone (3 members)", observedGeneration: 3}`),
			"Progressing", "no server leads the zone (3 members)"},
		{"not ready, no progress message", frontend(3, `status:
  observedGeneration: 3
  conditions:
  - {type: Ready, status: "False", reason: ReplicasNotReady, message: "0 of 1 replicas ready and updated", observedGeneration: 3}`),
			"Progressing", "0 of 1 replicas ready and updated"},
	}
	runCases(t, s, cases)
}

// The argocd-cm snippet users copy must carry exactly the tested script.
func TestConfigMapCarriesTheScript(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(dir, "argocd-cm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(b, &cm); err != nil {
		t.Fatal(err)
	}
	for kind, file := range map[string]string{"OpenNebulaFrontend": "health.lua", "OpenNebulaHost": "health-fleet.lua", "OpenNebulaCluster": "health-fleet.lua"} {
		if got := cm.Data["resource.customizations.health.opennebula.io_"+kind]; got != readScript(t, file) {
			t.Errorf("argocd-cm.yaml's health check of %s differs from %s:\n%s", kind, file, got)
		}
	}
}

func fleetObject(kind string, generation int, status string) string {
	return "apiVersion: opennebula.io/v1alpha1\nkind: " + kind + "\nmetadata: {name: kvm-1, generation: " +
		strconv.Itoa(generation) + "}\nspec: {}\n" + status
}

// Hosts and clusters: Healthy once in OpenNebula as asked, Degraded with the reason.
func TestFleetHealthCheck(t *testing.T) {
	s := readScript(t, "health-fleet.lua")
	cases := []healthCase{
		{"no status yet", fleetObject("OpenNebulaHost", 1, ""), "Progressing", "Waiting for the operator to observe generation 1"},
		{"monitored", fleetObject("OpenNebulaHost", 2, `status:
  observedGeneration: 2
  state: MONITORED
  conditions:
  - {type: Ready, status: "True", reason: Monitored, message: oned monitors the host, observedGeneration: 2}
  - {type: Degraded, status: "False", reason: AsExpected, message: as its spec says, observedGeneration: 2}`), "Healthy", "oned monitors the host"},
		{"disabled as asked", fleetObject("OpenNebulaHost", 2, `status:
  observedGeneration: 2
  state: DISABLED
  conditions:
  - {type: Ready, status: "True", reason: InSync, message: "STATE is DISABLED, as spec.state asks", observedGeneration: 2}`), "Healthy", "STATE is DISABLED, as spec.state asks"},
		{"not monitored yet", fleetObject("OpenNebulaHost", 2, `status:
  observedGeneration: 2
  state: INIT
  conditions:
  - {type: Ready, status: "False", reason: NotMonitored, message: STATE is INIT, observedGeneration: 2}`), "Progressing", "STATE is INIT"},
		{"monitoring fails", fleetObject("OpenNebulaHost", 2, `status:
  observedGeneration: 2
  state: ERROR
  conditions:
  - {type: Ready, status: "False", reason: NotMonitored, message: STATE is ERROR, observedGeneration: 2}
  - {type: Degraded, status: "True", reason: HostError, message: "Error monitoring Host kvm-1 (3): timeout", observedGeneration: 2}`),
			"Degraded", "HostError: Error monitoring Host kvm-1 (3): timeout"},
		{"spec changed, not observed", fleetObject("OpenNebulaHost", 3, `status:
  observedGeneration: 2
  conditions:
  - {type: Ready, status: "True", reason: Monitored, message: oned monitors the host, observedGeneration: 2}`),
			"Progressing", "Waiting for the operator to observe generation 3"},
		{"cluster in sync", fleetObject("OpenNebulaCluster", 1, `status:
  observedGeneration: 1
  conditions:
  - {type: Ready, status: "True", reason: InSync, message: cluster 100 in OpenNebula as its spec says, observedGeneration: 1}`),
			"Healthy", "cluster 100 in OpenNebula as its spec says"},
		{"cluster delete refused", fleetObject("OpenNebulaCluster", 1, `status:
  observedGeneration: 1
  conditions:
  - {type: Degraded, status: "True", reason: DeleteRefused, message: "oned refuses to delete it", observedGeneration: 1}`),
			"Degraded", "DeleteRefused: oned refuses to delete it"},
	}
	runCases(t, s, cases)
}

type healthCase struct{ name, obj, status, message string }

func runCases(t *testing.T, script string, cases []healthCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := evaluate(t, script, tc.obj)
			if got.status != tc.status || got.message != tc.message {
				t.Errorf("got %s %q, want %s %q", got.status, got.message, tc.status, tc.message)
			}
		})
	}
}
