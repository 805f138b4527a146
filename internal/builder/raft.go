package builder

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/raft"
)

// Keys of the Raft HA files in the frontend's ConfigMap, and where the pod reads the
// server IDs the operator records (docs/opennebula.md, "Raft HA").
const (
	// StartWrapperKey is the start wrapper, the frontend container's command in a zone: it
	// gives oned its SERVER_ID, RAFT settings and hooks, then runs the image's entry point.
	StartWrapperKey = "start-oned.sh"
	// RaftConfKey is the oned.conf fragment the wrapper puts in place of the image's
	// FEDERATION and RAFT blocks.
	RaftConfKey = "oned-raft.conf"
	// RaftHookKey is the script oned runs when its server becomes leader or follower.
	RaftHookKey = "raft-hook.sh"
	// SeedDatabaseKey is the seed init container's script (run with MariaDB's client tools).
	SeedDatabaseKey = "seed-db.sh"
	// SeedFromKey, in the ConfigMap of server IDs, is where a seeding server copies its
	// database from: the leader's database as "host port name".
	SeedFromKey = "seed-from"
	// RaftServersDir is where the pod reads the server IDs: one file per pod name, holding
	// the ID oned gave that server (one.zone.info, read back by NAME).
	RaftServersDir = "/etc/opennebula-raft-servers"
	// KeysDir is where the pod reads the frontend's keys (the Keys Secret): one key per
	// file.
	KeysDir = "/etc/opennebula-keys"
	// The keys of the Keys Secret: the first server's one_key (oned encrypts
	// ENCRYPTED_ATTR values with it: the replicated database is readable only with it),
	// FireEdge's key, and the secret of serveradmin, whose login OneFlow, OneGate and
	// FireEdge make from var/.one/*_auth (internal/oned/serveradmin.go).
	OneKeyKey      = "one_key"
	FireEdgeKeyKey = "fireedge_key"
	ServerAdminKey = "serveradmin"

	// Placeholders the wrapper fills in: the server's ID, and the directory it runs from
	// (the ConfigMap's mount in the pod, a test's directory otherwise).
	serverIDPlaceholder  = "@SERVER_ID@"
	configDirPlaceholder = "@CONFIG_DIR@"
)

// SeedInitContainer is the frontend pod's seed init container in a zone (seedDatabase):
// a joining server waits in it for its ID; its message says when it reseeded a lost
// database (ReseededMessage).
const SeedInitContainer = "seed-database"

// SeedState is the state of pod's seed init container, nil before the kubelet reports it.
func SeedState(pod *corev1.Pod) *corev1.ContainerState {
	for _, cs := range pod.Status.InitContainerStatuses {
		if cs.Name == SeedInitContainer {
			return &cs.State
		}
	}
	return nil
}

// RaftRecord reads the record ConfigMap (NamesFor(..).RaftServers): the server IDs by pod
// name, as the operator wrote them, and the seed source (SeedFromKey).
func RaftRecord(cm *corev1.ConfigMap) (ids map[string]int, seedFrom string, err error) {
	ids = map[string]int{}
	if cm == nil {
		return ids, "", nil
	}
	for k, v := range cm.Data {
		if k == SeedFromKey {
			seedFrom = v
			continue
		}
		id, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, "", fmt.Errorf("ConfigMap %s: %s holds %q, not a server ID", cm.Name, k, v)
		}
		ids[k] = id
	}
	return ids, seedFrom, nil
}

// The image's entry point and command (docs/opennebula.md, the image contract): in a zone
// the start wrapper is the container's command and runs them after its own work.
const ImageEntrypoint = "/entrypoint.sh"

// ImageCommand is the image's CMD: supervisord runs oned, FireEdge, OneFlow and OneGate.
var ImageCommand = []string{"supervisord", "-n", "-c", "/etc/supervisor/supervisord.conf"}

// RaftTiming are oned's RAFT settings. The values are oned.conf's defaults in 7.2
// (share/etc/oned.conf): written out so that every server of a zone has the same, whatever
// its image ships.
type RaftTiming struct {
	LimitPurge, LogRetention, LogPurgeTimeoutSeconds       int
	ElectionTimeoutMS, BroadcastTimeoutMS, XMLRPCTimeoutMS int
}

// DefaultRaftTiming are OpenNebula 7.2's defaults.
var DefaultRaftTiming = RaftTiming{
	LimitPurge: 100000, LogRetention: 250000, LogPurgeTimeoutSeconds: 60,
	ElectionTimeoutMS: 5000, BroadcastTimeoutMS: 500, XMLRPCTimeoutMS: 1000,
}

