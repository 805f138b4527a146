package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestRenderCommand(t *testing.T) {
	in := strings.NewReader("apiVersion: opennebula.io/v1alpha1\nkind: OpenNebulaFrontend\nmetadata: {name: one, namespace: cloud}\n")
	var out, errOut bytes.Buffer
	if code := runRender([]string{"-f", "-"}, in, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"kind: StatefulSet", "name: one-headless", "name: monitord-udp", "protocol: UDP", "namespace: cloud"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}

	t.Setenv("RELATED_IMAGE_OPENNEBULA", "mirror.local/one:7.2.0")
	out.Reset()
	if code := runRender([]string{"-f", "../config/samples/opennebula_v1alpha1_opennebulafrontend.yaml"}, os.Stdin, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "image: mirror.local/one:7.2.0") {
		t.Error("RELATED_IMAGE_OPENNEBULA is not the default image of render")
	}

	errOut.Reset()
	if code := runRender([]string{"-f", "does-not-exist.yaml"}, os.Stdin, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "does-not-exist.yaml") {
		t.Errorf("missing file: exit %d, %q", code, errOut.String())
	}
	if code := runRender([]string{"-nope"}, os.Stdin, &out, &errOut); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
}
