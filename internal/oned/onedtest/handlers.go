package onedtest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// method is one XML-RPC method of the double: its argument types after the session
// (i int, s string, b bool; trailing optional ones as oned's XRPC classes read them with
// paramList.size() > N) and whether it is leader-only.
type method struct {
	args     string
	optional int
	// local: answered by the server called, leader or not (leader_only(false) in
	// src/rm/api/{ZoneAPI,HostAPI,PoolSharedAPI}.h); every other call is leader-only: a
	// follower forwards it, a candidate refuses it (RequestXRPC::execute).
	local bool
	// object names the object of the call in oned's messages (RequestLogger::object_name).
	object string
	// logName is the name oned's messages give the call when it is not the method's:
	// OpenNebula 7.2 names one.cluster.addvnet and delvnet "one.cluster.addhost" and
	// "one.cluster.delhost" (ClusterAddVNetXRPC, ClusterDelVNetXRPC in
	// src/rm/xml-rpc/ClusterXRPC.h).
	logName string
	run     func(s *Server, d *db, c *call) response
}

// The objects of the calls, as RequestLogger::object_name names them (src/rm/RequestLogger.cc).
const (
	objZone    = "zone"
	objHost    = "host"
	objCluster = "cluster"
	objUser    = "user"
	// Request::object_name (src/rm/RequestLogger.cc).
	objDatastore = "datastore"
	objVNet      = "virtual network"
)

var methods = map[string]method{
	"one.system.version":   {run: (*Server).systemVersion},
	"one.system.config":    {run: (*Server).systemConfig},
	"one.user.passwd":      {args: "is", object: objUser, run: (*Server).userPasswd},
	"one.zone.info":        {args: "ib", optional: 1, local: true, object: objZone, run: (*Server).zoneInfo},
	"one.zone.raftstatus":  {local: true, object: objZone, run: (*Server).raftStatus},
	"one.zone.addserver":   {args: "is", object: objZone, run: (*Server).zoneAddServer},
	"one.zone.delserver":   {args: "ii", object: objZone, run: (*Server).zoneDelServer},
	"one.zone.resetserver": {args: "ii", object: objZone, run: (*Server).zoneResetServer},
	"one.host.allocate":    {args: "sssi", object: objHost, run: (*Server).hostAllocate},
	"one.host.info":        {args: "ib", optional: 1, local: true, object: objHost, run: (*Server).hostInfo},
	"one.host.update":      {args: "isi", optional: 1, object: objHost, run: (*Server).hostUpdate},
	"one.host.status":      {args: "ii", object: objHost, run: (*Server).hostStatus},
	"one.host.delete":      {args: "i", object: objHost, run: (*Server).hostDelete},
	"one.hostpool.info":    {local: true, object: objHost, run: (*Server).hostPoolInfo},
	"one.cluster.allocate": {args: "s", object: objCluster, run: (*Server).clusterAllocate},
	"one.cluster.info":     {args: "ib", optional: 1, object: objCluster, run: (*Server).clusterInfo},
	"one.cluster.addhost":  {args: "ii", object: objCluster, run: (*Server).clusterAddHost},
	"one.cluster.delete":   {args: "i", object: objCluster, run: (*Server).clusterDelete},
	"one.cluster.update":   {args: "isi", optional: 1, object: objCluster, run: (*Server).clusterUpdate},
	"one.cluster.adddatastore": {args: "ii", object: objCluster, run: func(s *Server, d *db, c *call) response {
		return s.clusterMember(d, c, objDatastore, true)
	}},
	"one.cluster.deldatastore": {args: "ii", object: objCluster, run: func(s *Server, d *db, c *call) response {
		return s.clusterMember(d, c, objDatastore, false)
	}},
	"one.cluster.addvnet": {args: "ii", object: objCluster, logName: "one.cluster.addhost", run: func(s *Server, d *db, c *call) response {
		return s.clusterMember(d, c, objVNet, true)
	}},
	"one.cluster.delvnet": {args: "ii", object: objCluster, logName: "one.cluster.delhost", run: func(s *Server, d *db, c *call) response {
		return s.clusterMember(d, c, objVNet, false)
	}},
	"one.clusterpool.info": {local: true, object: objCluster, run: (*Server).clusterPoolInfo},
}

