package controller

import "time"

const (
	// DefaultProblemRecheck is how soon a frontend blocked by something the user must fix
	// (a referenced Secret or StorageClass that is not watched) is looked at again.
	DefaultProblemRecheck = 30 * time.Second
	// SecretRecheck is how often the Secrets a frontend reads are read again when one
	// of them is not labelled opennebula.io/watch=true (so not watched).
	SecretRecheck = 5 * time.Minute
	// conflictRetry is how soon a reconcile that lost a write race is tried again.
	conflictRetry = 200 * time.Millisecond
	// replaceRecheck is how soon a StatefulSet being replaced is looked at again.
	replaceRecheck = 2 * time.Second
	// statusDeferral bounds how long a new frontend's first status write waits for the
	// StatefulSet controller to look at its new StatefulSet (statusDeferred).
	statusDeferral = 2 * time.Second
)
