package builder

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
)

const (
	// MariaDBContainerName is the managed database's container.
	MariaDBContainerName = "mariadb"
	// mariadbPortName names 3306 on the MariaDB container and Service.
	mariadbPortName = "mysql"
	// mariadbUID is the mysql user of the official image, which owns /var/lib/mysql.
	mariadbUID int64 = 999
	// ValueComponentDatabase marks the managed database's objects.
	ValueComponentDatabase = "database"
)

// MariaDBSelectorLabels select the managed database's pod (never the frontend's).
func MariaDBSelectorLabels(fe *opennebulav1alpha1.OpenNebulaFrontend) map[string]string {
	return map[string]string{
		LabelName:      "mariadb",
		LabelFrontend:  NamesFor(fe.Name).FrontendLabel,
		LabelComponent: ValueComponentDatabase,
	}
}

func mariadbLabels(fe *opennebulav1alpha1.OpenNebulaFrontend) map[string]string {
	return mergeMaps(MariaDBSelectorLabels(fe), map[string]string{LabelPartOf: ValuePartOf, LabelManagedBy: ValueManagedBy})
}

// MariaDBService is the managed database's in-cluster address.
func MariaDBService(fe *opennebulav1alpha1.OpenNebulaFrontend) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   serviceType,
		ObjectMeta: metav1.ObjectMeta{Name: NamesFor(fe.Name).MariaDB, Namespace: fe.Namespace, Labels: mariadbLabels(fe)},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: MariaDBSelectorLabels(fe),
			Ports: []corev1.ServicePort{{
				Name: mariadbPortName, Port: opennebulav1alpha1.DefaultDatabasePort, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromString(mariadbPortName),
			}},
		},
	}
}

// MariaDBStatefulSet runs the managed database with READ COMMITTED isolation and room
// for oned's and monitord's connections, on its own volume.
//
// In a Raft zone it runs one MariaDB per server (OpenNebula's HA keeps a database per
// server, never a shared one), each on its own volume: pod <mariadb>-<k> is server k's,
// reached through its own Service (MariaDBServerService).
func MariaDBStatefulSet(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) *appsv1.StatefulSet {
	names := NamesFor(fe.Name)
	spec := ptr.Deref(fe.Spec.Database.MariaDB, opennebulav1alpha1.ManagedMariaDBSpec{})
	secret := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: names.MariaDB}, Key: key,
		}}
	}
	probe := func(period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
				Command: []string{"healthcheck.sh", "--connect", "--innodb_initialized"},
			}},
			PeriodSeconds: period, TimeoutSeconds: 5, FailureThreshold: failures,
		}
	}
	claim := corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: names.DataVolume, Labels: mariadbLabels(fe)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: spec.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: quantityOr(spec.Size, opennebulav1alpha1.DefaultMariaDBSize),
			}},
		},
	}
	return &appsv1.StatefulSet{
		TypeMeta:   statefulSetType,
		ObjectMeta: metav1.ObjectMeta{Name: names.MariaDB, Namespace: fe.Namespace, Labels: mariadbLabels(fe)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    new(mariadbReplicas(fe, in)),
			ServiceName: names.MariaDB,
			Selector:    &metav1.LabelSelector{MatchLabels: MariaDBSelectorLabels(fe)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: mariadbLabels(fe)},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: new(false),
					ImagePullSecrets:             fe.Spec.ImagePullSecrets,
					SecurityContext:              &corev1.PodSecurityContext{FSGroup: new(mariadbUID)},
					Containers: []corev1.Container{{
						Name:            MariaDBContainerName,
						Image:           mariadbImage(fe),
						ImagePullPolicy: fe.Spec.ImagePullPolicy,
						Args:            []string{"--transaction-isolation=READ-COMMITTED", "--max-connections=200"},
						Env: []corev1.EnvVar{
							{Name: "MARIADB_ROOT_PASSWORD", ValueFrom: secret(MariaDBRootKey)},
							{Name: "MARIADB_DATABASE", Value: opennebulav1alpha1.DefaultDatabaseName},
							{Name: "MARIADB_USER", Value: opennebulav1alpha1.DefaultDatabaseUser},
							{Name: "MARIADB_PASSWORD", ValueFrom: secret(MariaDBPasswordKey)},
						},
						Ports: []corev1.ContainerPort{{
							Name: mariadbPortName, ContainerPort: opennebulav1alpha1.DefaultDatabasePort, Protocol: corev1.ProtocolTCP,
						}},
						VolumeMounts:   []corev1.VolumeMount{{Name: names.DataVolume, MountPath: "/var/lib/mysql"}},
						Resources:      spec.Resources,
						ReadinessProbe: probe(10, 3),
						LivenessProbe:  probe(20, 6),
					}},
				},
			},
			VolumeClaimTemplates:                 []corev1.PersistentVolumeClaim{claim},
			PersistentVolumeClaimRetentionPolicy: pvcRetention(fe),
		},
	}
}

