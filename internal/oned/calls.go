package oned

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// The calls below are the ones the operator makes; each names its method as oned registers
// it (src/rm/xml-rpc/RequestManagerXRPC.cc) and its arguments as the XRPC class reads them
// (src/rm/xml-rpc/{System,Zone,Host,Cluster}XRPC.cc).

// Version is one.system.version: oned's version ("7.2.0"). It is a leader-only call:
// a follower forwards it to the leader, a candidate refuses it (IsNoLeader).
func (c *Client) Version(ctx context.Context) (string, error) {
	a, err := c.call(ctx, "one.system.version")
	if err != nil {
		return "", err
	}
	return a.str, nil
}

// ZoneInfo is one.zone.info: the zone and its Raft servers. Answered by the server called,
// leader or not (ZoneInfoAPI sets leader_only false, src/rm/api/ZoneAPI.h).
func (c *Client) ZoneInfo(ctx context.Context, zoneID int) (*Zone, error) {
	z := &Zone{}
	if err := c.callXML(ctx, z, "one.zone.info", zoneID, false); err != nil {
		return nil, err
	}
	return z, nil
}

// RaftStatus is one.zone.raftstatus: this server's own Raft state (not forwarded).
func (c *Client) RaftStatus(ctx context.Context) (*RaftStatus, error) {
	r := &RaftStatus{}
	if err := c.callXML(ctx, r, "one.zone.raftstatus"); err != nil {
		return nil, err
	}
	return r, nil
}

// ServerSpec is a server to add to a zone. Endpoint is its XML-RPC URL
// ("http://NAME:2633/RPC2"); EndpointGRPC its gRPC address when oned is built with gRPC.
type ServerSpec struct {
	Name         string
	Endpoint     string
	EndpointGRPC string
}

// AddServer is one.zone.addserver. oned answers the ZONE's ID, not the server's: the new
// server's ID is read back from ZoneInfo by name (AddServerID does both). oned refuses
// neither a second server of the same name nor one while another new server has not joined
// yet; with no quorum for the new configuration the call blocks until its timeout.
func (c *Client) AddServer(ctx context.Context, zoneID int, s ServerSpec) error {
	attrs := map[string]string{"NAME": s.Name, "ENDPOINT": s.Endpoint}
	if s.EndpointGRPC != "" {
		attrs["ENDPOINT_GRPC"] = s.EndpointGRPC
	}
	var b strings.Builder
	b.WriteString("<TEMPLATE><SERVER>")
	for _, k := range []string{"NAME", "ENDPOINT", "ENDPOINT_GRPC"} {
		if v, ok := attrs[k]; ok {
			writeElement(&b, k, v)
		}
	}
	b.WriteString("</SERVER></TEMPLATE>")
	_, err := c.callID(ctx, "one.zone.addserver", zoneID, b.String())
	return err
}

// AddServerID adds the server unless a server of that name is in the zone already, and
// returns its ID as oned gave it (never assumed from an ordinal).
func (c *Client) AddServerID(ctx context.Context, zoneID int, s ServerSpec) (id int, added bool, err error) {
	z, err := c.ZoneInfo(ctx, zoneID)
	if err != nil {
		return -1, false, err
	}
	if srv, n := z.ServerByName(s.Name); n > 0 {
		return srv.ID, false, nil
	}
	if err := c.AddServer(ctx, zoneID, s); err != nil {
		return -1, false, err
	}
	if z, err = c.ZoneInfo(ctx, zoneID); err != nil {
		return -1, true, err
	}
	srv, n := z.ServerByName(s.Name)
	if n == 0 {
		return -1, true, fmt.Errorf("one.zone.addserver succeeded but zone %d lists no server %q", zoneID, s.Name)
	}
	return srv.ID, true, nil
}

// DelServer is one.zone.delserver; an unknown server ID is an ACTION error
// ("SERVER not found in zone", Zone::delete_server in src/zone/Zone.cc).
func (c *Client) DelServer(ctx context.Context, zoneID, serverID int) error {
	_, err := c.callID(ctx, "one.zone.delserver", zoneID, serverID)
	return err
}

// ResetServer is one.zone.resetserver, for a server whose database was reseeded from the
// leader's: the leader sets the server's next index to its own last index + 1
// (RaftManager::reset_index in src/raft/RaftManager.cc), as for a server just added; an
// entry the copy lacks is then found by the usual step back on a refused append
// (RaftManager::replicate_failure).
func (c *Client) ResetServer(ctx context.Context, zoneID, serverID int) error {
	_, err := c.callID(ctx, "one.zone.resetserver", zoneID, serverID)
	return err
}

// HostAllocate is one.host.allocate; clusterID -1 means the default cluster. A taken name
// answers an ALLOCATE error that AlreadyTaken recognises, with the holder's ID.
func (c *Client) HostAllocate(ctx context.Context, name, imMad, vmMad string, clusterID int) (int, error) {
	return c.callID(ctx, "one.host.allocate", name, imMad, vmMad, clusterID)
}

// HostInfo is one.host.info.
func (c *Client) HostInfo(ctx context.Context, id int) (*Host, error) {
	h := &Host{}
	if err := c.callXML(ctx, h, "one.host.info", id, false); err != nil {
		return nil, err
	}
	return h, nil
}

// UpdateMode is how one.*.update applies a template (SharedAPI::update, src/rm/api/SharedAPI.cc).
type UpdateMode int

// The update modes.
const (
	UpdateReplace UpdateMode = 0 // the template becomes exactly what is sent
	UpdateMerge   UpdateMode = 1 // the attributes sent are added or replaced, others kept
)

