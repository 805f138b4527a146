// Package admitted fuzzes admission against the real API server (envtest): every frontend
// the CRD admits renders children the API server accepts, or, when it does not, the
// frontend sets a field the CRD cannot fully check and the refusal names that field (what
// the operator reports as Degraded InvalidSpec before writing anything).
//
// Run longer with:
//
//	make envtest-assets
//	KUBEBUILDER_ASSETS=$(bin/setup-envtest use -i 1.37.2 -p path) \
//	  go test ./test/admitted -run '^$' -fuzz FuzzAdmittedFrontendsRenderValidChildren -fuzztime 5m -parallel 1
package admitted

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	opennebulav1alpha1 "github.com/opennebula-operator/opennebula-operator/api/v1alpha1"
	"github.com/opennebula-operator/opennebula-operator/internal/builder"
	"github.com/opennebula-operator/opennebula-operator/internal/testenv"
)

const namespace = "fuzz"

var k8sClient client.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// kubeconfigEnv carries the API server of the process that started it to the fuzzing
// workers, which the fuzzing engine starts (and may kill) as child processes: a worker
// starts no API server of its own, so none is left running when one is killed.
const kubeconfigEnv = "ADMITTED_TEST_KUBECONFIG"

func run(m *testing.M) int {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(opennebulav1alpha1.AddToScheme(scheme))
	if path := os.Getenv(kubeconfigEnv); path != "" {
		kc, err := os.ReadFile(path)
		if err == nil {
			var cfg *rest.Config
			if cfg, err = clientcmd.RESTConfigFromKubeConfig(kc); err == nil {
				cfg.QPS = -1 // no client-side rate limit: the fuzzer's speed is the API server's
				k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}
	env, err := testenv.Start(os.Getenv("KUBEBUILDER_ASSETS"))
	defer func() { _ = env.Stop() }()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	if k8sClient, err = client.New(env.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := k8sClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	user, err := env.AddUser(envtest.User{Name: "fuzz", Groups: []string{"system:masters"}}, nil)
	var kc []byte
	if err == nil {
		kc, err = user.KubeConfig()
	}
	dir, derr := os.MkdirTemp("", "admitted")
	if err == nil {
		err = derr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Setenv(kubeconfigEnv, path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// FuzzAdmittedFrontendsRenderValidChildren draws frontends from pools of valid, edge and
// invalid values of every kind of field (the bytes choose), sends each to admission (a
// server-side dry run), and for each one admitted sends its children and the pod its
// StatefulSet would create as dry runs too.
func FuzzAdmittedFrontendsRenderValidChildren(f *testing.F) {
	for _, seed := range []string{"", "\x00", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8",
		strings.Repeat("\x01", 64), strings.Repeat("\x02\x07", 64), strings.Repeat("\x05\x03\x01", 64)} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec := drawSpec(&picker{data: data})
		raw, err := json.Marshal(map[string]any{
			"apiVersion": "opennebula.io/v1alpha1", "kind": "OpenNebulaFrontend",
			"metadata": map[string]any{"name": "one", "namespace": namespace}, "spec": spec,
		})
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := k8sClient.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("admission answered with something other than a refusal: %v", err)
			}
			return // refused at admission: what admission is for
		}
		// The admitted object, with the schema's defaults, as the operator reads it.
		fe := &opennebulav1alpha1.OpenNebulaFrontend{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, fe); err != nil {
			t.Fatalf("the admitted frontend does not decode: %v", err)
		}
		children, err := builder.WithGeneratedSecrets(fe, builder.Build(fe, builder.Options{}, builder.Inputs{LoadBalancerAddress: "192.0.2.1"}), true, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range children {
			if sts, ok := c.(*appsv1.StatefulSet); ok {
				children = append(children, builder.ValidationPod(sts))
			}
		}
		for _, child := range children {
			err := k8sClient.Create(ctx, child, client.DryRunAll)
			if _, isPod := child.(*corev1.Pod); err == nil || (isPod && !apierrors.IsInvalid(err)) {
				// A pod's admission also looks up what it references (a PriorityClass, a
				// ServiceAccount): the operator checks those as references, not content.
				continue
			}
			unchecked := builder.UncheckedFields(fe)
			if len(unchecked) == 0 {
				t.Fatalf("admitted frontend %s sets no field the CRD cannot check, but renders %T %s the API server refuses: %v",
					raw, child, child.GetName(), err)
			}
			if !refusalNamesAField(fe, child, err) {
				t.Fatalf("admitted frontend %s renders %T %s the API server refuses, and no cause maps to a frontend field "+
					"(the operator's InvalidSpec would not name it): %v", raw, child, child.GetName(), err)
			}
		}
	})
}

func refusalNamesAField(fe *opennebulav1alpha1.OpenNebulaFrontend, child client.Object, err error) bool {
	status, ok := err.(apierrors.APIStatus)
	if !ok || !apierrors.IsInvalid(err) || status.Status().Details == nil {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		if builder.SpecField(fe, child, c.Field) != "" {
			return true
		}
	}
	return false
}