// RaftConf is the oned.conf fragment every server of a frontend gets: identical on all of
// them but for SERVER_ID, which the wrapper fills in (-1, solo, until the operator records
// the server's ID). The hooks start OneFlow and OneGate on the leader only: they are not
// HA-aware (OpenNebula's share/hooks/raft/vip.sh does the same with systemd). oned runs
// the follower hook at start and on losing leadership, the leader hook on winning an
// election (RaftManager in src/raft/RaftManager.cc); a command with an absolute path is
// run as is (ExecuteHook in src/hm/ExecuteHook.cc), its arguments split at spaces.
func RaftConf(t RaftTiming) string {
	var b strings.Builder
	fmt.Fprintf(&b, `FEDERATION = [
    MODE             = "STANDALONE",
    ZONE_ID          = %d,
    SERVER_ID        = %s,
    MASTER_ONED      = "",
    MASTER_ONED_GRPC = ""
]

RAFT = [
    LIMIT_PURGE          = %d,
    LOG_RETENTION        = %d,
    LOG_PURGE_TIMEOUT    = %d,
    ELECTION_TIMEOUT_MS  = %d,
    BROADCAST_TIMEOUT_MS = %d,
    XMLRPC_TIMEOUT_MS    = %d
]
`, raft.ZoneID, serverIDPlaceholder, t.LimitPurge, t.LogRetention, t.LogPurgeTimeoutSeconds,
		t.ElectionTimeoutMS, t.BroadcastTimeoutMS, t.XMLRPCTimeoutMS)
	for _, h := range []struct{ attr, role string }{{"RAFT_LEADER_HOOK", "leader"}, {"RAFT_FOLLOWER_HOOK", "follower"}} {
		fmt.Fprintf(&b, `
%s = [
    COMMAND   = "%s/%s",
    ARGUMENTS = "%s"
]
`, h.attr, configDirPlaceholder, RaftHookKey, h.role)
	}
	return b.String()
}

// StartWrapper is the frontend container's command in a zone; its arguments are the
// image's entry point and command, which it runs last (the entry point is kept, and its
// edits of oned.conf, the DB block, leave the wrapper's alone). It reads the server's ID from RaftServersDir by pod name: none recorded and no zone
// formed (the directory empty) is a solo server; none recorded in a formed zone is a
// server joining, which waits until the operator has added it on the leader and recorded
// the ID oned gave. It then replaces oned.conf's FEDERATION, RAFT and RAFT_*_HOOK blocks
// with RaftConf, and, in a zone, lets the hooks start OneFlow and OneGate on the leader
// only, before running its arguments.
//
// The wrapper then runs the image's entry point (its first argument) with, as the
// command, itself again with --after-entrypoint: that second stage puts the server's
// var/.one in order (the entry point rewrites it, see serverKeys), then runs the image's
// command.
func StartWrapper() string {
	return `#!/bin/sh
# Start wrapper of an OpenNebula frontend server, written by opennebula-operator.
set -eu
` + serverKeys + `
if [ "${1:-}" = --after-entrypoint ]; then
  shift
  server_keys
  exec "$@"
fi

` + serverDatabaseName + `here=$(cd "$(dirname "$0")" && pwd)
conf=${ONED_CONF:-/etc/one/oned.conf}
servers=${RAFT_SERVERS_DIR:-` + RaftServersDir + `}
name=${POD_NAME:-$(hostname)}
supervisor=${SUPERVISOR_CONF_DIR:-/etc/supervisor}
marker="# Raft HA settings of opennebula-operator (start-oned.sh); everything below is rewritten at each start."

server_id=-1
if [ -f "$servers/$name" ]; then
  server_id=$(cat "$servers/$name")
elif [ -n "$(ls "$servers" 2>/dev/null)" ]; then
  echo "start-oned: $name joins a formed zone: waiting for the operator to add it and record its server ID"
  until [ -f "$servers/$name" ]; do sleep 1; done
  server_id=$(cat "$servers/$name")
fi
case $server_id in
  -1|[0-9]|[0-9][0-9]|[0-9][0-9][0-9]) ;;
  *) echo "start-oned: $servers/$name holds '$server_id', not a server ID" >&2; exit 1 ;;
esac
echo "start-oned: $name starts with SERVER_ID $server_id"

# The image's blocks go (a block ends at the line holding its ']'), and so does what an
# earlier start appended; ours are appended after a marker line.
awk -v frag="$here/` + RaftConfKey + `" -v id="$server_id" -v dir="$here" -v marker="$marker" '
  $0 == marker { exit }
  /^[ \t]*(FEDERATION|RAFT|RAFT_LEADER_HOOK|RAFT_FOLLOWER_HOOK)[ \t]*=/ { if ($0 !~ /\]/) skip = 1; next }
  skip { if ($0 ~ /\]/) skip = 0; next }
  { print }
  END {
    print marker
    while ((getline line < frag) > 0) {
      gsub(/` + serverIDPlaceholder + `/, id, line)
      gsub(/` + configDirPlaceholder + `/, dir, line)
      print line
    }
  }' "$conf" > "$conf.operator"
cat "$conf.operator" > "$conf"
rm -f "$conf.operator"

# In a zone OneFlow and OneGate run on the leader only: the hooks (run by oned as
# oneadmin) start and stop them through supervisord, which must let oneadmin in.
if [ "$server_id" -ge 0 ] && [ -d "$supervisor" ]; then
  for f in "$supervisor"/conf.d/*.conf; do
    [ -f "$f" ] || continue
    awk '/^\[/ { ha = ($0 ~ /^\[program:(oneflow|onegate)\]/) } ha && /^autostart[ \t]*=/ { $0 = "autostart=false" } { print }' "$f" > "$f.operator"
    cat "$f.operator" > "$f"
    rm -f "$f.operator"
  done
  if [ -f "$supervisor/supervisord.conf" ]; then
    sed -i '/^\[unix_http_server\]/,/^\[/ { s/^chmod=.*/chmod=0770/; /^chown=/d }' "$supervisor/supervisord.conf"
    sed -i '/^\[unix_http_server\]/a chown=root:oneadmin' "$supervisor/supervisord.conf"
  fi
fi

export RAFT_SERVER_ID="$server_id"
entrypoint=$1
shift
exec "$entrypoint" sh "$0" --after-entrypoint "$@"
`
}

