package main

import (
	"strings"
	"testing"
)

// TestPerfShare: each sample of the command goes to the first part one of
// its frames names (a send's kernel work is the send's, even under the
// reconciler), the rest to other; page faults are counted across parts;
// another command's samples are not counted.
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

modprobe 
	          4e0000 lvs.sendRaw
`
	var out strings.Builder
	if err := perfShare(strings.NewReader(script), &out, "kt"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"4 samples of kt",
		"25.0%  kernel IPVS work under the sends",
		"25.0%  reuse hashes",
		"25.0%  parser",
		"25.0%  other",
		"0.0%  lexer",
		"25.0%  page faults",
		"25.0%  the kernel's per-CPU allocator",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := perfShare(strings.NewReader(script), &out, "keepalived"); err == nil {
		t.Error("no error for a command with no samples")
	}
}
