package oned

import (
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

func unmarshalXML(s string, out any) error { return xml.Unmarshal([]byte(s), out) }

// RaftState is a server's Raft state, RaftManager::State in include/RaftManager.h.
type RaftState int

// The Raft states.
const (
	RaftSolo      RaftState = 0
	RaftCandidate RaftState = 1
	RaftFollower  RaftState = 2
	RaftLeader    RaftState = 3
)

func (s RaftState) String() string {
	switch s {
	case RaftSolo:
		return "SOLO"
	case RaftCandidate:
		return "CANDIDATE"
	case RaftFollower:
		return "FOLLOWER"
	case RaftLeader:
		return "LEADER"
	}
	return "STATE_" + strconv.Itoa(int(s))
}

// RaftStatus is one.zone.raftstatus's answer (share/doc/xsd/raftstatus.xsd; written by
// RaftManager::to_xml in src/raft/RaftManager.cc). SERVER_ID is -1 on a solo server, and
// LOG_INDEX/LOG_TERM are -1 while solo.
type RaftStatus struct {
	XMLName     xml.Name  `xml:"RAFT"`
	ServerID    int       `xml:"SERVER_ID"`
	State       RaftState `xml:"STATE"`
	Term        int64     `xml:"TERM"`
	VotedFor    int       `xml:"VOTEDFOR"`
	Commit      int64     `xml:"COMMIT"`
	LogIndex    int64     `xml:"LOG_INDEX"`
	LogTerm     int64     `xml:"LOG_TERM"`
	FedLogIndex int64     `xml:"FEDLOG_INDEX"`
}

// String summarises the status for messages: "LEADER id 0 term 2 voted 0 commit 6 log 7/2".
func (r *RaftStatus) String() string {
	return fmt.Sprintf("%s id %d term %d voted %d commit %d log %d/%d", r.State, r.ServerID, r.Term, r.VotedFor,
		r.Commit, r.LogIndex, r.LogTerm)
}

// Zone is one.zone.info's answer (share/doc/xsd/zone.xsd).
type Zone struct {
	XMLName  xml.Name     `xml:"ZONE"`
	ID       int          `xml:"ID"`
	Name     string       `xml:"NAME"`
	State    int          `xml:"STATE"`
	Template Template     `xml:"TEMPLATE"`
	Servers  []ZoneServer `xml:"SERVER_POOL>SERVER"`
}

// ZoneServer is a SERVER of the zone's SERVER_POOL. Its ID is given by oned
// (ZoneServers::add_server in include/ZoneServer.h), never chosen by the caller.
type ZoneServer struct {
	ID           int    `xml:"ID"`
	Name         string `xml:"NAME"`
	Endpoint     string `xml:"ENDPOINT"`
	EndpointGRPC string `xml:"ENDPOINT_GRPC,omitempty"`
}

// ServerByName finds the zone's server called name. oned does not refuse two servers of
// the same name (ZoneServers::add_server checks only that NAME and an ENDPOINT are set), so
// the one with the lowest ID is returned and found reports how many there are.
func (z *Zone) ServerByName(name string) (server ZoneServer, found int) {
	for _, s := range z.Servers {
		if s.Name != name {
			continue
		}
		if found == 0 || s.ID < server.ID {
			server = s
		}
		found++
	}
	return server, found
}

// HostState is a host's STATE, Host::HostState in include/Host.h.
type HostState int

// The host states.
const (
	HostInit                HostState = 0
	HostMonitoringMonitored HostState = 1
	HostMonitored           HostState = 2
	HostError               HostState = 3
	HostDisabled            HostState = 4
	HostMonitoringError     HostState = 5
	HostMonitoringInit      HostState = 6
	HostMonitoringDisabled  HostState = 7
	HostOffline             HostState = 8
)

var hostStateNames = map[HostState]string{
	HostInit: "INIT", HostMonitoringMonitored: "MONITORING_MONITORED", HostMonitored: "MONITORED",
	HostError: "ERROR", HostDisabled: "DISABLED", HostMonitoringError: "MONITORING_ERROR",
	HostMonitoringInit: "MONITORING_INIT", HostMonitoringDisabled: "MONITORING_DISABLED", HostOffline: "OFFLINE",
}

func (s HostState) String() string {
	if n, ok := hostStateNames[s]; ok {
		return n
	}
	return "STATE_" + strconv.Itoa(int(s))
}

// Host is a HOST of one.host.info or one.hostpool.info (share/doc/xsd/host.xsd), with the
// parts an operator reports: state, capacity, VMs, monitoring time and error.
type Host struct {
	XMLName    xml.Name       `xml:"HOST"`
	ID         int            `xml:"ID"`
	Name       string         `xml:"NAME"`
	State      HostState      `xml:"STATE"`
	PrevState  HostState      `xml:"PREV_STATE"`
	IMMad      string         `xml:"IM_MAD"`
	VMMad      string         `xml:"VM_MAD"`
	ClusterID  int            `xml:"CLUSTER_ID"`
	Cluster    string         `xml:"CLUSTER"`
	Share      HostShare      `xml:"HOST_SHARE"`
	VMs        []int          `xml:"VMS>ID"`
	Template   Template       `xml:"TEMPLATE"`
	Monitoring HostMonitoring `xml:"MONITORING"`
}

// HostShare is the host's capacity: CPU in hundredths of a core, memory in KiB.
type HostShare struct {
	MemUsage   int64 `xml:"MEM_USAGE"`
	CPUUsage   int64 `xml:"CPU_USAGE"`
	TotalMem   int64 `xml:"TOTAL_MEM"`
	TotalCPU   int64 `xml:"TOTAL_CPU"`
	MaxMem     int64 `xml:"MAX_MEM"`
	MaxCPU     int64 `xml:"MAX_CPU"`
	RunningVMs int64 `xml:"RUNNING_VMS"`
}

// HostMonitoring is the last monitoring record; Timestamp is 0 (absent) before the first.
type HostMonitoring struct {
	Timestamp int64 `xml:"TIMESTAMP"`
}

// ErrorMessage is the monitoring error oned keeps in the host's TEMPLATE/ERROR (Host::error
// in src/host/Host.cc: "Error monitoring Host NAME (ID): <driver's message>"), without the
// time PoolObjectSQL::set_template_error_message puts before it; at is that time (zero when
// absent or unreadable). Both are empty once monitoring succeeds again.
func (h *Host) ErrorMessage() (msg string, at time.Time) {
	v, ok := h.Template.Get("ERROR")
	if !ok {
		return "", time.Time{}
	}
	// "<ctime> : <message>": one_util::log_time is ctime(3) in the server's local time.
	if stamp, rest, found := strings.Cut(v, " : "); found {
		if t, err := time.ParseInLocation(time.ANSIC, stamp, time.Local); err == nil {
			return rest, t
		}
	}
	return v, time.Time{}
}

// HostPool is one.hostpool.info's answer.
type HostPool struct {
	XMLName xml.Name `xml:"HOST_POOL"`
	Hosts   []Host   `xml:"HOST"`
}

// Cluster is a CLUSTER of one.cluster.info or one.clusterpool.info (share/doc/xsd/cluster.xsd).
type Cluster struct {
	XMLName    xml.Name `xml:"CLUSTER"`
	ID         int      `xml:"ID"`
	Name       string   `xml:"NAME"`
	Hosts      []int    `xml:"HOSTS>ID"`
	Datastores []int    `xml:"DATASTORES>ID"`
	VNets      []int    `xml:"VNETS>ID"`
	Template   Template `xml:"TEMPLATE"`
}

// ClusterPool is one.clusterpool.info's answer.
type ClusterPool struct {
	XMLName  xml.Name  `xml:"CLUSTER_POOL"`
	Clusters []Cluster `xml:"CLUSTER"`
}

// DefaultClusterID is the cluster every host joins unless told otherwise
// (ClusterPool::DEFAULT_CLUSTER_ID, include/ClusterPool.h); user clusters start at 100.
const DefaultClusterID = 0

// Template is an OpenNebula template: single attributes (NAME = "value") and vector
// attributes (NAME = [ K = "v", ... ]), in the order oned wrote them.
type Template struct {
	Attributes []Attribute
}

// Attribute is one template attribute; Vector is set for vector attributes.
type Attribute struct {
	Name   string
	Value  string
	Vector map[string]string
}

// Get returns the first single attribute called name.
func (t Template) Get(name string) (string, bool) {
	for _, a := range t.Attributes {
		if a.Name == name && a.Vector == nil {
			return a.Value, true
		}
	}
	return "", false
}

// UnmarshalXML reads <TEMPLATE><A>v</A><V><K>v</K></V></TEMPLATE>.
func (t *Template) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch el := tok.(type) {
		case xml.StartElement:
			a, err := readAttribute(d, el)
			if err != nil {
				return err
			}
			t.Attributes = append(t.Attributes, a)
		case xml.EndElement:
			return nil
		}
	}
}