// serverKeys is the wrapper's second stage, run after the image's entry point and before
// oned starts: a frontend on MySQL runs with its keys (KeysDir), whatever its volume
// held. The seed image's entry point (docker/entrypoint.sh of the seed chart) finds no
// SQLite database on MySQL, takes every start for a first boot, removes var/.one's
// one_key, fireedge_key and auth files, and writes oneflow_auth and onegate_auth as
// "serveradmin:$ONEADMIN_PASSWORD". Left so, oned would make a new one_key at each
// restart (OpenNebulaTemplate::load_key, src/template/OpenNebulaTemplate.cc), leaving what
// it encrypted unreadable, and the services would log in with a password serveradmin
// does not have. So:
//   - once the operator has kept the keys (after the first server's first start, see
//     internal/raft ShareKeys), every server gets one_key, fireedge_key and the four
//     service auth files from them;
//   - a server of a zone (an ID recorded) waits for them while the Secret's volume is
//     still empty: it must never run with keys of its own;
//   - a solo server before that (its first start) keeps what it has, except service auth
//     files holding exactly the entry point's text: oned refuses to bootstrap a database
//     while any auth file exists (UserPool::UserPool, src/um/UserPool.cc), and that text
//     matches no password oned made.
//
// The wrapper runs as root in the pod (the image's entry point needs it) and hands the
// files to oneadmin, who runs oned.
var serverKeys = `server_keys() {
  keys=${KEYS_DIR:-` + KeysDir + `}
  one=${ONE_LOCATION:+$ONE_LOCATION/var}
  one=${one:-/var/lib/one}/.one
  auth="sunstone_auth onegate_auth oneflow_auth oneform_auth"
  mkdir -p "$one"
  kept() { [ -s "$keys/` + OneKeyKey + `" ] && [ -s "$keys/` + FireEdgeKeyKey + `" ] && [ -s "$keys/` + ServerAdminKey + `" ]; }
  if ! kept && [ "${RAFT_SERVER_ID:--1}" -lt 0 ]; then
    for f in $auth; do
      if [ -f "$one/$f" ] && [ "$(cat "$one/$f")" = "serveradmin:${ONEADMIN_PASSWORD:-}" ]; then
        rm -f "$one/$f"
      fi
    done
    echo "start-oned: no keys kept yet: oned keeps or makes its own"
    return 0
  fi
  until kept; do
    echo "start-oned: waiting for the zone's keys in $keys"
    sleep 2
  done
  cp "$keys/` + OneKeyKey + `" "$one/one_key"
  cp "$keys/` + FireEdgeKeyKey + `" "$one/fireedge_key"
  secret=$(cat "$keys/` + ServerAdminKey + `")
  for f in $auth; do
    printf 'serveradmin:%s\n' "$secret" > "$one/$f"
  done
  for f in one_key fireedge_key $auth; do
    chmod 600 "$one/$f"
    if [ "$(id -u)" = 0 ]; then
      chown ` + oneadminIDs + ` "$one/$f"
    fi
  done
  echo "start-oned: var/.one holds the frontend's keys"
}
`

