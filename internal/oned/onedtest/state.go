package onedtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// db is what oned keeps in its database and Raft replicates to every server of a zone:
// the zone's servers, the hosts and the clusters. The double's servers of one zone share
// one db (replication is immediate) unless a server is made to lag.
type db struct {
	zoneServers []zoneServer
	hosts       map[int]*host
	clusters    map[int]*cluster
	// lastHostOID, lastClusterOID: PoolSQL hands out last+1 and never reuses an ID
	// (pool_control table, src/pool/PoolSQL.cc); user clusters start at 100 (ClusterPool).
	lastHostOID    int
	lastClusterOID int
	// logIndex counts the writes (Raft log entries) applied.
	logIndex int64
	// serverAdminPassword is what serveradmin's password is stored as: sha256 of a random
	// one at bootstrap (UserPool::UserPool, src/um/UserPool.cc).
	serverAdminPassword string
	// datastores and vnets are the IDs that exist: a fresh oned has datastores 0, 1 and 2
	// and no virtual network (Zone.AddVNet makes one).
	datastores, vnets []int
}

type zoneServer struct {
	id             int
	name, endpoint string
}

type host struct {
	id                 int
	name, imMad, vmMad string
	clusterID          int
	state, prevState   oned.HostState
	template           []oned.Attribute
	vms                []int
	share              oned.HostShare
	lastMonitored      int64
	monitorAt          time.Time
}

type cluster struct {
	id                int
	name              string
	hosts             []int
	datastores, vnets []int
	template          []oned.Attribute
}

// newDB is a freshly bootstrapped oned's database: zone 0 "OpenNebula" with no servers,
// cluster 0 "default" holding the three default datastores (0 system, 1 default, 2 files),
// as onedb bootstraps it (src/cluster/ClusterPool.cc, src/datastore/DatastorePool.cc).
func newDB() *db {
	return &db{
		hosts: map[int]*host{},
		clusters: map[int]*cluster{
			oned.DefaultClusterID: {id: oned.DefaultClusterID, name: "default", datastores: []int{0, 1, 2}, template: reservedAttrs()},
		},
		datastores:          []int{0, 1, 2},
		lastHostOID:         -1,
		lastClusterOID:      99,
		serverAdminPassword: oned.ServerAdminPassword(randomHex()),
	}
}

// randomHex is a random 32-character hex string, as one_util::random_password makes.
func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (d *db) clone() *db {
	c := *d
	c.zoneServers = slices.Clone(d.zoneServers)
	c.datastores, c.vnets = slices.Clone(d.datastores), slices.Clone(d.vnets)
	c.hosts = map[int]*host{}
	for id, h := range d.hosts {
		hc := *h
		hc.template = slices.Clone(h.template)
		hc.vms = slices.Clone(h.vms)
		c.hosts[id] = &hc
	}
	c.clusters = map[int]*cluster{}
	for id, cl := range d.clusters {
		cc := *cl
		cc.hosts = slices.Clone(cl.hosts)
		cc.datastores, cc.vnets = slices.Clone(cl.datastores), slices.Clone(cl.vnets)
		cc.template = slices.Clone(cl.template)
		c.clusters[id] = &cc
	}
	return &c
}

// reservedAttrs are the empty RESERVED_CPU and RESERVED_MEM every cluster and host
// template starts with (testdata/clusterpool_info.xml, host_info_error.xml).
func reservedAttrs() []oned.Attribute {
	return []oned.Attribute{{Name: "RESERVED_CPU"}, {Name: "RESERVED_MEM"}}
}

// Hypervisor is what a host's monitoring finds when the double plays a reachable
// hypervisor (SetHypervisor); without one a host's monitoring fails as it does for a
// name that does not resolve or a machine that does not answer SSH.
type Hypervisor struct {
	// TotalCPU in hundredths of a core (400 = 4 cores), TotalMemory in KiB.
	TotalCPU, TotalMemory int64
	UsedCPU, UsedMemory   int64
}

// monitorError is the driver's message for a host it cannot reach: real oned 7.2 with its
// SSH drivers and no sshd on the host's address gives an empty one. Host::error
// (src/host/Host.cc) prefixes it with "Error monitoring Host NAME (ID): " and
// PoolObjectSQL::set_template_error_message with the time, as ctime(3) writes it.
const monitorError = ""

