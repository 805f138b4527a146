// Package benchfmt holds what a benchmark run in a test and hack/bench's report writer
// share: the figures' types, their rounding and their JSON file.
package benchfmt

import (
	"encoding/json"
	"math"
	"os"
)

// Round2 rounds a figure to two decimals, as the reports show them.
func Round2(v float64) float64 { return math.Round(v*100) / 100 }

// WriteJSON writes v indented: the reports' raw figures.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// HAResult is one run of the HA benchmark (internal/controller/habench_test.go): N zones
// of 3 servers at rest and failing over.
type HAResult struct {
	Zones                int     `json:"zones"`
	ServersPerZone       int     `json:"serversPerZone"`
	RaftPollSeconds      float64 `json:"raftPollSeconds"`
	ElectionDelaySeconds float64 `json:"electionDelaySeconds"`
	// FormationSeconds: from the first frontend's creation until every zone is formed
	// (the fake kubelet plays pods in turn, so this is not a figure of the operator alone).
	FormationSeconds float64 `json:"formationSeconds"`
	RestSeconds      float64 `json:"restWindowSeconds"`
	// Per zone and minute, at rest.
	RestReconciles       float64            `json:"restReconcilesPerZoneMinute"`
	RestKubernetesWrites float64            `json:"restKubernetesWritesPerZoneMinute"`
	RestKubernetesReads  float64            `json:"restKubernetesReadsPerZoneMinute"`
	RestOnedCalls        map[string]float64 `json:"restOnedCallsPerZoneMinute"`
	// Failover: the leader's oned stops (its pod stays) → the new leader's pod is labelled.
	FailoverSeconds       []float64 `json:"failoverSeconds"`
	FailoverP50Seconds    float64   `json:"failoverP50Seconds"`
	FailoverMaxSeconds    float64   `json:"failoverMaxSeconds"`
	FailoverWritesPerZone float64   `json:"failoverKubernetesWritesPerZone"`
}
