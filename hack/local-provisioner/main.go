// Command local-provisioner is the local cluster's storage: a default StorageClass and a
// provisioner that creates a hostPath PersistentVolume for each claim, so that the
// frontend's volumeClaimTemplate binds and its pod schedules as on a real cluster.
// kwok nodes run no containers, so the paths only exist to make the PVs genuine.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

const (
	provisionerName  = "opennebula-operator.local/hostpath"
	storageClassName = "local-hostpath"
)

type hostPathProvisioner struct{ root string }

func (p *hostPathProvisioner) Provision(_ context.Context, opts controller.ProvisionOptions) (*corev1.PersistentVolume, controller.ProvisioningState, error) {
	dir := filepath.Join(p.root, opts.PVName)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, controller.ProvisioningFinished, err
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: opts.PVName},
		Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: *opts.StorageClass.ReclaimPolicy,
			AccessModes:                   opts.PVC.Spec.AccessModes,
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: opts.PVC.Spec.Resources.Requests[corev1.ResourceStorage]},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: ptr.To(corev1.HostPathDirectoryOrCreate)},
			},
		},
	}
	if opts.SelectedNodeName != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{opts.SelectedNodeName},
			}}}},
		}}
	}
	return pv, controller.ProvisioningFinished, nil
}

func (p *hostPathProvisioner) Delete(_ context.Context, pv *corev1.PersistentVolume) error {
	if pv.Spec.HostPath == nil || filepath.Dir(pv.Spec.HostPath.Path) != p.root {
		return fmt.Errorf("PV %s is not one of ours", pv.Name)
	}
	return os.RemoveAll(pv.Spec.HostPath.Path)
}

// ensureStorageClass creates the default StorageClass that points claims at us.
func ensureStorageClass(ctx context.Context, cs kubernetes.Interface) error {
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        storageClassName,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:       provisionerName,
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
		// A directory has no size: growing a claim only records the new size, which lets
		// the operator's volume growth run here as on a real cluster.
		AllowVolumeExpansion: new(true),
	}
	_, err := cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
	root := flag.String("root", filepath.Join(os.TempDir(), "opennebula-operator-volumes"), "directory that holds the volumes")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "local-provisioner:", err)
		os.Exit(1)
	}
	// No client-side rate limit, like the cluster's own controllers in the benchmark
	// (kwokctl --disable-qps-limits): client-go's default of 5 requests per second made
	// this provisioner, not the system under test, the slowest step of every rollout.
	cfg.QPS = -1
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := ensureStorageClass(ctx, cs); err != nil {
		fmt.Fprintln(os.Stderr, "local-provisioner: creating the StorageClass:", err)
		os.Exit(1)
	}
	absRoot, err := filepath.Abs(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "local-provisioner:", err)
		os.Exit(1)
	}
	pc := controller.NewProvisionController(ctx, cs, provisionerName, &hostPathProvisioner{root: absRoot},
		controller.LeaderElection(false))
	fmt.Println("local-provisioner: serving StorageClass", storageClassName)
	go resizeClaims(ctx, cs)
	pc.Run(ctx)
}

// resizeClaims plays the external resizer and the kubelet for the claims of our
// StorageClass: a directory has no size, so growing a bound claim only records the new
// capacity on its volume and in its status, as a driver's (online) expansion would.
func resizeClaims(ctx context.Context, cs kubernetes.Interface) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		claims, err := cs.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for i := range claims.Items {
			pvc := &claims.Items[i]
			want, have := pvc.Spec.Resources.Requests[corev1.ResourceStorage], pvc.Status.Capacity[corev1.ResourceStorage]
			if ptr.Deref(pvc.Spec.StorageClassName, "") != storageClassName || pvc.Status.Phase != corev1.ClaimBound || have.Cmp(want) >= 0 {
				continue
			}
			if err := resize(ctx, cs, pvc, want); err != nil {
				fmt.Fprintf(os.Stderr, "local-provisioner: resizing %s/%s: %v\n", pvc.Namespace, pvc.Name, err)
			}
		}
	}
}

func resize(ctx context.Context, cs kubernetes.Interface, pvc *corev1.PersistentVolumeClaim, size resource.Quantity) error {
	pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	pv.Spec.Capacity[corev1.ResourceStorage] = size
	if _, err := cs.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
		return err
	}
	pvc.Status.Capacity[corev1.ResourceStorage] = size
	pvc.Status.Conditions = nil
	_, err = cs.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
	return err
}