// call is a request being served: its method name and typed arguments after the session.
type call struct {
	name string
	m    method
	args []any
}

func (c *call) int(i int) int    { return int(c.args[i].(int64)) }
func (c *call) str(i int) string { return c.args[i].(string) }
func (c *call) has(i int) bool   { return i < len(c.args) }
func (c *call) prefix() string   { return "[" + c.name + "] " }
func (c *call) fail(code oned.ErrorCode, msg string) response {
	return response{code: int(code), str: c.prefix() + msg, resourceID: -1}
}

// notFound is Request::failure_message's NO_EXISTS text (src/rm/Request.cc).
func (c *call) notFound(object string, id int) response {
	return response{code: int(oned.CodeNoExists), str: fmt.Sprintf("%sError getting %s [%d].", c.prefix(), object, id), resourceID: id}
}

// allocateFailed is Request::failure_message's ALLOCATE text.
func (c *call) allocateFailed(msg string) response {
	return c.fail(oned.CodeAllocate, "Error allocating a new "+c.m.object+". "+msg)
}

func ok(str string) response { return response{ok: true, str: str} }
func okID(id int) response   { return response{ok: true, num: id, isNum: true} }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.zone.mu.Lock()
	hang, delay := s.hang, s.delay
	s.zone.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "text/xml")
	mc, err := parseCall(r.Body)
	if err != nil {
		// xmlrpc-c's own fault for a body that is not a methodCall.
		writeFault(w, -503, "Call XML not a proper XML-RPC call.  "+err.Error())
		return
	}
	s.zone.mu.Lock()
	s.calls[mc.Method]++
	s.zone.mu.Unlock()
	m, known := methods[mc.Method]
	if !known {
		writeFault(w, -506, fmt.Sprintf("Method '%s' not defined", mc.Method))
		return
	}
	c, fault := typedCall(mc, m)
	if fault != "" {
		writeFault(w, -501, fault)
		return
	}
	session, _ := mc.Params[0].(string)
	s.execute(c, session).write(w)
}

var typeNames = map[byte]string{'i': "integer", 's': "string", 'b': "boolean"}

// typedCall checks the arguments' types as xmlrpc-c does when oned's code reads them
// (paramList.getInt/getString/getBoolean throw a type fault).
func typedCall(mc methodCall, m method) (*call, string) {
	if len(mc.Params) == 0 {
		return nil, "Not enough parameters"
	}
	c := &call{name: cmp.Or(m.logName, mc.Method), m: m, args: mc.Params[1:]}
	need := len(m.args) - m.optional
	if len(c.args) < need {
		return nil, "Not enough parameters"
	}
	for i, a := range c.args {
		if i >= len(m.args) {
			break
		}
		var okType bool
		switch m.args[i] {
		case 'i':
			_, okType = a.(int64)
		case 's':
			_, okType = a.(string)
		case 'b':
			_, okType = a.(bool)
		}
		if !okType {
			// xmlrpc-c's paramList.getInt/getString/getBoolean (testdata/fault_wrong_type.xml).
			return nil, "Parameter that is supposed to be " + typeNames[m.args[i]] + " is not"
		}
	}
	return c, ""
}

