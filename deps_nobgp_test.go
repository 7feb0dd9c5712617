package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

// TestNoBGPBuildIsLight: built with the nobgp tag (make build NOBGP=1),
// kt links nothing of GoBGP and of what it drags in (gRPC, protobuf,
// viper and its decoders): about 14 MB of binary that every kt process
// otherwise maps, bgp block or not (doc/benchmarks.md, "GoBGP's cost"). The default build
// links GoBGP (the bgp block of issue #17).
func TestNoBGPBuildIsLight(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "urfave_cli_no_docs nobgp", "-deps", ".").Output()
	if err != nil {
		testenv.Missing(t, "go list -deps: "+err.Error())
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{"github.com/osrg/gobgp", "google.golang.org/grpc", "google.golang.org/protobuf", "github.com/spf13/viper"} {
			if strings.HasPrefix(dep, heavy) {
				t.Errorf("kt built with nobgp links %s", dep)
			}
		}
	}
	out, err = exec.Command("go", "list", "-tags", "urfave_cli_no_docs", "-deps", ".").Output()
	if err != nil {
		testenv.Missing(t, "go list -deps: "+err.Error())
	}
	if !strings.Contains(string(out), "github.com/osrg/gobgp/v4/pkg/server\n") {
		t.Error("the default build does not link GoBGP's server: the bgp block cannot run")
	}
}
