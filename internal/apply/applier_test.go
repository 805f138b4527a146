package apply_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/opennebula-operator/opennebula-operator/internal/apply"
)

// These tests run the write engine against a real API server and a real label-selected
// informer cache (like the operator's), counting every request that is not a list or a
// watch (the cache's own).

const managedLabel = "test.opennebula.io/managed"

type requestLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Query().Get("watch") != "true" && isNamed(req.URL.Path) {
			l.mu.Lock()
			l.calls = append(l.calls, req.Method+" "+lastTwo(req.URL.Path))
			l.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

// isNamed: a request for one object (…/namespaces/ns/configmaps/name), not a list.
func isNamed(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	return len(parts) >= 4 && parts[len(parts)-4] == "namespaces"
}

func lastTwo(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	return strings.Join(parts[max(0, len(parts)-2):], "/")
}

func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type fixture struct {
	applier *apply.Applier
	direct  client.Client // the test's own client, not counted
	log     *requestLog
	owner   *corev1.ConfigMap
	ns      string
}

var (
	envOnce sync.Once
	envCfg  *rest.Config
	envErr  error
	scheme  = runtime.NewScheme()
)

func startEnv(t *testing.T) *rest.Config {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds and locates the API server binaries")
	}
	envOnce.Do(func() {
		_ = clientgoscheme.AddToScheme(scheme)
		env := &envtest.Environment{}
		envCfg, envErr = env.Start()
		// Stopped by TestMain once every test ran.
		stopEnv = func() { _ = env.Stop() }
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return envCfg
}

var stopEnv = func() {}

func TestMain(m *testing.M) {
	code := m.Run()
	stopEnv()
	os.Exit(code)
}

func newFixture(t *testing.T) *fixture {
	cfg := startEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := &requestLog{}
	counted := rest.CopyConfig(cfg)
	counted.Wrap(log.wrap)
	selected := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{managedLabel: "true"})}
	c, err := cache.New(counted, cache.Options{Scheme: scheme, ByObject: map[client.Object]cache.ByObject{
		&corev1.ConfigMap{}: selected, &appsv1.StatefulSet{}: selected,
	}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	cl, err := client.New(counted, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := client.New(counted, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "apply-"}}
	if err := direct.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: ns.Name}}
	if err := direct.Create(ctx, owner); err != nil {
		t.Fatal(err)
	}
	// Informers first: the cache must list (its own requests) before the counting starts.
	if err := cl.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns.Name)); err != nil {
		t.Fatal(err)
	}
	if err := cl.List(ctx, &appsv1.StatefulSetList{}, client.InNamespace(ns.Name)); err != nil {
		t.Fatal(err)
	}
	log.take()
	return &fixture{
		applier: &apply.Applier{Client: cl, APIReader: reader, Scheme: scheme, Immutable: map[schema.GroupKind][]string{
			{Group: "apps", Kind: "StatefulSet"}: {"spec.volumeClaimTemplates"},
		}},
		direct: direct, log: log, owner: owner, ns: ns.Name,
	}
}

func (f *fixture) configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns, Labels: map[string]string{managedLabel: "true"}},
		Data:       data,
	}
}

// statefulSet is a desired StatefulSet "db" with one claim template of size.
func (f *fixture) statefulSet(size, image string) *appsv1.StatefulSet {
	l := map[string]string{managedLabel: "true"}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: f.ns, Labels: map[string]string{managedLabel: "true", "app": "db"}},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: l}, ServiceName: "db",
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}}},
		},
	}
}

// A child that does not exist is created by the first request: no read before it.
func TestCreateReadsNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.applier.Apply(ctx, f.owner, f.configMap("new", map[string]string{"a": "1"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Change != apply.Created {
		t.Fatalf("change %v, want Created", res.Change)
	}
	if got := f.log.take(); !slices.Equal(got, []string{"PATCH configmaps/new"}) {
		t.Fatalf("requests %v, want the one create (an apply), no read", got)
	}
	if res.Live.GetUID() == "" || res.Live.GetResourceVersion() == "" {
		t.Errorf("the result is not the API server's answer: %+v", res.Live)
	}
	// At once again, before the cache may have seen it: nothing to do, nothing read.
	res, err = f.applier.Apply(ctx, f.owner, f.configMap("new", map[string]string{"a": "1"}), nil)
	if err != nil || res.Change != apply.Unchanged {
		t.Fatalf("second apply: %v %v", res.Change, err)
	}
	if got := f.log.take(); len(got) != 0 {
		t.Fatalf("requests %v on a child this process just created", got)
	}
	live := &corev1.ConfigMap{}
	if err := f.direct.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "new"}, live); err != nil {
		t.Fatal(err)
	}
	if !metav1.IsControlledBy(live, f.owner) || live.Data["a"] != "1" {
		t.Errorf("created %+v", live)
	}
	// Every field belongs to the one Apply entry of the field manager: none to an Update.
	for _, m := range live.ManagedFields {
		if m.Manager == apply.FieldManager && m.Operation != metav1.ManagedFieldsOperationApply {
			t.Errorf("field manager entry %s/%s: a later apply could not remove its fields", m.Manager, m.Operation)
		}
	}
}

