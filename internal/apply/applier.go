package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Change says what Apply did to a child.
type Change int

const (
	// Unchanged: the child already held every desired field; nothing was written.
	Unchanged Change = iota
	// Created: the child did not exist and was created.
	Created
	// Updated: the child differed and was applied (or replaced) over.
	Updated
	// Recreated: a field the API server refuses to update in place differed, so the child
	// was deleted with orphan propagation; the next reconcile creates it anew.
	Recreated
	// Terminating: the child is being deleted; nothing was written.
	Terminating
	// Held: an immutable field differs, and the BeforeRecreate hook held the recreation
	// back (ErrHeld); nothing was written to the child.
	Held
)

// ErrHeld is returned by a BeforeRecreate hook to hold a recreation back without
// failing (it reported why itself).
var ErrHeld = errors.New("recreation held back")

// Result is what Apply did and the child as it now is.
type Result struct {
	Change Change
	// Live is the child as the API server holds it after Apply (typed).
	Live client.Object
	// Ref names the child for Events and messages: "StatefulSet one".
	Ref string
	// Changed lists the immutable fields whose change recreated the child.
	Changed []string
}

// BeforeRecreate runs before a child whose immutable fields differ is deleted to be
// created anew (the StatefulSet's claims are grown there). ErrHeld holds the deletion
// back; any other error is returned by Apply.
type BeforeRecreate func(ctx context.Context, live client.Object, changed []string) error

// NotOwnedError says an object of a child's name exists that the owner does not control;
// nothing was written to it.
type NotOwnedError struct{ Ref string }

func (e *NotOwnedError) Error() string {
	return e.Ref + " exists and is not controlled by this OpenNebulaFrontend; rename or delete it"
}

// createdTTL bounds how long a child this process created is trusted to exist while the
// cache has not shown it yet. Informers see a create within milliseconds; past this, a
// child still missing from the cache is looked for again (and recreated if gone).
const createdTTL = 30 * time.Second

// Applier is the one write path of the operator's children. It reads only the
// label-selected cache, and the API server only when a create finds the name taken.
//
// Create without a read: a child missing from the cache is created with a server-side
// apply that carries metadata.resourceVersion "1". On an existing object that is a
// precondition that fails with 409 Conflict (handlers/patch.go → registry/generic/
// registry/store.go Update: a resourceVersion differing from the stored one is a
// conflict), and no object ever has resourceVersion 1: it is etcd's revision, and etcd's
// first write is revision 2. On a missing object the apply creates it and the version is
// ignored (store.go: "Wipe metadata on create-via-update and create-via-apply"). A plain
// POST would also fail on a taken name, but its fields would belong to an Update entry
// of the field manager, which a later apply never removes: a field the operator stops
// setting would stay forever. This way every field is owned by the one Apply entry.
type Applier struct {
	// Client reads from the cache and writes to the API server.
	Client client.Client
	// APIReader reads past the cache: only after a create found the name taken.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	// Immutable lists, per kind, the fields the API server refuses to update in place
	// (such as "spec.volumeClaimTemplates"): a change to one deletes the live child with
	// orphan propagation (its pods and claims stay), and the next reconcile creates it anew.
	Immutable map[schema.GroupKind][]string
	// PastCacheReuse is how long what GetOrReadFor read past the cache is used again
	// for the same version of its referrer (zero: read every time). Polls reconcile an
	// unchanged object often (a Raft zone every 5 s): without it, a user's Secret not
	// labelled for the watch costs the API server a read at each of them.
	PastCacheReuse time.Duration

	// created holds what this process created until the cache shows it (key → created),
	// so that the reconciles right after a creation neither read past the cache nor try
	// to create it again.
	created sync.Map
	// readPast holds GetOrReadFor's reads past the cache (key@version → created).
	readPast sync.Map
	// memo: the children found up to date, by desired and live version (memo.go).
	memo upToDateMemo
	// compared counts the comparisons made in full (the memo's tests read it).
	compared atomic.Int64
}

type created struct {
	obj client.Object
	at  time.Time
}

