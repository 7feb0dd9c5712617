package main

import (
	"strings"
	"testing"
)

// TestPerfShare: each sample of the command goes to the first part one of
// its frames names (a send's kernel work is the send's, even under the
// reconciler), the rest to other; page faults are counted across parts;
// another command's samples are not counted; a package's init is the
// start's even without runtime.doInit under it.
func TestPerfShare(t *testing.T) {
	script := `kt 
	ffffffff81000000 pcpu_alloc
	ffffffff81000001 genl_rcv_msg
	          4a0000 github.com/kt-project/kt/lvs.sendRaw
	          4a0001 github.com/kt-project/kt/lvs.(*Reconciler).Reconcile

kt 
	          4b0000 github.com/kt-project/kt/config.(*vsHash).add
	          4b0001 github.com/kt-project/kt/config.lexChunks

kt 
	ffffffff81000002 exc_page_fault
	          4c0000 github.com/kt-project/kt/config.setPos
	          4c0001 github.com/kt-project/kt/config.ParseKeepalivedBytes.func2

kt 
	          4d0000 runtime.futex

kt 
	ffffffff81000003 asm_exc_page_fault
	          4f0000 github.com/osrg/gobgp/v4/internal/pkg/table.init
	          4f0001 runtime.main

modprobe 
	          4e0000 lvs.sendRaw
`
	var out strings.Builder
	if err := perfShare(strings.NewReader(script), &out, "kt"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"5 samples of kt",
		"20.0%  kernel IPVS work under the sends",
		"20.0%  reuse hashes",
		"20.0%  parser",
		"20.0%  runtime and package start",
		"20.0%  other",
		"0.0%  lexer",
		"40.0%  page faults",
		"20.0%  the kernel's per-CPU allocator",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := perfShare(strings.NewReader(script), &out, "keepalived"); err == nil {
		t.Error("no error for a command with no samples")
	}
}

// TestPackageInit: package initialisers by the names the compiler gives
// them, and not a method or another function that merely ends in init.
func TestPackageInit(t *testing.T) {
	for frame, want := range map[string]bool{
		"github.com/osrg/gobgp/v4/internal/pkg/table.init": true,
		"runtime/metrics.init.0":                           true,
		"google.golang.org/grpc.init.func1":                true,
		"github.com/kt-project/kt/config.(*lexer).init":    false,
		"github.com/kt-project/kt/config.reinit":           false,
		"github.com/kt-project/kt/config.init.x":           false,
		"github.com/kt-project/kt/config.initTable":        false,
		"runtime.main": false,
	} {
		if got := packageInit(frame); got != want {
			t.Errorf("packageInit(%q) = %v, want %v", frame, got, want)
		}
	}
}