// mariadbImage is the managed MariaDB's image; the seed init container runs its client
// tools too.
func mariadbImage(fe *opennebulav1alpha1.OpenNebulaFrontend) string {
	return cmp.Or(ptr.Deref(fe.Spec.Database.MariaDB, opennebulav1alpha1.ManagedMariaDBSpec{}).Image, opennebulav1alpha1.DefaultMariaDBImage)
}

// mariadbReplicas: one database per frontend server.
func mariadbReplicas(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) int32 {
	if HighAvailability(fe, in) {
		return statefulSetReplicas(fe, in)
	}
	return 1
}

// MariaDBServerServices give each server of a zone the address of its own MariaDB pod
// (<mariadb>-<k>, selected by the StatefulSet's pod-name label): the MariaDB StatefulSet's
// Service selects them all, and its pods have no DNS names of their own (it is not
// headless, and a StatefulSet's Service cannot change). One per server the user asks for
// or the zone still has.
func MariaDBServerServices(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) []*corev1.Service {
	if !HighAvailability(fe, in) || DatabaseBackend(fe) != opennebulav1alpha1.DatabaseMariaDB {
		return nil
	}
	n := max(ptr.Deref(fe.Spec.Replicas, 1), in.Raft.StatefulSetReplicas)
	out := make([]*corev1.Service, 0, n)
	for k := range n {
		svc := MariaDBService(fe)
		svc.Name = mariadbServerName(fe, int(k))
		svc.Spec.Selector = mergeMaps(MariaDBSelectorLabels(fe), map[string]string{appsv1.StatefulSetPodNameLabel: svc.Name})
		out = append(out, svc)
	}
	return out
}

// mariadbServerName names server k's MariaDB pod, and the Service in front of it.
func mariadbServerName(fe *opennebulav1alpha1.OpenNebulaFrontend, k int) string {
	return NamesFor(fe.Name).MariaDB + "-" + strconv.Itoa(k)
}

// The environment the image's entry point reads for the database.
const (
	envDBBackend = "DB_BACKEND"
	envDBHost    = "DB_HOST"
	envDBPort    = "DB_PORT"
)

// envPodIndex is the pod's StatefulSet ordinal, from the label the StatefulSet controller
// puts on its pods (apps.kubernetes.io/pod-index, GA in Kubernetes 1.32).
const envPodIndex = "POD_INDEX"

// databaseEnv is what the image's entry point reads to configure oned's DB block. In a
// Raft zone every server has its own database: the managed MariaDB's pod of the same
// ordinal; on an external server, database <name> for the first server and
// <name>_<ordinal> for the others (DB_NAME_PER_SERVER: the start wrapper and the seed
// script derive it, serverDatabaseName).
func databaseEnv(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs) []corev1.EnvVar {
	env := databaseEnvSolo(fe)
	if !HighAvailability(fe, in) || DatabaseBackend(fe) == opennebulav1alpha1.DatabaseSQLite {
		return env
	}
	if DatabaseBackend(fe) == opennebulav1alpha1.DatabaseMariaDB {
		for i := range env {
			if env[i].Name == envDBHost {
				// Expanded by the kubelet from POD_INDEX, defined before it.
				env[i].Value = NamesFor(fe.Name).MariaDB + "-$(" + envPodIndex + ")"
			}
		}
	} else {
		env = append(env, corev1.EnvVar{Name: envDBNamePerServer, Value: "true"})
	}
	// POD_INDEX first: the kubelet expands $(POD_INDEX) only in variables defined after it.
	return slices.Insert(env, 0, fieldEnv(envPodIndex, "metadata.labels['"+appsv1.PodIndexLabel+"']"))
}