// createOnlyVersion is the resourceVersion no stored object has (see Applier).
const createOnlyVersion = "1"

func createdKey(gvk schema.GroupVersionKind, key client.ObjectKey) string {
	return gvk.GroupKind().String() + "/" + key.String()
}

// Get reads a child from the cache, or the object this process created when the cache
// has not caught up yet. It never reads past the cache.
func (a *Applier) Get(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	_, err := a.get(ctx, key, obj)
	return err
}

// GetOrRead is Get, then a read past the cache when neither the cache nor this process
// has the object: for objects the cache may not hold (a user's Secret without the watch
// label, a claim restored without the operator's labels).
func (a *Applier) GetOrRead(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	return a.GetOrReadFor(ctx, key, obj, "")
}

// GetOrReadFor is GetOrRead for a reader whose state is version (the resourceVersion of
// the object that refers to this one): what was found past the cache for the same
// version is used again for PastCacheReuse. A poll that finds its object unchanged reads
// nothing; any change to the referrer (an edit, a touch) reads anew. A miss is not kept
// (an object the user creates next is seen at once). An empty version reuses nothing.
func (a *Applier) GetOrReadFor(ctx context.Context, key client.ObjectKey, obj client.Object, version string) error {
	err := a.Get(ctx, key, obj)
	if !apierrors.IsNotFound(err) {
		return err
	}
	reuse := version != "" && a.PastCacheReuse > 0
	var rk string
	if reuse {
		gvk, err := apiutil.GVKForObject(obj, a.Scheme)
		if err != nil {
			return err
		}
		rk = createdKey(gvk, key) + "@" + version
		if v, ok := a.readPast.Load(rk); ok && time.Since(v.(created).at) < a.PastCacheReuse {
			return copyInto(v.(created).obj, obj)
		}
	}
	if err := a.APIReader.Get(ctx, key, obj); err != nil {
		return err
	}
	if reuse {
		a.forgetOldReads()
		a.readPast.Store(rk, created{obj: obj.DeepCopyObject().(client.Object), at: time.Now()})
	}
	return nil
}

// forgetOldReads drops the reads past the cache that are too old to be used (objects
// since deleted, or no longer asked for), so that the map holds only recent ones.
func (a *Applier) forgetOldReads() {
	a.readPast.Range(func(k, v any) bool {
		if time.Since(v.(created).at) >= a.PastCacheReuse {
			a.readPast.Delete(k)
		}
		return true
	})
}

// get is Get, also saying whether obj is what this process created rather than what
// the cache holds.
func (a *Applier) get(ctx context.Context, key client.ObjectKey, obj client.Object) (remembered bool, err error) {
	gvk, err := apiutil.GVKForObject(obj, a.Scheme)
	if err != nil {
		return false, err
	}
	err = a.Client.Get(ctx, key, obj)
	ck := createdKey(gvk, key)
	if err == nil {
		a.created.Delete(ck)
		return false, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, err
	}
	if v, ok := a.created.Load(ck); ok {
		c := v.(created)
		if time.Since(c.at) < createdTTL {
			return true, copyInto(c.obj, obj)
		}
		a.created.Delete(ck)
	}
	return false, err
}