// RaftHook is run by oned as RAFT_LEADER_HOOK ("leader") and RAFT_FOLLOWER_HOOK
// ("follower").
func RaftHook() string {
	return `#!/bin/sh
# Raft state hook of an OpenNebula frontend server, written by opennebula-operator.
# OneFlow and OneGate are not HA-aware: they run on the leader only.
case "${1:-}" in
  leader) exec supervisorctl start oneflow onegate ;;
  follower) exec supervisorctl stop oneflow onegate ;;
  *) echo "raft-hook: unknown role '${1:-}'" >&2; exit 1 ;;
esac
`
}

// SeedDatabase is the seed init container of a server of a zone: OpenNebula's HA procedure
// gives every server its own database, a copy of the leader's (docs/opennebula.md). A
// server that joins waits until the operator has added it to the zone (its ID recorded:
// the copy must hold the addserver's own log entry, see internal/raft), then replaces its
// database with a consistent dump of the leader's, taken while the leader serves
// (mariadb-dump --single-transaction). A member whose database is empty (its volume was
// lost) is copied the same way and says so in its termination message, for the operator
// to tell the leader (one.zone.resetserver). Anything else starts on its own database.
// The database's credentials come from DB_USER/DB_PASSWORD, the same on every server.
func SeedDatabase() string {
	return `#!/bin/sh
# Seed init container of an OpenNebula frontend server, written by opennebula-operator.
set -eu
` + serverDatabaseName + `servers=${RAFT_SERVERS_DIR:-` + RaftServersDir + `}
name=${POD_NAME:-$(hostname)}
termination=${TERMINATION_LOG:-/dev/termination-log}
work=${SEED_WORK_DIR:-/tmp}

if [ -z "$(ls "$servers" 2>/dev/null)" ]; then
  echo "seed-db: no zone formed: $name starts on its own database"
  exit 0
fi
joining=no
if [ ! -f "$servers/$name" ]; then
  echo "seed-db: $name joins the zone: waiting for the operator to add it"
  until [ -f "$servers/$name" ]; do sleep 1; done
  joining=yes
fi

# The password goes through the environment, never the command line.
export MYSQL_PWD="$DB_PASSWORD"
own() { mariadb -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" "$@"; }
until own -e 'SELECT 1' >/dev/null 2>&1; do
  echo "seed-db: waiting for its database on $DB_HOST:$DB_PORT"
  sleep 2
done
tables=$(own -N -B -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$DB_NAME'")
if [ "$joining" = no ] && [ "$tables" != 0 ]; then
  echo "seed-db: $name keeps its database ($tables tables)"
  exit 0
fi

# The value may lack a final newline: read then fails though it has read the line.
read -r src_host src_port src_db < "$servers/` + SeedFromKey + `" || [ -n "${src_db:-}" ]
echo "seed-db: copying the leader's database $src_db on $src_host:$src_port into $DB_NAME on $DB_HOST:$DB_PORT"
mariadb-dump -h "$src_host" -P "$src_port" -u "$DB_USER" --single-transaction --quick --skip-lock-tables \
  --routines --triggers --add-drop-table "$src_db" > "$work/seed.sql"
# Every table of the dump is dropped and created again: no right beyond the database's own
# is needed (an external server's user may not create databases).
own "$DB_NAME" < "$work/seed.sql"
rm -f "$work/seed.sql"
if [ "$joining" = no ]; then
  echo "` + ReseededMessage + `" > "$termination"
fi
echo "seed-db: $name has the leader's database"
`
}

// ReseededMessage is what the seed init container's termination message says when it
// replaced a member's lost database: the leader must be told.
const ReseededMessage = "reseeded"

// oneadminIDs is "uid:gid" of oneadmin in the image.
var oneadminIDs = strconv.FormatInt(OneadminUID, 10) + ":" + strconv.FormatInt(OneadminGID, 10)

// seedDatabase is the seed init container of a zone's server on MySQL/MariaDB (SQLite
// is refused for HA at admission): SeedDatabase run with the MariaDB image's client tools,
// the server's own database in its environment.
func seedDatabase(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) []corev1.Container {
	if !HighAvailability(fe, in) || DatabaseBackend(fe) == opennebulav1alpha1.DatabaseSQLite {
		return nil
	}
	return []corev1.Container{{
		Name:            SeedInitContainer,
		Image:           mariadbImage(fe),
		ImagePullPolicy: fe.Spec.ImagePullPolicy,
		Command:         []string{"sh", configMountDir + "/" + SeedDatabaseKey},
		Env:             append([]corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name")}, databaseEnv(fe, in)...),
		VolumeMounts:    raftMounts(),
	}}
}

// RaftFiles are the ConfigMap entries a server of a zone needs, by key.
func RaftFiles() map[string]string {
	return map[string]string{
		StartWrapperKey: StartWrapper(),
		RaftConfKey:     RaftConf(DefaultRaftTiming),
		RaftHookKey:     RaftHook(),
		SeedDatabaseKey: SeedDatabase(),
	}
}
