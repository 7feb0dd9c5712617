package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

// TestLightDependencies: the kt binary links neither gopacket/layers nor
// client_golang and protobuf. Their package initialisation runs in every
// kt process, kt run included, whatever the command: about 7 MiB of
// memory for gopacket/layers' tables and 2 MiB for client_golang. capture
// decodes with layers of its own (capture/layers.go) and reads pcapng
// itself; the daemon writes the Prometheus text format itself
// (daemon/promtext.go). Tests may still use them. With the Makefile's
// build tag (urfave_cli_no_docs), urfave/cli's man page generator and
// blackfriday are left out too (0.5 MiB). protobuf is not on the list:
// GoBGP (the bgp block, issue #17) needs it for its API types, and its
// package initialisation costs about 1 MB; with GoBGP's other packages an
// idle kt run grows by about 12 MB of mostly binary pages (measured
// 2026-12-05), which keeps kt above keepalived's RSS (issue #16).
func TestLightDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "urfave_cli_no_docs", "-deps", ".").Output()
	if err != nil {
		testenv.Missing(t, "go list -deps: "+err.Error())
	}
	deps := strings.Fields(string(out))
	for _, heavy := range []string{
		"github.com/google/gopacket/layers",
		"github.com/google/gopacket/pcapgo",
		"github.com/prometheus/client_golang/prometheus",
		"github.com/prometheus/common/expfmt",
		"github.com/russross/blackfriday/v2",
	} {
		if slices.Contains(deps, heavy) {
			t.Errorf("kt links %s", heavy)
		}
	}
}