func copyInto(from, into client.Object) error {
	if reflect.TypeOf(from) == reflect.TypeOf(into) {
		// The common case (the same kind): a deep copy, without the unstructured round trip.
		reflect.ValueOf(into).Elem().Set(reflect.ValueOf(from.DeepCopyObject()).Elem())
		return nil
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(from)
	if err != nil {
		return err
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u, into)
}

// Apply brings one child of owner to desired and returns what it did. It writes only
// when the live child lacks a desired field or carries another applied hash; it takes
// the fields back from whoever edited them; it never writes to an object owner does not
// control (NotOwnedError).
func (a *Applier) Apply(ctx context.Context, owner, desired client.Object, before BeforeRecreate) (Result, error) {
	gvk, err := a.own(owner, desired)
	if err != nil {
		return Result{}, err
	}
	res := Result{Ref: gvk.Kind + " " + desired.GetName()}
	key := client.ObjectKeyFromObject(desired)
	live, err := a.newObject(gvk)
	if err != nil {
		return res, err
	}
	remembered, err := a.get(ctx, key, live)
	if err == nil && remembered && !metav1.IsControlledBy(live, owner) {
		// Created for an owner of the same name that was deleted since: not this one's.
		a.created.Delete(createdKey(gvk, key))
		err = apierrors.NewNotFound(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, key.Name)
	}
	var seen memoSeen
	if err == nil && !remembered {
		seen = a.memoFor(gvk, desired, live)
		if seen.ok && a.memo.holds(seen.key, seen.entry) {
			// Found up to date before, desired and live both unchanged since: an entry is
			// recorded only for a child this owner controls and nobody deletes (both in
			// the metadata that the live version covers).
			res.Live = live
			return res, nil
		}
	}
	norm, normErr := Normalize(desired, gvk)
	if normErr != nil {
		return res, normErr
	}
	switch {
	case apierrors.IsNotFound(err):
		created, err := a.create(ctx, gvk, norm)
		if err == nil {
			res.Change, res.Live = Created, created
			a.recordCreated(gvk, desired, norm, created)
			return res, nil
		}
		if !apierrors.IsConflict(err) {
			return res, fmt.Errorf("applying %s: %w", res.Ref, err)
		}
		// The name is taken by an object the cache does not hold: see whose it is.
		if err := a.APIReader.Get(ctx, key, live); err != nil {
			return res, fmt.Errorf("reading %s: %w", res.Ref, err)
		}
	case err != nil:
		return res, err
	}
	return a.update(ctx, owner, gvk, norm, live, before, res, seen)
}

// memoSeen is a child's entry in the up-to-date memo, as this reconcile sees it.
type memoSeen struct {
	key   string
	entry memoEntry
	ok    bool // false: the kind has no protobuf encoding, compare in full
}

func (a *Applier) memoFor(gvk schema.GroupVersionKind, desired, live client.Object) memoSeen {
	d, ok := digestOf(desired)
	if !ok {
		return memoSeen{}
	}
	l, ok := liveVersion(gvk.GroupKind(), live)
	if !ok {
		return memoSeen{}
	}
	return memoSeen{key: createdKey(gvk, client.ObjectKeyFromObject(desired)), entry: memoEntry{desired: d, live: l}, ok: true}
}

// recordCreated enters a child just created in the up-to-date memo, as the version the
// API server made, when that version holds desired (it does unless admission changed a
// desired field). Without it, the reconcile that first found the new child in the cache
// normalised desired a second time only to find what the create had just made: each
// child of a new frontend was normalised twice.
func (a *Applier) recordCreated(gvk schema.GroupVersionKind, desired client.Object, norm *Desired, created client.Object) {
	seen := a.memoFor(gvk, desired, created)
	if !seen.ok {
		return
	}
	if upToDate, err := UpToDate(norm, created); err == nil && upToDate {
		a.memo.record(seen.key, seen.entry)
	}
}

// Validate asks the API server whether the write Apply would make of desired is valid,
// without making it (a server-side dry run): the create of a child missing from the cache,
// or the apply of one that differs. It sends nothing when Apply would not write, nor when
// Apply would not apply: a child owned by another object (NotOwnedError at Apply), or one
// whose immutable fields differ (Apply recreates it; an update would be refused for that
// reason alone).
func (a *Applier) Validate(ctx context.Context, owner, desired client.Object) error {
	gvk, norm, err := a.prepare(owner, desired)
	if err != nil {
		return err
	}
	live, err := a.newObject(gvk)
	if err != nil {
		return err
	}
	switch err := a.Get(ctx, client.ObjectKeyFromObject(desired), live); {
	case apierrors.IsNotFound(err):
		_, err := a.applyCreateOnly(ctx, gvk, norm, client.DryRunAll)
		if apierrors.IsConflict(err) {
			// Its name is taken by an object the cache does not hold: Apply sorts that out.
			return nil
		}
		return err
	case err != nil:
		return err
	}
	if !metav1.IsControlledBy(live, owner) {
		return nil
	}
	if fields := a.Immutable[gvk.GroupKind()]; len(fields) > 0 {
		if changed, err := FieldsDiffer(norm, live, fields...); err != nil || len(changed) > 0 {
			return err
		}
	}
	if upToDate, err := UpToDate(norm, live); err != nil || upToDate {
		return err
	}
	return a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(norm.Object), client.FieldOwner(FieldManager),
		client.ForceOwnership, client.DryRunAll)
}