// execute is RequestXRPC::execute (src/rm/xml-rpc/RequestXRPC.cc): authenticate, then a
// follower forwards a leader-only call to its leader, a candidate refuses it, and the
// leader (or a solo server, or any server for a local call) runs it.
func (s *Server) execute(c *call, session string) response {
	z := s.zone
	z.mu.Lock()
	defer z.mu.Unlock()
	// The server checks the login against its own copy of the database, and answers from
	// it what it answers itself.
	own := z.db
	if s.lagged != nil {
		own = s.lagged
	}
	if !own.authenticates(session) {
		return c.fail(oned.CodeAuthentication, "User couldn't be authenticated, aborting call.")
	}
	z.db.advance(time.Now(), z.hypervisors, z.monitorInterval)
	if !c.m.local {
		switch s.state {
		case oned.RaftFollower:
			if z.leader < 0 || !z.servers[z.leader].running {
				return c.fail(oned.CodeInternal, "Cannot process request, no leader found")
			}
			leader := z.servers[z.leader]
			return c.m.run(leader, z.db, c)
		case oned.RaftCandidate:
			return c.fail(oned.CodeInternal, "Cannot process request, oned cluster in election mode")
		case oned.RaftLeader:
			// A server claiming leadership while another leads (ClaimLeadership): its
			// writes reach the database through the zone's leader.
			if z.leader >= 0 && z.servers[z.leader] != s {
				return c.m.run(z.servers[z.leader], z.db, c)
			}
		}
	}
	return c.m.run(s, own, c)
}

// write records a replicated write: one more Raft log entry.
func (d *db) write() { d.logIndex++ }

func (s *Server) systemVersion(_ *db, _ *call) response { return ok(Version) }

// authenticates: oneadmin's password, or serveradmin's login as the services make it,
// checked by the server_cipher driver against the stored password
// (UserPool::authenticate_server, src/um/UserPool.cc).
func (d *db) authenticates(session string) bool {
	if session == oned.AdminUser+":"+Password {
		return true
	}
	user, rest, _ := strings.Cut(session, ":")
	target, token, _ := strings.Cut(rest, ":")
	return user == oned.ServerAdminUser && target == oned.ServerAdminUser &&
		oned.CheckServerCipher(d.serverAdminPassword, user, token, time.Now()) == nil
}

// systemConfig: one.system.config shows the oneadmin group the whole configuration, its
// ONE_KEY among it (SystemAPI::config, OpenNebulaTemplate::load_key); the double's holds
// only that.
func (s *Server) systemConfig(_ *db, _ *call) response {
	return ok("<OPENNEBULA_CONFIGURATION><ONE_KEY>" + s.oneKey + "</ONE_KEY></OPENNEBULA_CONFIGURATION>")
}

// userPasswd: UserAPI::password; a server_cipher user's password is stored as given
// (User::set_password). The double's users are oneadmin (0), whose password it keeps,
// and serveradmin (1).
func (s *Server) userPasswd(d *db, c *call) response {
	switch id := c.int(0); id {
	case oned.ServerAdminID:
		d.serverAdminPassword = c.str(1)
		d.write()
		return okID(id)
	case 0:
		return c.fail(oned.CodeAction, "the double keeps oneadmin's password")
	default:
		return c.notFound(objUser, id)
	}
}

// zoneInfo: ZoneInfoAPI / SharedAPI::info; zone 0 is the only zone of a standalone oned.
func (s *Server) zoneInfo(d *db, c *call) response {
	if id := c.int(0); id != 0 {
		return c.notFound(objZone, id)
	}
	return ok(zoneXML(d))
}

// raftStatus: RaftManager::to_xml (src/raft/RaftManager.cc): the server's own view.
func (s *Server) raftStatus(d *db, _ *call) response {
	idx := d.logIndex
	if s.lagged != nil {
		idx = s.lagIndex
	}
	return ok(raftXML(s, idx))
}

