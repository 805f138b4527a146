package admitted

import "strings"

// picker turns the fuzzer's bytes into choices; past the end every choice is the first.
type picker struct {
	data []byte
	i    int
}

func (p *picker) pick(n int) int {
	if p.i >= len(p.data) || n <= 1 {
		return 0
	}
	b := p.data[p.i]
	p.i++
	return int(b) % n
}

func (p *picker) maybe() bool { return p.pick(2) == 1 }

// of chooses one of the values; nil (the first, when the pool starts with it) leaves the
// field out.
func of[T any](p *picker, values ...T) T { return values[p.pick(len(values))] }

// Pools of values: valid, at the edges, and invalid in the ways users get them wrong.
var (
	labelKeys   = []string{"app", "example.org/tier", "-bad", "a/b/c", "Example.ORG/Owner", "k" + strings.Repeat("x", 63)}
	labelValues = []string{"", "v", "control-plane", "two words", strings.Repeat("v", 64), "-edge-"}
	addresses   = []any{nil, "frontend.example.org", "10.0.0.1", "2001:db8::1", "host:2633", "-bad-", "auto"}
	quantities  = []any{"100m", "1", "2", "512Mi", "1Gi", 3}
	portNames   = []string{"oned", "fireedge", "oneflow", "onegate", "monitord-tcp", "monitord-udp", "ssh", "sunstone"}
	nodePorts   = []any{30000, 30001, 32767, 4124, 0, 65536}
)

func stringMap(p *picker, keys, values []string) map[string]any {
	out := map[string]any{}
	for range p.pick(4) {
		out[of(p, keys...)] = of(p, values...)
	}
	return out
}

// set puts v in m unless it is nil.
func set(m map[string]any, key string, v any) {
	if v != nil {
		m[key] = v
	}
}

func drawSpec(p *picker) map[string]any {
	spec := map[string]any{}
	set(spec, "image", of[any](p, nil, "docker.io/opennebula/frontend:7.2.0", "a b", "registry:5000/one@sha256:00"))
	set(spec, "hostname", of(p, addresses...))
	set(spec, "monitorAddress", of(p, addresses...))
	set(spec, "imagePullPolicy", of[any](p, nil, "Always", "Sometimes"))
	if p.maybe() {
		spec["imagePullSecrets"] = []any{map[string]any{"name": of(p, "pull", "")}}
	}
	spec["service"] = drawService(p)
	spec["pod"] = drawPod(p)
	if probes := drawProbes(p); len(probes) > 0 {
		spec["probes"] = probes
	}
	if p.maybe() {
		spec["persistence"] = map[string]any{"size": of[any](p, "20Gi", "0", "1Mi", "lots"), "accessMode": of(p, "ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany")}
	}
	switch of(p, "", "MariaDB", "SQLite", "External") {
	case "MariaDB":
		db := map[string]any{"backend": "MariaDB"}
		if p.maybe() {
			db["mariadb"] = map[string]any{"resources": drawResources(p)}
		}
		spec["database"] = db
	case "SQLite":
		spec["database"] = map[string]any{"backend": "SQLite"}
	case "External":
		spec["database"] = map[string]any{"backend": "External", "external": map[string]any{
			"host": of(p, "db.example.org", "db:3306", "10.0.0.9"), "port": of(p, 3306, 0, 70000),
			"passwordSecretRef": map[string]any{"name": "db", "key": "password"},
		}}
	}
	proxy := map[string]any{"enabled": p.maybe()}
	set(proxy, "publicURL", of[any](p, nil, "https://cloud.example.org", "ftp://cloud.example.org", "not a url", "http://10.0.0.1:8080/x"))
	if p.maybe() {
		proxy["resources"] = drawResources(p)
	}
	spec["fireEdgeProxy"] = proxy
	if p.maybe() {
		ing := map[string]any{"enabled": true}
		set(ing, "host", of[any](p, nil, "cloud.example.org", "Bad_Host", "*.example.org"))
		set(ing, "tlsSecretName", of[any](p, nil, "tls", ""))
		set(ing, "className", of[any](p, nil, "nginx", ""))
		if p.maybe() {
			ing["annotations"] = stringMap(p, labelKeys, labelValues)
		}
		spec["ingress"] = ing
	}
	if p.maybe() {
		spec["persistentVolumeClaimRetentionPolicy"] = map[string]any{"whenDeleted": of(p, "Retain", "Delete", "Forget")}
	}
	if p.maybe() {
		spec["ssh"] = map[string]any{"keySecretRef": map[string]any{"name": of(p, "keys", "")}}
	}
	return spec
}

