package builder

import (
	"crypto/sha256"
	"encoding/hex"
)

// Kubernetes name limits the child names must respect.
const (
	// maxDNSLabel is the limit for Service names and label values.
	maxDNSLabel = 63
	// maxStatefulSetName keeps "<statefulset>-<10-char revision hash>" (the
	// controller-revision-hash label the StatefulSet controller puts on pods) within 63.
	maxStatefulSetName = 52
	// hashLen is the number of hex characters of the full name kept when truncating.
	hashLen = 8
)

// Names of the children of one frontend: the single place that derives them.
type Names struct {
	// StatefulSet also names the pods (<StatefulSet>-<ordinal>).
	StatefulSet string
	// HeadlessService gives each pod a stable DNS name.
	HeadlessService string
	// ExternalService exposes the ports to users and hypervisors.
	ExternalService string
	// DataVolume is the volumeClaimTemplate name; PVCs are <DataVolume>-<StatefulSet>-<ordinal>.
	DataVolume string
	// FrontendLabel is the value of the frontend label (a label value, at most 63 characters).
	FrontendLabel string
	// Config is the ConfigMap with the FireEdge proxy's nginx.conf and sshd_config.
	Config string
	// Ingress publishes FireEdge.
	Ingress string
	// AdminSecret is the generated oneadmin password Secret.
	AdminSecret string
	// SSHSecret is the generated SSH key pair Secret.
	SSHSecret string
	// MariaDB names the managed database's StatefulSet, Service and Secret.
	MariaDB string
	// RaftServers is the ConfigMap where the operator records each server's Raft ID (a
	// key per pod name) and the pods read it at start.
	RaftServers string
	// Keys is the Secret of the keys a frontend on MySQL runs with (one_key, fireedge_key,
	// serveradmin's secret), every server of a zone the same: made once, from the first
	// server's one_key, after its first start.
	Keys string
	// PodDisruptionBudget keeps a Raft zone's quorum through voluntary disruptions.
	PodDisruptionBudget string
}

// NamesFor derives every child name from the frontend's name.
func NamesFor(frontend string) Names {
	return Names{
		StatefulSet:     fit(frontend, "", maxStatefulSetName),
		HeadlessService: fit(frontend, "-headless", maxDNSLabel),
		ExternalService: fit(frontend, "", maxDNSLabel),
		DataVolume:      "data",
		FrontendLabel:   fit(frontend, "", maxDNSLabel),
		Config:          fit(frontend, "-config", maxDNSLabel),
		Ingress:         fit(frontend, "", maxDNSLabel),
		AdminSecret:     fit(frontend, "-oneadmin", maxDNSLabel),
		SSHSecret:       fit(frontend, "-ssh", maxDNSLabel),
		MariaDB:         fit(frontend, "-mariadb", maxStatefulSetName),
		RaftServers:     fit(frontend, "-raft-servers", maxDNSLabel),
		Keys:            fit(frontend, "-keys", maxDNSLabel),
		// Only the frontend's pods are disrupted with care: the budget is the frontend's.
		PodDisruptionBudget: fit(frontend, "", maxDNSLabel),
	}
}

// fit returns base+suffix when it fits in limit characters; otherwise base is cut and
// followed by a hash of the whole base, so that two long names sharing a prefix still
// get different children.
func fit(base, suffix string, limit int) string {
	if len(base)+len(suffix) <= limit {
		return base + suffix
	}
	sum := sha256.Sum256([]byte(base))
	h := hex.EncodeToString(sum[:])[:hashLen]
	keep := limit - len(suffix) - hashLen - 1
	cut := base[:keep]
	// A cut name must not end in '-' followed by '-hash' ("a--hash" is valid, but
	// trimming keeps names readable and the result is still unique through the hash).
	for len(cut) > 0 && cut[len(cut)-1] == '-' {
		cut = cut[:len(cut)-1]
	}
	return cut + "-" + h + suffix
}