// An object in the way that the cache does not hold: the create fails, the object is
// read to see whose it is, and nothing is written to it.
func TestForeignObjectInTheWayIsReportedUntouched(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: f.ns}, Data: map[string]string{"theirs": "x"}}
	if err := f.direct.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	_, err := f.applier.Apply(ctx, f.owner, f.configMap("taken", map[string]string{"a": "1"}), nil)
	if _, ok := errors.AsType[*apply.NotOwnedError](err); !ok {
		t.Fatalf("error %v, want NotOwnedError", err)
	}
	if got := f.log.take(); !slices.Equal(got, []string{"PATCH configmaps/taken", "GET configmaps/taken"}) {
		t.Fatalf("requests %v, want the refused create then one read", got)
	}
	after := &corev1.ConfigMap{}
	if err := f.direct.Get(ctx, client.ObjectKeyFromObject(foreign), after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != foreign.ResourceVersion || len(after.OwnerReferences) > 0 || after.Data["a"] != "" {
		t.Errorf("the foreign object was written to: %+v", after)
	}
}

// A field the operator stops setting is removed, and an edit is taken back.
func TestDroppedFieldIsRemovedAndDriftRestored(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.applier.Apply(ctx, f.owner, f.configMap("cm", map[string]string{"a": "1", "b": "2"}), nil); err != nil {
		t.Fatal(err)
	}
	res, err := f.applier.Apply(ctx, f.owner, f.configMap("cm", map[string]string{"a": "1"}), nil)
	if err != nil || res.Change != apply.Updated {
		t.Fatalf("%v %v", res.Change, err)
	}
	live := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: f.ns, Name: "cm"}
	if err := f.direct.Get(ctx, key, live); err != nil {
		t.Fatal(err)
	}
	if _, kept := live.Data["b"]; kept {
		t.Errorf("data.b, no longer desired, was kept: %v", live.Data)
	}
	live.Data["a"] = "edited"
	if err := f.direct.Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		res, err = f.applier.Apply(ctx, f.owner, f.configMap("cm", map[string]string{"a": "1"}), nil)
		return err == nil && res.Change == apply.Updated
	})
	if err := f.direct.Get(ctx, key, live); err != nil || live.Data["a"] != "1" {
		t.Errorf("edit not taken back: %v %v", live.Data, err)
	}
}

// A change to an immutable field deletes the child with orphan propagation, unless the
// hook holds it back.
func TestImmutableChangeRecreates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sts := func(size string) *appsv1.StatefulSet { return f.statefulSet(size, "i") }
	if _, err := f.applier.Apply(ctx, f.owner, sts("1Gi"), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		return f.applier.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "db"}, &appsv1.StatefulSet{}) == nil
	})
	f.log.take()
	held := func(context.Context, client.Object, []string) error { return apply.ErrHeld }
	res, err := f.applier.Apply(ctx, f.owner, sts("2Gi"), held)
	if err != nil || res.Change != apply.Held || len(f.log.take()) != 0 {
		t.Fatalf("held: %v %v", res.Change, err)
	}
	var saw []string
	res, err = f.applier.Apply(ctx, f.owner, sts("2Gi"), func(_ context.Context, _ client.Object, changed []string) error {
		saw = changed
		return nil
	})
	if err != nil || res.Change != apply.Recreated || !slices.Equal(saw, []string{"spec.volumeClaimTemplates"}) {
		t.Fatalf("recreate: %v %v %v", res.Change, saw, err)
	}
	if got := f.log.take(); !slices.Equal(got, []string{"DELETE statefulsets/db"}) {
		t.Errorf("requests %v", got)
	}
	err = f.direct.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "db"}, &appsv1.StatefulSet{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("condition not met within 10 s")
}

