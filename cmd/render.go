package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/opennebula-operator/opennebula-operator/internal/controller"
	"github.com/opennebula-operator/opennebula-operator/internal/render"
)

// runRender implements `manager render -f FILE`: it prints the objects the operator
// would create for the frontends in FILE ("-" for standard input), with no cluster.
func runRender(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "-", "file holding OpenNebulaFrontend YAML documents, or - for standard input")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: manager render -f FILE\n\nPrints every object the operator would create "+
			"for the OpenNebulaFrontends in FILE, as a YAML stream.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	in := stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			_, _ = fmt.Fprintln(stderr, "render:", err)
			return 1
		}
		defer func() { _ = f.Close() }()
		in = f
	}
	if err := render.Render(in, stdout, scheme, controller.BuilderOptionsFromEnv()); err != nil {
		_, _ = fmt.Fprintln(stderr, "render:", err)
		return 1
	}
	return 0
}
