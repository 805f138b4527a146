// Package fleet keeps an OpenNebula frontend's hosts and clusters as their Kubernetes
// objects say, through oned's XML-RPC API. A pass reads the two pools once
// (one.clusterpool.info, one.hostpool.info) and compares every object of the frontend
// against them, so that a pass costs two reads however many hosts there are; only what
// differs is written (allocate, addhost, update, status, delete).
//
// What is the operator's: an object it made, or adopted, carries its Kubernetes object's
// key in its template (KUBERNETES_OBJECT), written right after the allocate; an object of
// the same name without it (made by hand, onehost create) is left alone and reported
// unless the user asked to adopt it.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opennebula-operator/opennebula-operator/internal/oned"
)

// The template attributes the operator keeps on what it manages: the Kubernetes object's
// key ("namespace/name"), and the names of the attributes it set from the spec (so that
// one removed from the spec is removed from OpenNebula, and nothing else is).
const (
	AttrObject     = "KUBERNETES_OBJECT"
	AttrAttributes = "KUBERNETES_ATTRIBUTES"
)

// Problem is why an object is not as asked; Reason is a condition reason of the API.
type Problem struct {
	Reason, Message string
}

func (p *Problem) Error() string { return p.Message }

// Reasons of the problems a sync reports (the API's condition reasons).
const (
	ReasonNameTaken       = "NameTaken"
	ReasonDeleteRefused   = "DeleteRefused"
	ReasonClusterNotFound = "ClusterNotFound"
	ReasonOnedRefused     = "OnedRefused"
)

// Pools are the two pools read once per pass.
type Pools struct {
	Hosts    []oned.Host
	Clusters []oned.Cluster
}

// Read reads both pools: the only reads of a pass.
func Read(ctx context.Context, c *oned.Client) (*Pools, error) {
	clusters, err := c.ClusterPool(ctx)
	if err != nil {
		return nil, err
	}
	hosts, err := c.HostPool(ctx)
	if err != nil {
		return nil, err
	}
	return &Pools{Hosts: hosts, Clusters: clusters}, nil
}

// Host finds a host by NAME.
func (p *Pools) Host(name string) *oned.Host {
	for i := range p.Hosts {
		if p.Hosts[i].Name == name {
			return &p.Hosts[i]
		}
	}
	return nil
}

// Cluster finds a cluster by NAME.
func (p *Pools) Cluster(name string) *oned.Cluster {
	for i := range p.Clusters {
		if p.Clusters[i].Name == name {
			return &p.Clusters[i]
		}
	}
	return nil
}

// Object is what hosts and clusters share in their Kubernetes objects.
type Object struct {
	// Key is the Kubernetes object's "namespace/name", kept in AttrObject.
	Key string
	// Name is the NAME in OpenNebula.
	Name string
	// Template is the spec's attributes.
	Template map[string]string
	// Adopt: the user allows taking over an object of that name the operator did not make.
	Adopt bool
	// KnownID is the ID the Kubernetes object's status recorded (-1: none): an object
	// with that ID is the operator's even if its marker was lost.
	KnownID int
}

// ours reports whether the OpenNebula object of that ID and template is the one the
// Kubernetes object manages.
func (o *Object) ours(id int, t oned.Template) bool {
	key, _ := t.Get(AttrObject)
	return key == o.Key || (o.KnownID >= 0 && o.KnownID == id) || o.Adopt
}

// nameTaken is the problem of an object of that name the operator did not make.
func (o *Object) nameTaken(kind string, id int, t oned.Template) *Problem {
	owner := "it was not made by the operator"
	if key, ok := t.Get(AttrObject); ok {
		owner = "it belongs to the Kubernetes object " + key
	}
	return &Problem{Reason: ReasonNameTaken, Message: fmt.Sprintf(
		"OpenNebula already has a %s named %q (ID %d) and %s; annotate opennebula.io/adopt: \"true\" to take it over",
		kind, o.Name, id, owner)}
}

// templateChanges compares the spec's attributes (and the operator's record) with the
// live template: merge holds what to add or change, removed the attributes the operator
// set before and the spec no longer has.
func (o *Object) templateChanges(live oned.Template) (merge map[string]string, removed []string) {
	want := maps.Clone(o.Template)
	if want == nil {
		want = map[string]string{}
	}
	want[AttrObject] = o.Key
	want[AttrAttributes] = strings.Join(slices.Sorted(maps.Keys(o.Template)), " ")
	merge = map[string]string{}
	for k, v := range want {
		if got, ok := live.Get(k); !ok || got != v {
			merge[k] = v
		}
	}
	if had, ok := live.Get(AttrAttributes); ok {
		for k := range strings.FieldsSeq(had) {
			if _, keep := o.Template[k]; !keep {
				if _, present := live.Get(k); present {
					removed = append(removed, k)
				}
			}
		}
	}
	return merge, removed
}

// syncTemplate writes the template changes: a merge, or, when attributes must go, the
// whole live template without them and with the changes (replace keeps every other
// attribute, vectors included).
func (o *Object) syncTemplate(live oned.Template,
	merge func(map[string]string) error, replace func(oned.Template) error) (bool, error) {
	changes, removed := o.templateChanges(live)
	switch {
	case len(removed) > 0:
		var t oned.Template
		for _, a := range live.Attributes {
			if _, changed := changes[a.Name]; changed || slices.Contains(removed, a.Name) {
				continue
			}
			t.Attributes = append(t.Attributes, a)
		}
		for _, k := range slices.Sorted(maps.Keys(changes)) {
			t.Attributes = append(t.Attributes, oned.Attribute{Name: k, Value: changes[k]})
		}
		return true, replace(t)
	case len(changes) > 0:
		return true, merge(changes)
	}
	return false, nil
}

// Result is what one object's sync did and found.
type Result struct {
	// ID is the object's ID in OpenNebula (-1: none).
	ID int
	// Changed: calls that change OpenNebula were made; what the pools said is stale for
	// this object until the next read.
	Changed bool
	// Gone: the object is not (or no longer) in OpenNebula, and a Kubernetes object being
	// deleted may go.
	Gone bool
	// Problem is why the object is not as asked (nil: it is, or will be once Changed
	// settles).
	Problem *Problem
}

// allocate makes an object absent from the pools. A name taken since the pools were read
// (kind's ALLOCATE answer names the holder) is this operator's own earlier call whose
// answer was lost (oned made it; the answer did not arrive): it is adopted.
func allocate(kind, what string, call func() (int, error)) (Result, error) {
	id, err := call()
	if k, holder, taken := oned.AlreadyTaken(err); taken && k == kind {
		id, err = holder, nil
	}
	if err != nil {
		p, err := refused(err, what)
		return Result{ID: -1, Problem: p}, err
	}
	return Result{ID: id, Changed: true}, nil
}

// refused turns an oned refusal into a Problem and passes other errors (unreachable,
// authentication) through, for the caller to retry.
func refused(err error, what string) (*Problem, error) {
	if e, ok := errors.AsType[*oned.Error](err); ok && !oned.IsAuthentication(err) && !oned.IsAuthorization(err) && !oned.IsNoLeader(err) {
		return &Problem{Reason: ReasonOnedRefused, Message: fmt.Sprintf("oned refused to %s: %s", what, e.Message)}, nil
	}
	return nil, err
}