// Differs reports whether Apply would write (from the cache; a child missing from it differs).
func (a *Applier) Differs(ctx context.Context, owner, desired client.Object) (bool, error) {
	gvk, norm, err := a.prepare(owner, desired)
	if err != nil {
		return false, err
	}
	live, err := a.newObject(gvk)
	if err != nil {
		return false, err
	}
	if err := a.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return true, client.IgnoreNotFound(err)
	}
	upToDate, err := UpToDate(norm, live)
	return !upToDate, err
}

// update makes an existing child match desired.
func (a *Applier) update(ctx context.Context, owner client.Object, gvk schema.GroupVersionKind, norm *Desired, live client.Object,
	before BeforeRecreate, res Result, seen memoSeen) (Result, error) {
	res.Live = live
	if !metav1.IsControlledBy(live, owner) {
		return res, &NotOwnedError{Ref: res.Ref}
	}
	if !live.GetDeletionTimestamp().IsZero() {
		res.Change = Terminating
		return res, nil
	}
	if fields := a.Immutable[gvk.GroupKind()]; len(fields) > 0 {
		changed, err := FieldsDiffer(norm, live, fields...)
		if err != nil {
			return res, err
		}
		if len(changed) > 0 {
			return a.recreate(ctx, gvk, before, live, changed, res)
		}
	}
	a.compared.Add(1)
	upToDate, err := UpToDate(norm, live)
	if err != nil {
		return res, err
	}
	if upToDate {
		if seen.ok {
			a.memo.record(seen.key, seen.entry)
		}
		return res, nil
	}
	// The operator owns these fields: take them back from whoever edited them.
	err = a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(norm.Object), client.FieldOwner(FieldManager), client.ForceOwnership)
	if apierrors.IsInvalid(err) {
		// Someone's edit made our apply invalid (a re-keyed list item): replace instead.
		err = a.replace(ctx, live, norm)
	}
	if err != nil {
		return res, fmt.Errorf("applying %s: %w", res.Ref, err)
	}
	res.Change = Updated
	res.Live, err = a.typed(gvk, norm.Object)
	return res, err
}

func (a *Applier) recreate(ctx context.Context, gvk schema.GroupVersionKind, before BeforeRecreate, live client.Object, changed []string, res Result) (Result, error) {
	res.Changed = changed
	if before != nil {
		if err := before(ctx, live, changed); errors.Is(err, ErrHeld) {
			res.Change = Held
			return res, nil
		} else if err != nil {
			return res, err
		}
	}
	uid, rv := live.GetUID(), live.GetResourceVersion()
	err := a.Client.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationOrphan),
		client.Preconditions{UID: &uid, ResourceVersion: &rv})
	if err != nil && !apierrors.IsNotFound(err) {
		return res, fmt.Errorf("replacing %s: %w", res.Ref, err)
	}
	a.created.Delete(createdKey(gvk, client.ObjectKeyFromObject(live)))
	res.Change = Recreated
	return res, nil
}

// create creates the child unless its name is taken (409 Conflict then; see Applier).
func (a *Applier) create(ctx context.Context, gvk schema.GroupVersionKind, norm *Desired) (client.Object, error) {
	obj, err := a.applyCreateOnly(ctx, gvk, norm)
	if err != nil {
		return nil, err
	}
	// As the cache does (cache.TransformStripManagedFields): nothing reads them, and
	// recordCreated's comparison would convert them to unstructured for nothing.
	obj.SetManagedFields(nil)
	a.created.Store(createdKey(gvk, client.ObjectKeyFromObject(obj)), created{obj: obj, at: time.Now()})
	return obj, nil
}

