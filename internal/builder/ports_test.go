package builder

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The CRD's CEL rule on spec.service.nodePorts lists the port names by hand (CEL cannot
// read Go): it must list exactly the port table's names, in its order, in the rule, in
// its message and in the field's documentation.
func TestNodePortRuleListsThePortTable(t *testing.T) {
	src, err := os.ReadFile("../../api/v1alpha1/opennebulafrontend_types.go")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, 0, len(Ports))
	for _, p := range Ports {
		want = append(want, p.Name)
	}
	rule := regexp.MustCompile(`self\.all\(k, k in \[([^\]]*)\]\)",message="service\.nodePorts keys must be port names: ([^"]*)"`).FindSubmatch(src)
	if rule == nil {
		t.Fatal("the nodePorts XValidation rule was not found in api/v1alpha1/opennebulafrontend_types.go")
	}
	if got := strings.ReplaceAll(strings.ReplaceAll(string(rule[1]), "'", ""), " ", ""); got != strings.Join(want, ",") {
		t.Errorf("rule lists %s, the port table %s", got, strings.Join(want, ","))
	}
	if got := string(rule[2]); got != strings.Join(want, ", ") {
		t.Errorf("message lists %s, the port table %s", got, strings.Join(want, ", "))
	}
	doc := regexp.MustCompile(`nodePorts pins node ports by port name \(([^)]*)\)`).FindSubmatch(src)
	if doc == nil {
		t.Fatal("the nodePorts documentation was not found")
	}
	if got := strings.Join(strings.Fields(strings.ReplaceAll(string(doc[1]), "//", "")), " "); got != strings.Join(want, ", ") {
		t.Errorf("documentation lists %s, the port table %s", got, strings.Join(want, ", "))
	}
}

// Other CEL rules name what the builders own, by hand: the pod's own volumes, the data
// mount path, and the one UDP port (the nodePorts distinctness rule lets only it share a
// node port with another port).
func TestCELRulesNameWhatTheBuildersOwn(t *testing.T) {
	src, err := os.ReadFile("../../api/v1alpha1/opennebulafrontend_types.go")
	if err != nil {
		t.Fatal(err)
	}
	volumes := regexp.MustCompile(`rule="self\.all\(v, !\(v\.name in \[([^\]]*)\]\)\)"`).FindSubmatch(src)
	if volumes == nil {
		t.Fatal("the reserved volume names rule was not found")
	}
	want := []string{NamesFor("x").DataVolume, configVolume, sshKeysVolume}
	if got := strings.ReplaceAll(strings.ReplaceAll(string(volumes[1]), "'", ""), " ", ""); got != strings.Join(want, ",") {
		t.Errorf("reserved volume names rule lists %s, the builders use %s", got, strings.Join(want, ","))
	}
	if !strings.Contains(string(src), `!(m.mountPath in ['`+DataMountPath+`', '`+DataMountPath+`/'])`) {
		t.Errorf("the volumeMounts rule does not refuse %s", DataMountPath)
	}
	var udp []string
	for _, p := range Ports {
		if p.Protocol == "UDP" {
			udp = append(udp, p.Name)
		}
	}
	if len(udp) != 1 || !strings.Contains(string(src), `j == '`+udp[0]+`' || k == '`+udp[0]+`'`) {
		t.Errorf("the nodePorts distinctness rule lets monitord-udp share a node port; the port table's UDP ports are %v", udp)
	}
}