// ServerDatabase is where server k of a zone keeps its database: the managed MariaDB's
// pod k (through its own Service), or on an external server <name> for server 0 and
// <name>_<k> for the others, as serverDatabaseName derives it in the pods. The operator
// records the leader's as the seed source ("host port name", SeedFromKey).
func ServerDatabase(fe *opennebulav1alpha1.OpenNebulaFrontend, k int) (host string, port int, name string) {
	if DatabaseBackend(fe) == opennebulav1alpha1.DatabaseExternal {
		ext := ptr.Deref(fe.Spec.Database.External, opennebulav1alpha1.ExternalDatabaseSpec{})
		name = cmp.Or(ext.Name, opennebulav1alpha1.DefaultDatabaseName)
		if k != 0 {
			name += "_" + strconv.Itoa(k)
		}
		return ext.Host, int(cmp.Or(ext.Port, opennebulav1alpha1.DefaultDatabasePort)), name
	}
	return mariadbServerName(fe, k), opennebulav1alpha1.DefaultDatabasePort, opennebulav1alpha1.DefaultDatabaseName
}

// SeedSource is the seed-from value for the leader at ordinal k.
func SeedSource(fe *opennebulav1alpha1.OpenNebulaFrontend, k int) string {
	host, port, name := ServerDatabase(fe, k)
	return fmt.Sprintf("%s %d %s", host, port, name)
}

// envDBNamePerServer tells the scripts to derive the server's database name.
const envDBNamePerServer = "DB_NAME_PER_SERVER"

// serverDatabaseName is the shell both the start wrapper and the seed script run to
// derive a server's external database name: <name> for the first server (a frontend
// that grows from one replica keeps its database), <name>_<ordinal> for the others.
const serverDatabaseName = `if [ "${DB_NAME_PER_SERVER:-}" = true ] && [ "${POD_INDEX:-0}" != 0 ]; then
  DB_NAME="${DB_NAME}_${POD_INDEX}"
  export DB_NAME
fi
`

func databaseEnvSolo(fe *opennebulav1alpha1.OpenNebulaFrontend) []corev1.EnvVar {
	switch DatabaseBackend(fe) {
	case opennebulav1alpha1.DatabaseSQLite:
		return []corev1.EnvVar{{Name: envDBBackend, Value: "sqlite"}}
	case opennebulav1alpha1.DatabaseExternal:
		ext := ptr.Deref(fe.Spec.Database.External, opennebulav1alpha1.ExternalDatabaseSpec{})
		return []corev1.EnvVar{
			{Name: envDBBackend, Value: "mysql"},
			{Name: envDBHost, Value: ext.Host},
			{Name: envDBPort, Value: strconv.Itoa(int(cmp.Or(ext.Port, opennebulav1alpha1.DefaultDatabasePort)))},
			{Name: "DB_NAME", Value: cmp.Or(ext.Name, opennebulav1alpha1.DefaultDatabaseName)},
			{Name: "DB_USER", Value: cmp.Or(ext.User, opennebulav1alpha1.DefaultDatabaseUser)},
			secretKeyEnv("DB_PASSWORD", ext.PasswordSecretRef),
		}
	default:
		names := NamesFor(fe.Name)
		return []corev1.EnvVar{
			{Name: envDBBackend, Value: "mysql"},
			{Name: envDBHost, Value: names.MariaDB},
			{Name: envDBPort, Value: strconv.Itoa(opennebulav1alpha1.DefaultDatabasePort)},
			{Name: "DB_NAME", Value: opennebulav1alpha1.DefaultDatabaseName},
			{Name: "DB_USER", Value: opennebulav1alpha1.DefaultDatabaseUser},
			secretKeyEnv("DB_PASSWORD", opennebulav1alpha1.SecretKeySelector{Name: names.MariaDB, Key: MariaDBPasswordKey}),
		}
	}
}

// waitForDatabase holds the frontend back until the database accepts connections, as the
// Helm chart's init container did: oned exits when it cannot connect at start.
func waitForDatabase(fe *opennebulav1alpha1.OpenNebulaFrontend, in Inputs, image string) []corev1.Container {
	if DatabaseBackend(fe) == opennebulav1alpha1.DatabaseSQLite {
		return nil
	}
	var env []corev1.EnvVar
	for _, e := range databaseEnv(fe, in) {
		if e.Name == envDBHost || e.Name == envDBPort || e.Name == envPodIndex {
			env = append(env, e)
		}
	}
	return []corev1.Container{{
		Name:            "wait-for-database",
		Image:           image,
		ImagePullPolicy: fe.Spec.ImagePullPolicy,
		Command: []string{"bash", "-c",
			`until (exec 3<>"/dev/tcp/${DB_HOST}/${DB_PORT}") 2>/dev/null; do echo "waiting for ${DB_HOST}:${DB_PORT}"; sleep 2; done`},
		Env: env,
	}}
}