// zoneAddServer: ZoneAPI::add_server (src/rm/api/ZoneAPI.cc) and
// ZoneServers::add_server (include/ZoneServer.h). Answers the zone's ID.
func (s *Server) zoneAddServer(d *db, c *call) response {
	zid := c.int(0)
	if zid != 0 {
		return c.fail(oned.CodeAction, "Servers have to be added through the target zone endpoints")
	}
	attrs, failure := parseServerTemplate(c.str(1))
	if failure != "" {
		return c.fail(oned.CodeAction, failure)
	}
	if attrs == nil {
		return c.fail(oned.CodeAction, "SERVER not found in template")
	}
	if attrs["NAME"] == "" {
		return c.fail(oned.CodeAction, "Missing NAME in SERVER")
	}
	if attrs["ENDPOINT"] == "" && attrs["ENDPOINT_GRPC"] == "" {
		return c.fail(oned.CodeAction, "Missing ENDPOINT or ENDPOINT_GRPC in SERVER")
	}
	// The zone is read from the database at every call, so the next ID is the highest
	// present + 1 (ZoneServers(Template*) computes next_id from the servers it loads).
	next := 0
	for _, zs := range d.zoneServers {
		next = max(next, zs.id+1)
	}
	d.zoneServers = append(d.zoneServers, zoneServer{id: next, name: attrs["NAME"], endpoint: attrs["ENDPOINT"]})
	d.write()
	return okID(zid)
}

func parseServerTemplate(s string) (server map[string]string, failure string) {
	attrs, failure := parseTemplate(s)
	if failure != "" {
		return nil, failure
	}
	for _, a := range attrs {
		if a.Name == "SERVER" && a.Vector != nil {
			return a.Vector, ""
		}
	}
	return nil, ""
}

// zoneDelServer: ZoneAPI::del_server and Zone::delete_server (src/zone/Zone.cc).
func (s *Server) zoneDelServer(d *db, c *call) response {
	zid, sid := c.int(0), c.int(1)
	if zid != 0 {
		return c.fail(oned.CodeAction, "Servers have to be deleted through the target zone endpoints")
	}
	i := slices.IndexFunc(d.zoneServers, func(zs zoneServer) bool { return zs.id == sid })
	if i < 0 {
		return c.fail(oned.CodeAction, "SERVER not found in zone")
	}
	d.zoneServers = slices.Delete(d.zoneServers, i, i+1)
	d.write()
	return okID(zid)
}

// zoneResetServer: ZoneAPI::reset_server: only the zone is checked (its message is the
// delete one in 7.2's source); the leader resends its log to that server.
func (s *Server) zoneResetServer(_ *db, c *call) response {
	zid := c.int(0)
	if zid != 0 {
		return c.fail(oned.CodeAction, "Servers have to be deleted through the target zone endpoints")
	}
	return okID(zid)
}

// hostAllocate: HostAllocateAPI::allocate, SharedAPI::allocate (the cluster is looked up
// first), HostPool::allocate (src/host/HostPool.cc) for the name checks.
func (s *Server) hostAllocate(d *db, c *call) response {
	name, im, vm, cid := c.str(0), c.str(1), c.str(2), c.int(3)
	if cid == -1 {
		cid = oned.DefaultClusterID
	}
	cl := d.clusters[cid]
	if cl == nil {
		return c.notFound(objCluster, cid)
	}
	if msg := hostnameOK(name); msg != "" {
		return c.allocateFailed(msg)
	}
	if msg := nameOK(name); msg != "" {
		return c.allocateFailed(msg)
	}
	if im == "" {
		return c.allocateFailed("IM_MAD_NAME cannot be empty.")
	}
	if vm == "" {
		return c.allocateFailed("VMM_MAD_NAME cannot be empty.")
	}
	for _, id := range sortedIDs(d.hosts) {
		if d.hosts[id].name == name {
			return c.allocateFailed(fmt.Sprintf("NAME is already taken by HOST %d.", id))
		}
	}
	d.lastHostOID++
	h := &host{id: d.lastHostOID, name: name, imMad: im, vmMad: vm, clusterID: cid,
		state: oned.HostInit, monitorAt: time.Now().Add(s.zone.monitorInterval),
		template: append(reservedAttrs(), oned.Attribute{Name: "IM_MAD", Value: im}, oned.Attribute{Name: "VM_MAD", Value: vm})}
	d.hosts[h.id] = h
	cl.hosts = append(cl.hosts, h.id)
	d.write()
	return okID(h.id)
}