func drawService(p *picker) map[string]any {
	svcType := of(p, "ClusterIP", "NodePort", "LoadBalancer")
	svc := map[string]any{"type": svcType}
	if p.maybe() {
		ports := map[string]any{}
		for range 1 + p.pick(3) {
			ports[of(p, portNames...)] = of(p, nodePorts...)
		}
		svc["nodePorts"] = ports
	}
	if p.maybe() {
		svc["loadBalancerSourceRanges"] = []any{of(p, "10.0.0.0/8", "10.0.0.1/8", "2001:db8::/32", "office", "10.0.0.0/33")}
	}
	set(svc, "externalTrafficPolicy", of[any](p, nil, "Local", "Cluster"))
	if p.maybe() {
		svc["labels"] = stringMap(p, labelKeys, labelValues)
	}
	if p.maybe() {
		svc["annotations"] = stringMap(p, labelKeys, labelValues)
	}
	return svc
}

func drawResources(p *picker) map[string]any {
	r := map[string]any{}
	for _, kind := range []string{"requests", "limits"} {
		if p.maybe() {
			r[kind] = map[string]any{of(p, "cpu", "memory", "example.com/gpu", "ephemeral-storage"): of(p, quantities...)}
		}
	}
	return r
}

func drawPod(p *picker) map[string]any {
	pod := map[string]any{}
	if p.maybe() {
		pod["labels"] = stringMap(p, labelKeys, labelValues)
	}
	if p.maybe() {
		pod["annotations"] = stringMap(p, labelKeys, labelValues)
	}
	if p.maybe() {
		pod["nodeSelector"] = stringMap(p, labelKeys, labelValues)
	}
	if p.maybe() {
		pod["resources"] = drawResources(p)
	}
	if p.maybe() {
		env := map[string]any{"name": of(p, "A", "_a.b-C9", "1BAD", "TWO WORDS")}
		switch p.pick(3) {
		case 0:
			env["value"] = "x"
		case 1:
			env["valueFrom"] = map[string]any{"fieldRef": map[string]any{"fieldPath": of(p, "metadata.name", "spec.nothing")}}
		default:
			env["valueFrom"] = map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.name"},
				"configMapKeyRef": map[string]any{"name": "c", "key": "k"}}
		}
		pod["env"] = []any{env}
	}
	if p.maybe() {
		t := map[string]any{}
		set(t, "key", of[any](p, nil, "a", "bad key", ""))
		set(t, "operator", of[any](p, nil, "Exists", "Equal", "Maybe"))
		set(t, "value", of[any](p, nil, "b"))
		set(t, "effect", of[any](p, nil, "NoSchedule", "NoExecute", "Sometimes"))
		set(t, "tolerationSeconds", of[any](p, nil, 10))
		pod["tolerations"] = []any{t}
	}
	var volumes []any
	if p.maybe() {
		v := map[string]any{"name": of(p, "extra", "config", "Bad_Name", "x2")}
		switch p.pick(5) {
		case 0:
			v["emptyDir"] = map[string]any{"medium": "Memory"}
		case 1:
			v["configMap"] = map[string]any{"name": of(p, "c", "")}
		case 2:
			v["hostPath"] = map[string]any{"path": of(p, "/srv", "")}
		case 3:
			v["secret"] = map[string]any{"secretName": "s"}
		default:
			v["emptyDir"] = map[string]any{"medium": "Memory"}
			v["hostPath"] = map[string]any{"path": "/srv"}
		}
		volumes = append(volumes, v)
		pod["volumes"] = volumes
	}
	if p.maybe() {
		pod["volumeMounts"] = []any{map[string]any{"name": of(p, "extra", "other"),
			"mountPath": of(p, "/extra", "/var/lib/one", "/var/lib/one/datastores/100")}}
	}
	set(pod, "priorityClassName", of[any](p, nil, "high", "High_P", ""))
	if p.maybe() {
		pod["securityContext"] = map[string]any{"runAsUser": of(p, 1000, -1, 0)}
	}
	if p.maybe() {
		pod["topologySpreadConstraints"] = []any{map[string]any{"maxSkew": of(p, 1, 0),
			"topologyKey": of(p, "topology.kubernetes.io/zone", ""), "whenUnsatisfiable": of(p, "DoNotSchedule", "Never")}}
	}
	if p.maybe() {
		pod["affinity"] = map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
			"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{
				"key": "zone", "operator": of(p, "In", "Maybe"), "values": []any{"a"}}}}}}}}
	}
	return pod
}

func drawProbes(p *picker) map[string]any {
	probes := map[string]any{}
	for _, name := range []string{"startup", "liveness", "readiness"} {
		if !p.maybe() {
			continue
		}
		probe := map[string]any{}
		switch p.pick(5) {
		case 0:
			probe["tcpSocket"] = map[string]any{"port": 2633}
		case 1:
			probe["httpGet"] = map[string]any{"port": of(p, 2616, 0)}
		case 2:
			probe["exec"] = map[string]any{"command": []any{"true"}}
		case 3:
			// no handler
		default:
			probe["tcpSocket"] = map[string]any{"port": 2633}
			probe["exec"] = map[string]any{"command": []any{"true"}}
		}
		set(probe, "periodSeconds", of[any](p, nil, 10, 0, -1))
		set(probe, "successThreshold", of[any](p, nil, 1, 2))
		set(probe, "initialDelaySeconds", of[any](p, nil, 0, -1))
		probes[name] = probe
	}
	return probes
}