// applyCreateOnly sends norm as a server-side apply that only creates (resourceVersion
// createOnlyVersion: a 409 Conflict when the name is taken) and returns what the API
// server made (or would make, with client.DryRunAll).
//
// The apply is sent as a patch of the typed object, so that the API server's answer is
// decoded straight into it (protobuf for the built-in kinds) rather than into an
// unstructured map converted afterwards: that halved what the creation path allocated
// (198 to 94 MB while 300 frontends were created; hack/bench -cpu-profiles). The request is
// the same server-side apply: one "Apply" entry of FieldManager owns every field.
func (a *Applier) applyCreateOnly(ctx context.Context, gvk schema.GroupVersionKind, norm *Desired, opts ...client.PatchOption) (client.Object, error) {
	obj, err := a.newObject(gvk)
	if err != nil {
		return nil, err
	}
	obj.SetNamespace(norm.Object.GetNamespace())
	obj.SetName(norm.Object.GetName())
	// A copy of the top level and of the metadata only: norm is not changed.
	meta, _ := norm.Object.Object["metadata"].(map[string]any)
	meta = maps.Clone(meta)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["resourceVersion"] = createOnlyVersion
	u := maps.Clone(norm.Object.Object)
	u["metadata"] = meta
	body, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	opts = append([]client.PatchOption{client.FieldOwner(FieldManager)}, opts...)
	if err := a.Client.Patch(ctx, obj, client.RawPatch(types.ApplyPatchType, body), opts...); err != nil {
		return nil, err
	}
	// The typed client clears the kind on decoding; the created map's copies keep it.
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// Create creates obj (whose content is final: generated credentials) unless its name is
// taken; then it reads the object in the way into obj and returns created false. No
// applied hash is recorded: it would publish a digest of the credentials.
func (a *Applier) Create(ctx context.Context, obj client.Object) (bool, error) {
	gvk, err := apiutil.GVKForObject(obj, a.Scheme)
	if err != nil {
		return false, err
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return false, err
	}
	u := &unstructured.Unstructured{Object: raw}
	u.SetGroupVersionKind(gvk)
	made, err := a.create(ctx, gvk, &Desired{Object: u})
	if err == nil {
		return true, copyInto(made, obj)
	}
	if !apierrors.IsConflict(err) {
		return false, err
	}
	return false, a.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), obj)
}

// prepare gives desired its owner reference and its applied form.
func (a *Applier) prepare(owner, desired client.Object) (schema.GroupVersionKind, *Desired, error) {
	gvk, err := a.own(owner, desired)
	if err != nil {
		return gvk, nil, err
	}
	norm, err := Normalize(desired, gvk)
	return gvk, norm, err
}

// own gives desired its owner reference and returns its kind.
func (a *Applier) own(owner, desired client.Object) (schema.GroupVersionKind, error) {
	gvk, err := apiutil.GVKForObject(desired, a.Scheme)
	if err != nil {
		return gvk, err
	}
	return gvk, controllerutil.SetControllerReference(owner, desired, a.Scheme)
}

func (a *Applier) newObject(gvk schema.GroupVersionKind) (client.Object, error) {
	obj, err := a.Scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	o, ok := obj.(client.Object)
	if !ok {
		return nil, errors.New(gvk.String() + " is not a client.Object")
	}
	return o, nil
}

func (a *Applier) typed(gvk schema.GroupVersionKind, u *unstructured.Unstructured) (client.Object, error) {
	obj, err := a.newObject(gvk)
	if err != nil {
		return nil, err
	}
	return obj, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj)
}

// replace writes desired over live with an update (guarded by live's resourceVersion),
// dropping the list items of others that made server-side apply fail. norm.Object
// receives the result.
func (a *Applier) replace(ctx context.Context, live client.Object, norm *Desired) error {
	l, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return err
	}
	merged := &unstructured.Unstructured{Object: Overlay(l, norm.Object.Object)}
	merged.SetResourceVersion(live.GetResourceVersion())
	if err := a.Client.Update(ctx, merged, client.FieldOwner(FieldManager)); err != nil {
		return err
	}
	norm.Object = merged
	return nil
}