// An object the cache does not hold (a ConfigMap without the label here, a user's Secret
// without the watch label in the operator) is read past the cache; for an unchanged
// referrer that read is used again for PastCacheReuse (polls do not read it each time),
// a changed referrer reads anew. A miss is not kept.
func TestGetOrReadForReusesReadsPastTheCache(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.applier.PastCacheReuse = 500 * time.Millisecond
	key := client.ObjectKey{Namespace: f.ns, Name: "users"}
	read := func(version, want, why string) {
		t.Helper()
		got := &corev1.ConfigMap{}
		if err := f.applier.GetOrReadFor(ctx, key, got, version); err != nil || got.Data["v"] != want {
			t.Fatalf("%s: %v %v", why, err, got.Data)
		}
	}

	if err := f.applier.GetOrReadFor(ctx, key, &corev1.ConfigMap{}, "10"); !apierrors.IsNotFound(err) {
		t.Fatalf("a missing object: %v", err)
	}
	unlabelled := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: f.ns}, Data: map[string]string{"v": "1"}}
	if err := f.direct.Create(ctx, unlabelled); err != nil {
		t.Fatal(err)
	}
	read("10", "1", "created after a miss, it is read at once")
	if calls := f.log.take(); !slices.Equal(calls, []string{"GET configmaps/users", "GET configmaps/users"}) {
		t.Fatalf("the miss and the first read go to the API server: %v", calls)
	}

	unlabelled.Data["v"] = "2"
	if err := f.direct.Update(ctx, unlabelled); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		read("10", "1", "the same referrer within PastCacheReuse uses the last read")
	}
	if calls := f.log.take(); len(calls) != 0 {
		t.Fatalf("no request within PastCacheReuse: %v", calls)
	}
	read("11", "2", "a changed referrer reads anew")
	read("", "2", "GetOrRead reuses nothing")
	if calls := f.log.take(); !slices.Equal(calls, []string{"GET configmaps/users", "GET configmaps/users"}) {
		t.Fatalf("one read each: %v", calls)
	}

	unlabelled.Data["v"] = "3"
	if err := f.direct.Update(ctx, unlabelled); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	read("11", "3", "after PastCacheReuse it is read anew")
	if calls := f.log.take(); !slices.Equal(calls, []string{"GET configmaps/users"}) {
		t.Fatalf("one read: %v", calls)
	}
}

// A child found up to date is not compared again while neither it nor its desired state
// changes; a change to either is compared, and corrected, as before. A StatefulSet's
// status updates are no change (its generation counts the changes to its spec).
func TestUpToDateIsRemembered(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key := client.ObjectKey{Namespace: f.ns, Name: "db"}
	// applyAs applies desired and checks what it did and whether it compared in full.
	applyAs := func(why string, desired *appsv1.StatefulSet, want apply.Change, compares int64) {
		t.Helper()
		before := f.applier.Compared()
		res, err := f.applier.Apply(ctx, f.owner, desired, nil)
		if err != nil || res.Change != want {
			t.Fatalf("%s: change %v (%v), want %v", why, res.Change, err, want)
		}
		if got := f.applier.Compared() - before; got != compares {
			t.Fatalf("%s: %d comparisons in full, want %d", why, got, compares)
		}
	}
	// cached waits until the cache holds the StatefulSet's version rv.
	cached := func(rv string) {
		t.Helper()
		eventually(t, func() bool {
			got := &appsv1.StatefulSet{}
			return f.applier.Client.Get(ctx, key, got) == nil && got.ResourceVersion == rv
		})
	}
	// edit changes the live StatefulSet as someone else would, and waits for the cache.
	edit := func(change func(*appsv1.StatefulSet), status bool) {
		t.Helper()
		live := &appsv1.StatefulSet{}
		if err := f.direct.Get(ctx, key, live); err != nil {
			t.Fatal(err)
		}
		change(live)
		var err error
		if status {
			err = f.direct.Status().Update(ctx, live)
		} else {
			err = f.direct.Update(ctx, live)
		}
		if err != nil {
			t.Fatal(err)
		}
		cached(live.ResourceVersion)
	}
	settled := func() {
		t.Helper()
		live := &appsv1.StatefulSet{}
		if err := f.direct.Get(ctx, key, live); err != nil {
			t.Fatal(err)
		}
		cached(live.ResourceVersion)
	}

	applyAs("create", f.statefulSet("1Gi", "i"), apply.Created, 0)
	settled()
	// The create entered what it made in the memo: the first look finds it there.
	applyAs("first look", f.statefulSet("1Gi", "i"), apply.Unchanged, 0)
	applyAs("unchanged", f.statefulSet("1Gi", "i"), apply.Unchanged, 0)

	edit(func(s *appsv1.StatefulSet) { s.Status.Replicas, s.Status.ObservedGeneration = 1, s.Generation }, true)
	applyAs("after a status update", f.statefulSet("1Gi", "i"), apply.Unchanged, 0)

	edit(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "edited" }, false)
	applyAs("after someone's edit of the spec", f.statefulSet("1Gi", "i"), apply.Updated, 1)
	settled()
	live := &appsv1.StatefulSet{}
	if err := f.direct.Get(ctx, key, live); err != nil || live.Spec.Template.Spec.Containers[0].Image != "i" {
		t.Fatalf("edit not taken back: %v", err)
	}
	applyAs("after the correction", f.statefulSet("1Gi", "i"), apply.Unchanged, 1)
	applyAs("unchanged again", f.statefulSet("1Gi", "i"), apply.Unchanged, 0)

	edit(func(s *appsv1.StatefulSet) { delete(s.Labels, "app") }, false)
	applyAs("after someone removed a label", f.statefulSet("1Gi", "i"), apply.Updated, 1)
	settled()

	applyAs("a new image", f.statefulSet("1Gi", "j"), apply.Updated, 1)
	settled()
	applyAs("the new image in force", f.statefulSet("1Gi", "j"), apply.Unchanged, 1)
	applyAs("the new image, unchanged", f.statefulSet("1Gi", "j"), apply.Unchanged, 0)
}