func (s *Server) hostInfo(d *db, c *call) response {
	h := d.hosts[c.int(0)]
	if h == nil {
		return c.notFound(objHost, c.int(0))
	}
	return ok(hostXML(d, h))
}

// hostUpdate: SharedAPI::update (src/rm/api/SharedAPI.cc): 0 replaces the template, 1
// merges into it.
func (s *Server) hostUpdate(d *db, c *call) response {
	h := d.hosts[c.int(0)]
	if h == nil {
		return c.notFound(objHost, c.int(0))
	}
	return updateTemplate(d, c, &h.template)
}

func (s *Server) clusterUpdate(d *db, c *call) response {
	cl := d.clusters[c.int(0)]
	if cl == nil {
		return c.notFound(objCluster, c.int(0))
	}
	return updateTemplate(d, c, &cl.template)
}

// updateTemplate: SharedAPI::update (src/rm/api/SharedAPI.cc), replace (0) or merge (1).
func updateTemplate(d *db, c *call, template *[]oned.Attribute) response {
	mode := 0
	if c.has(2) {
		mode = c.int(2)
	}
	if mode < 0 || mode > 1 {
		return c.fail(oned.CodeRPCAPI, "Wrong update type")
	}
	attrs, failure := parseTemplate(c.str(1))
	if failure != "" {
		return c.fail(oned.CodeInternal, "Cannot update template. "+failure)
	}
	if mode == 0 {
		*template = attrs
	} else {
		*template = mergeTemplate(*template, attrs)
	}
	d.write()
	return okID(c.int(0))
}

// clusterMember: ClusterAPI::action_generic (src/rm/api/ClusterAPI.cc). The cluster, then
// the datastore or network, must exist; adding one already there, or removing one that
// is not, succeeds and changes nothing. Datastores and networks may be in several
// clusters.
func (s *Server) clusterMember(d *db, c *call, object string, add bool) response {
	cid, oid := c.int(0), c.int(1)
	cl := d.clusters[cid]
	if cl == nil {
		return c.notFound(objCluster, cid)
	}
	exists, members := d.datastores, &cl.datastores
	if object == objVNet {
		exists, members = d.vnets, &cl.vnets
	}
	if !slices.Contains(exists, oid) {
		return c.notFound(object, oid)
	}
	switch in := slices.Contains(*members, oid); {
	case add && !in:
		*members = append(*members, oid)
		slices.Sort(*members)
	case !add && in:
		*members = slices.DeleteFunc(*members, func(x int) bool { return x == oid })
	default:
		return okID(cid)
	}
	d.write()
	return okID(cid)
}

// hostStatus: HostAPI::status and Host::enable/disable/offline (src/host/Host.cc).
func (s *Server) hostStatus(d *db, c *call) response {
	id, st := c.int(0), c.int(1)
	h := d.hosts[id]
	if h == nil {
		return c.notFound(objHost, id)
	}
	switch oned.HostStatus(st) {
	case oned.HostStatusEnabled:
		if h.state == oned.HostDisabled && h.share.TotalCPU > 0 {
			h.state = oned.HostMonitored
		} else {
			h.state = oned.HostInit
		}
		h.monitorAt = time.Now().Add(s.zone.monitorInterval)
	case oned.HostStatusDisabled:
		h.state = oned.HostDisabled
		if h.monitorAt.IsZero() {
			h.monitorAt = time.Now().Add(s.zone.monitorInterval)
		}
	case oned.HostStatusOffline:
		h.state = oned.HostOffline
		h.share.TotalCPU, h.share.TotalMem, h.share.MaxCPU, h.share.MaxMem = 0, 0, 0, 0
		for _, a := range []string{"TOTALCPU", "TOTALMEMORY", "FREECPU", "FREEMEMORY", "USEDCPU", "USEDMEMORY"} {
			removeAttr(&h.template, a)
		}
	default:
		return c.fail(oned.CodeInternal, "Wrong status code")
	}
	d.write()
	return okID(id)
}