// advance applies the monitoring that has happened by now: a host in INIT or ERROR (or
// DISABLED, which is still monitored) is monitored monitorInterval after it was last
// scheduled. Success: MONITORED (not from DISABLED/OFFLINE), capacity from the hypervisor,
// TEMPLATE/ERROR cleared (Host::update_info). Failure: ERROR (not from DISABLED/OFFLINE),
// TEMPLATE/ERROR set (Host::error).
func (d *db) advance(now time.Time, hypervisors map[string]*Hypervisor, interval time.Duration) {
	for _, h := range d.hosts {
		if h.state == oned.HostOffline || h.monitorAt.IsZero() || now.Before(h.monitorAt) {
			continue
		}
		h.monitorAt = now.Add(interval)
		hv := hypervisors[h.name]
		if hv == nil {
			msg := fmt.Sprintf("%s : Error monitoring Host %s (%d): %s", now.Format(time.ANSIC), h.name, h.id, monitorError)
			if h.state != oned.HostDisabled {
				h.state = oned.HostError
			}
			setAttr(&h.template, "ERROR", msg)
			continue
		}
		removeAttr(&h.template, "ERROR")
		if h.state != oned.HostDisabled {
			h.state = oned.HostMonitored
		}
		h.share.TotalCPU, h.share.MaxCPU = hv.TotalCPU, hv.TotalCPU
		h.share.TotalMem, h.share.MaxMem = hv.TotalMemory, hv.TotalMemory
		setAttr(&h.template, "TOTALCPU", fmt.Sprint(hv.TotalCPU))
		setAttr(&h.template, "TOTALMEMORY", fmt.Sprint(hv.TotalMemory))
		setAttr(&h.template, "USEDCPU", fmt.Sprint(hv.UsedCPU))
		setAttr(&h.template, "USEDMEMORY", fmt.Sprint(hv.UsedMemory))
		h.lastMonitored = now.Unix()
	}
}

func setAttr(t *[]oned.Attribute, name, value string) {
	for i := range *t {
		if (*t)[i].Name == name && (*t)[i].Vector == nil {
			(*t)[i].Value = value
			return
		}
	}
	*t = append(*t, oned.Attribute{Name: name, Value: value})
}

func removeAttr(t *[]oned.Attribute, name string) {
	*t = slices.DeleteFunc(*t, func(a oned.Attribute) bool { return a.Name == name })
}

// hostnameOK and nameOK follow hostname_is_valid (src/host/HostPool.cc) and
// PoolObjectSQL::name_is_valid (src/pool/PoolObjectSQL.cc), in that order.
func hostnameOK(name string) string {
	if len(name) < 2 || len(name) > 63 {
		return "Invalid HOSTNAME, HOSTNAME length should be greater than 1, but smaller than 64 characters"
	}
	if c := name[0]; c == '-' || c == '.' || c == '_' {
		return fmt.Sprintf("Invalid HOSTNAME, first character can't be '%c'", c)
	}
	for _, c := range []byte(name) {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && c != '-' && c != '.' && c != '_' {
			return fmt.Sprintf("Invalid HOSTNAME, '%c' is invalid character for a HOSTNAME", c)
		}
	}
	return ""
}

// invalidNameChars is PoolObjectSQL::INVALID_NAME_CHARS (include/PoolObjectSQL.h).
const invalidNameChars = "&|:\\\";/'#{}$<>*"

func nameOK(name string) string {
	if name == "" {
		return "Invalid NAME, it cannot be empty"
	}
	if i := strings.IndexAny(name, invalidNameChars); i >= 0 {
		return fmt.Sprintf("Invalid NAME, char '%c' is not allowed", name[i])
	}
	if len(name) > 128 {
		return "Invalid NAME, max length is 128 chars"
	}
	return ""
}

// parseTemplate reads the two forms Template::parse_str_or_xml takes: XML when the string
// starts with '<', else the text syntax (only NAME = "value" and NAME = value lines here).
// A template it cannot read gives oned's message for it.
func parseTemplate(s string) (attrs []oned.Attribute, failure string) {
	if strings.HasPrefix(s, "<") {
		var t oned.Template
		if err := xml.Unmarshal([]byte(s), &t); err != nil {
			return nil, "Parse error: XML Template malformed."
		}
		return t.Attributes, ""
	}
	var out []oned.Attribute
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := textAttr.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Sprintf("Parse error: syntax error, unexpected %q", line)
		}
		v := m[2]
		if quoted, ok := strings.CutPrefix(v, `"`); ok {
			v = strings.ReplaceAll(strings.TrimSuffix(quoted, `"`), `\"`, `"`)
		}
		// The text parser writes attribute names in upper case.
		out = append(out, oned.Attribute{Name: strings.ToUpper(m[1]), Value: v})
	}
	return out, ""
}

var textAttr = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(".*"|[^\s"]+)\s*,?$`)

// mergeTemplate is Template::merge for single attributes: each attribute sent replaces
// every attribute of its name.
func mergeTemplate(into []oned.Attribute, from []oned.Attribute) []oned.Attribute {
	names := map[string]bool{}
	for _, a := range from {
		names[a.Name] = true
	}
	out := slices.DeleteFunc(slices.Clone(into), func(a oned.Attribute) bool { return names[a.Name] })
	return append(out, from...)
}

func sortedIDs[T any](m map[int]T) []int { return slices.Sorted(maps.Keys(m)) }