var attributeName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// HostUpdate is one.host.update with single attributes (NAME = value). Names must be
// upper case, as oned's template parser writes them.
func (c *Client) HostUpdate(ctx context.Context, id int, attrs map[string]string, mode UpdateMode) error {
	return c.update(ctx, "one.host.update", id, attrs, mode)
}

// ClusterUpdate is one.cluster.update, as HostUpdate.
func (c *Client) ClusterUpdate(ctx context.Context, id int, attrs map[string]string, mode UpdateMode) error {
	return c.update(ctx, "one.cluster.update", id, attrs, mode)
}

// HostReplace is one.host.update in replace mode with a whole template (vector
// attributes too): the way to remove attributes, which merge cannot.
func (c *Client) HostReplace(ctx context.Context, id int, t Template) error {
	_, err := c.callID(ctx, "one.host.update", id, t.XML(), int(UpdateReplace))
	return err
}

// ClusterReplace is HostReplace for a cluster.
func (c *Client) ClusterReplace(ctx context.Context, id int, t Template) error {
	_, err := c.callID(ctx, "one.cluster.update", id, t.XML(), int(UpdateReplace))
	return err
}

// update is one.<object>.update (SharedAPI::update): the template as XML, so that values
// travel unchanged.
func (c *Client) update(ctx context.Context, method string, id int, attrs map[string]string, mode UpdateMode) error {
	for k := range attrs {
		if !attributeName.MatchString(k) {
			return fmt.Errorf("template attribute %q: names are upper-case letters, digits and _", k)
		}
	}
	_, err := c.callID(ctx, method, id, templateXML(attrs), int(mode))
	return err
}

// HostStatus is the argument of one.host.status (HostAPI::status, src/rm/api/HostAPI.cc).
type HostStatus int

// The host statuses one.host.status sets.
const (
	HostStatusEnabled  HostStatus = 0
	HostStatusDisabled HostStatus = 1
	HostStatusOffline  HostStatus = 2
)

// HostStatus is one.host.status: enabled (back to INIT, or MONITORED when it was disabled
// with known capacity), disabled (DISABLED, still monitored), offline (OFFLINE, not
// monitored, capacity reset).
func (c *Client) HostStatus(ctx context.Context, id int, status HostStatus) error {
	_, err := c.callID(ctx, "one.host.status", id, int(status))
	return err
}

// HostDelete is one.host.delete; oned refuses (ACTION) while the host runs VMs.
func (c *Client) HostDelete(ctx context.Context, id int) error {
	_, err := c.callID(ctx, "one.host.delete", id)
	return err
}

// HostPool is one.hostpool.info: every host, in one call. Answered by the server called,
// leader or not (PoolSharedAPI sets leader_only false): a follower's view may lag.
func (c *Client) HostPool(ctx context.Context) ([]Host, error) {
	p := &HostPool{}
	if err := c.callXML(ctx, p, "one.hostpool.info"); err != nil {
		return nil, err
	}
	return p.Hosts, nil
}

// ClusterAllocate is one.cluster.allocate; a taken name answers AlreadyTaken ("CLUSTER").
func (c *Client) ClusterAllocate(ctx context.Context, name string) (int, error) {
	return c.callID(ctx, "one.cluster.allocate", name)
}

// ClusterInfo is one.cluster.info.
func (c *Client) ClusterInfo(ctx context.Context, id int) (*Cluster, error) {
	cl := &Cluster{}
	if err := c.callXML(ctx, cl, "one.cluster.info", id, false); err != nil {
		return nil, err
	}
	return cl, nil
}

// ClusterAddHost is one.cluster.addhost: moves the host into the cluster (out of the one it
// was in).
func (c *Client) ClusterAddHost(ctx context.Context, clusterID, hostID int) error {
	_, err := c.callID(ctx, "one.cluster.addhost", clusterID, hostID)
	return err
}

// ClusterAddDatastore is one.cluster.adddatastore, ClusterDelDatastore
// one.cluster.deldatastore; ClusterAddVNet and ClusterDelVNet the same for virtual
// networks (ClusterAPI::action_generic, src/rm/api/ClusterAPI.cc: the cluster, then the
// object, must exist, NO_EXISTS naming the one missing).
func (c *Client) ClusterAddDatastore(ctx context.Context, clusterID, datastoreID int) error {
	_, err := c.callID(ctx, "one.cluster.adddatastore", clusterID, datastoreID)
	return err
}

// ClusterDelDatastore: see ClusterAddDatastore.
func (c *Client) ClusterDelDatastore(ctx context.Context, clusterID, datastoreID int) error {
	_, err := c.callID(ctx, "one.cluster.deldatastore", clusterID, datastoreID)
	return err
}

// ClusterAddVNet: see ClusterAddDatastore.
func (c *Client) ClusterAddVNet(ctx context.Context, clusterID, vnetID int) error {
	_, err := c.callID(ctx, "one.cluster.addvnet", clusterID, vnetID)
	return err
}

// ClusterDelVNet: see ClusterAddDatastore.
func (c *Client) ClusterDelVNet(ctx context.Context, clusterID, vnetID int) error {
	_, err := c.callID(ctx, "one.cluster.delvnet", clusterID, vnetID)
	return err
}

// ClusterDelete is one.cluster.delete; oned refuses the system clusters (ID < 100) and a
// cluster that still has hosts, datastores or networks (ACTION).
func (c *Client) ClusterDelete(ctx context.Context, id int) error {
	_, err := c.callID(ctx, "one.cluster.delete", id)
	return err
}

// ClusterPool is one.clusterpool.info: every cluster, in one call.
func (c *Client) ClusterPool(ctx context.Context) ([]Cluster, error) {
	p := &ClusterPool{}
	if err := c.callXML(ctx, p, "one.clusterpool.info"); err != nil {
		return nil, err
	}
	return p.Clusters, nil
}