// hostDelete: SharedAPI::delete_object and HostAPI::drop (src/rm/api/HostAPI.cc).
func (s *Server) hostDelete(d *db, c *call) response {
	id := c.int(0)
	h := d.hosts[id]
	if h == nil {
		return c.notFound(objHost, id)
	}
	if h.share.RunningVMs > 0 || len(h.vms) > 0 {
		return c.fail(oned.CodeAction, "Cannot delete host. Can not remove a host with running VMs")
	}
	delete(d.hosts, id)
	if cl := d.clusters[h.clusterID]; cl != nil {
		cl.hosts = slices.DeleteFunc(cl.hosts, func(x int) bool { return x == id })
	}
	d.write()
	return okID(id)
}

func (s *Server) hostPoolInfo(d *db, _ *call) response { return ok(hostPoolXML(d)) }

// clusterAllocate: ClusterPool::allocate (src/cluster/ClusterPool.cc).
func (s *Server) clusterAllocate(d *db, c *call) response {
	name := c.str(0)
	if msg := nameOK(name); msg != "" {
		return c.allocateFailed(msg)
	}
	for _, id := range sortedIDs(d.clusters) {
		if d.clusters[id].name == name {
			return c.allocateFailed(fmt.Sprintf("NAME is already taken by CLUSTER %d.", id))
		}
	}
	d.lastClusterOID++
	d.clusters[d.lastClusterOID] = &cluster{id: d.lastClusterOID, name: name, template: reservedAttrs()}
	d.write()
	return okID(d.lastClusterOID)
}

func (s *Server) clusterInfo(d *db, c *call) response {
	cl := d.clusters[c.int(0)]
	if cl == nil {
		return c.notFound(objCluster, c.int(0))
	}
	return ok(clusterXML(cl))
}

// clusterAddHost: ClusterAPI::AddHost (src/rm/api/ClusterAPI.cc): the cluster, then the
// host, must exist; a host already there is a success that changes nothing.
func (s *Server) clusterAddHost(d *db, c *call) response {
	cid, hid := c.int(0), c.int(1)
	cl := d.clusters[cid]
	if cl == nil {
		return c.notFound(objCluster, cid)
	}
	h := d.hosts[hid]
	if h == nil {
		return c.notFound(objHost, hid)
	}
	if h.clusterID == cid {
		return okID(cid)
	}
	if old := d.clusters[h.clusterID]; old != nil {
		old.hosts = slices.DeleteFunc(old.hosts, func(x int) bool { return x == hid })
	}
	h.clusterID = cid
	cl.hosts = append(cl.hosts, hid)
	d.write()
	return okID(cid)
}

// clusterDelete: ClusterPool::drop and Cluster::check_drop (src/cluster/Cluster.cc).
func (s *Server) clusterDelete(d *db, c *call) response {
	id := c.int(0)
	cl := d.clusters[id]
	if cl == nil {
		return c.notFound(objCluster, id)
	}
	if id < 100 {
		return c.fail(oned.CodeAction, "Cannot delete cluster. System Clusters (ID < 100) cannot be deleted.")
	}
	if n := len(cl.hosts); n > 0 {
		return c.fail(oned.CodeAction, fmt.Sprintf("Cannot delete cluster. Cluster %d is not empty, it contains %d hosts.", id, n))
	}
	if n := len(cl.datastores); n > 0 {
		return c.fail(oned.CodeAction, fmt.Sprintf("Cannot delete cluster. Cluster %d is not empty, it contains %d datastores.", id, n))
	}
	if n := len(cl.vnets); n > 0 {
		return c.fail(oned.CodeAction, fmt.Sprintf("Cannot delete cluster. Cluster %d is not empty, it contains %d vnets.", id, n))
	}
	delete(d.clusters, id)
	d.write()
	return okID(id)
}

func (s *Server) clusterPoolInfo(d *db, _ *call) response { return ok(clusterPoolXML(d)) }