func readAttribute(d *xml.Decoder, start xml.StartElement) (Attribute, error) {
	a := Attribute{Name: start.Name.Local}
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return a, err
		}
		switch el := tok.(type) {
		case xml.CharData:
			text.Write(el)
		case xml.StartElement:
			var v string
			if err := d.DecodeElement(&v, &el); err != nil {
				return a, err
			}
			if a.Vector == nil {
				a.Vector = map[string]string{}
			}
			a.Vector[el.Name.Local] = v
		case xml.EndElement:
			if a.Vector == nil {
				a.Value = text.String()
			}
			return a, nil
		}
	}
}

// templateXML writes single attributes as oned's XML template form, which
// Template::parse_str_or_xml (src/template/Template.cc) takes when the string starts with
// '<': no quoting rules of the text syntax to get wrong. Keys are written in sorted order.
func templateXML(attrs map[string]string) string {
	keys := slices.Sorted(maps.Keys(attrs))
	var b strings.Builder
	b.WriteString("<TEMPLATE>")
	for _, k := range keys {
		writeElement(&b, k, attrs[k])
	}
	b.WriteString("</TEMPLATE>")
	return b.String()
}

// XML is the template as one.*.update reads it, vector attributes included (keys of a
// vector in sorted order).
func (t Template) XML() string {
	var b strings.Builder
	b.WriteString("<TEMPLATE>")
	for _, a := range t.Attributes {
		if a.Vector == nil {
			writeElement(&b, a.Name, a.Value)
			continue
		}
		b.WriteString("<" + a.Name + ">")
		for _, k := range slices.Sorted(maps.Keys(a.Vector)) {
			writeElement(&b, k, a.Vector[k])
		}
		b.WriteString("</" + a.Name + ">")
	}
	b.WriteString("</TEMPLATE>")
	return b.String()
}

// writeElement writes one attribute. An empty value goes as an empty CDATA section, as
// oned writes it: oned's parser drops an element with no content at all
// (Template::single_xml_att, src/template/Template.cc), which would lose an attribute such
// as a cluster's empty RESERVED_MEM on a replace.
func writeElement(b *strings.Builder, name, value string) {
	b.WriteString("<" + name + ">")
	if value == "" {
		b.WriteString("<![CDATA[]]>")
	}
	_ = xml.EscapeText(b, []byte(value))
	b.WriteString("</" + name + ">")
}
