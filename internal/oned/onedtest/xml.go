package onedtest

import (
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// The XML bodies follow the to_xml methods of OpenNebula 7.2 (element order included):
// Zone::to_xml (src/zone/Zone.cc), RaftManager::to_xml (src/raft/RaftManager.cc),
// Host::to_xml and HostShare::to_xml (src/host/), Cluster::to_xml (src/cluster/Cluster.cc);
// testdata/ of package oned holds the real answers they were checked against.

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// cdata is how Template::to_xml writes values.
func cdata(s string) string {
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}

// templateXML writes the attributes sorted by name, as Template::to_xml walks its
// multimap (attributes of one name in the order they were set).
func templateXML(name string, attrs []oned.Attribute) string {
	attrs = slices.Clone(attrs)
	slices.SortStableFunc(attrs, func(a, b oned.Attribute) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	b.WriteString("<" + name + ">")
	for _, a := range attrs {
		if a.Vector == nil {
			fmt.Fprintf(&b, "<%s>%s</%s>", a.Name, cdata(a.Value), a.Name)
			continue
		}
		b.WriteString("<" + a.Name + ">")
		for _, k := range slices.Sorted(maps.Keys(a.Vector)) {
			fmt.Fprintf(&b, "<%s>%s</%s>", k, cdata(a.Vector[k]), k)
		}
		b.WriteString("</" + a.Name + ">")
	}
	b.WriteString("</" + name + ">")
	return b.String()
}

func idsXML(name string, ids []int) string {
	var b strings.Builder
	b.WriteString("<" + name + ">")
	for _, id := range ids {
		fmt.Fprintf(&b, "<ID>%d</ID>", id)
	}
	b.WriteString("</" + name + ">")
	return b.String()
}

func zoneXML(d *db) string {
	var b strings.Builder
	b.WriteString("<ZONE><ID>0</ID><NAME>OpenNebula</NAME><STATE>0</STATE>")
	b.WriteString(templateXML("TEMPLATE", []oned.Attribute{{Name: "ENDPOINT", Value: "http://localhost:2633/RPC2"}}))
	b.WriteString("<SERVER_POOL>")
	for _, zs := range d.zoneServers {
		fmt.Fprintf(&b, "<SERVER><ENDPOINT>%s</ENDPOINT><ID>%s</ID><NAME>%s</NAME></SERVER>",
			cdata(zs.endpoint), cdata(fmt.Sprint(zs.id)), cdata(zs.name))
	}
	b.WriteString("</SERVER_POOL></ZONE>")
	return b.String()
}

func raftXML(s *Server, logIndex int64) string {
	logIdx, logTerm := fmt.Sprint(logIndex), fmt.Sprint(s.term)
	if s.state == oned.RaftSolo {
		logIdx, logTerm = "-1", "-1"
	}
	votedFor := -1
	if s.zone.leader >= 0 && s.state != oned.RaftSolo {
		votedFor = s.zone.servers[s.zone.leader].id
	}
	return fmt.Sprintf("<RAFT><SERVER_ID>%d</SERVER_ID><STATE>%d</STATE><TERM>%d</TERM><VOTEDFOR>%d</VOTEDFOR>"+
		"<COMMIT>%d</COMMIT><LOG_INDEX>%s</LOG_INDEX><LOG_TERM>%s</LOG_TERM><FEDLOG_INDEX>-1</FEDLOG_INDEX></RAFT>",
		s.id, int(s.state), s.term, votedFor, logIndex, logIdx, logTerm)
}

func hostXML(d *db, h *host) string {
	clusterName := ""
	if cl := d.clusters[h.clusterID]; cl != nil {
		clusterName = cl.name
	}
	sh := h.share
	// MAX_CPU is TOTAL_CPU less the reserved CPU: -100 before any monitoring, as real oned
	// answers (HostShare, testdata/host_info_error.xml).
	if sh.MaxCPU == 0 && sh.TotalCPU == 0 {
		sh.MaxCPU = -100
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<HOST><ID>%d</ID><NAME>%s</NAME><STATE>%d</STATE><PREV_STATE>%d</PREV_STATE>"+
		"<IM_MAD>%s</IM_MAD><VM_MAD>%s</VM_MAD><CLUSTER_ID>%d</CLUSTER_ID><CLUSTER>%s</CLUSTER>",
		h.id, esc(h.name), int(h.state), int(h.prevState), cdata(h.imMad), cdata(h.vmMad), h.clusterID, esc(clusterName))
	fmt.Fprintf(&b, "<HOST_SHARE><MEM_USAGE>%d</MEM_USAGE><CPU_USAGE>%d</CPU_USAGE><TOTAL_MEM>%d</TOTAL_MEM>"+
		"<TOTAL_CPU>%d</TOTAL_CPU><MAX_MEM>%d</MAX_MEM><MAX_CPU>%d</MAX_CPU><RUNNING_VMS>%d</RUNNING_VMS>"+
		"<VMS_THREAD>1</VMS_THREAD><DATASTORES><DISK_USAGE><![CDATA[0]]></DISK_USAGE><FREE_DISK><![CDATA[0]]></FREE_DISK>"+
		"<MAX_DISK><![CDATA[0]]></MAX_DISK><USED_DISK><![CDATA[0]]></USED_DISK></DATASTORES><PCI_DEVICES></PCI_DEVICES>"+
		"<NUMA_NODES></NUMA_NODES></HOST_SHARE>",
		sh.MemUsage, sh.CPUUsage, sh.TotalMem, sh.TotalCPU, sh.MaxMem, sh.MaxCPU, sh.RunningVMs)
	b.WriteString(idsXML("VMS", h.vms))
	b.WriteString(templateXML("TEMPLATE", h.template))
	if h.lastMonitored > 0 {
		fmt.Fprintf(&b, "<MONITORING><TIMESTAMP>%d</TIMESTAMP><ID>%d</ID></MONITORING>", h.lastMonitored, h.id)
	} else {
		b.WriteString("<MONITORING/>")
	}
	b.WriteString("</HOST>")
	return b.String()
}

// Pools are listed by descending ID: PoolSharedAPI::dump orders by API_LIST_ORDER, which
// real oned 7.2 answers as DESC (testdata/clusterpool_info.xml lists 100 before 0).
func hostPoolXML(d *db) string {
	var b strings.Builder
	b.WriteString("<HOST_POOL>")
	for _, id := range slices.Backward(sortedIDs(d.hosts)) {
		b.WriteString(hostXML(d, d.hosts[id]))
	}
	b.WriteString("</HOST_POOL>")
	return b.String()
}

func clusterXML(cl *cluster) string {
	return fmt.Sprintf("<CLUSTER><ID>%d</ID><NAME>%s</NAME>%s%s%s%s</CLUSTER>", cl.id, esc(cl.name),
		idsXML("HOSTS", cl.hosts), idsXML("DATASTORES", cl.datastores), idsXML("VNETS", cl.vnets),
		templateXML("TEMPLATE", cl.template))
}

func clusterPoolXML(d *db) string {
	var b strings.Builder
	b.WriteString("<CLUSTER_POOL>")
	for _, id := range slices.Backward(sortedIDs(d.clusters)) {
		b.WriteString(clusterXML(d.clusters[id]))
	}
	b.WriteString("</CLUSTER_POOL>")
	return b.String()
}
