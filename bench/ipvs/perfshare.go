package main

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// perfParts are the parts of kt run -C's first load that perfshare counts
// a sample in: the first part with a frame on the sample's stack that
// contains one of its patterns (so the kernel's IPVS work under a send
// is the send's, whoever sent, and the reuse hashes are theirs within the
// lexer and the parser).
var perfParts = []struct {
	name     string
	patterns []string
}{
	{"kernel IPVS work under the sends", []string{"lvs.sendRaw", "unix.Sendto"}},
	{"batch answers read", []string{"batchSocket).recv"}},
	{"reconciler", []string{"Reconciler).Reconcile"}},
	{"planner", []string{"Planner).Plan"}},
	{"reuse hashes", []string{"vsHash).add", "parser).reuseVS"}},
	{"lexer", []string{"config.lexChunks"}},
	{"parser", []string{"ParseKeepalivedBytes"}},
	{"config.Effective", []string{"config.Effective"}},
	{"daemon setup", []string{"daemon.New"}},
	{"collector", []string{"gcBgMarkWorker"}},
	{"runtime and package start", []string{"runtime.doInit", "runtime.schedinit"}},
	{"scheduler monitor", []string{"runtime.sysmon"}},
	{"modprobe (os/exec)", []string{"os/exec"}},
}

// perfAcross are counted over all parts: a sample is in each whose
// pattern a frame of its stack contains.
var perfAcross = []struct{ name, pattern string }{
	{"page faults", "exc_page_fault"},
	{"the kernel's per-CPU allocator", "pcpu_alloc"},
}

// perfShare reads `perf script -F comm,ip,sym` output (a sample: a line
// naming the command at the left margin, then its stack, a frame a line,
// leaf first, then a blank line) and prints each part's share of comm's
// samples, largest first, then the shares across parts.
func perfShare(r io.Reader, w io.Writer, comm string) error {
	parts := make([]int, len(perfParts)+1) // the last: everything else
	across := make([]int, len(perfAcross))
	total := 0
	var stack []string
	in := false
	count := func() {
		if !in {
			return
		}
		total++
		part := len(perfParts)
	find:
		for i, p := range perfParts {
			for _, f := range stack {
				for _, pat := range p.patterns {
					if strings.Contains(f, pat) {
						part = i
						break find
					}
				}
			}
		}
		parts[part]++
		for i, a := range perfAcross {
			for _, f := range stack {
				if strings.Contains(f, a.pattern) {
					across[i]++
					break
				}
			}
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.TrimSpace(l) == "":
			count()
			in, stack = false, stack[:0]
		case l[0] != ' ' && l[0] != '\t':
			count()
			f := strings.Fields(l)
			in, stack = len(f) > 0 && f[0] == comm, stack[:0]
		default:
			// "ADDRESS SYMBOL": the symbol may hold spaces.
			if _, sym, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
				stack = append(stack, sym)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	count()
	if total == 0 {
		return fmt.Errorf("no samples of %s", comm)
	}
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return parts[order[a]] > parts[order[b]] })
	fmt.Fprintf(w, "%d samples of %s\n", total, comm)
	for _, i := range order {
		name := "other"
		if i < len(perfParts) {
			name = perfParts[i].name
		}
		fmt.Fprintf(w, "  %5.1f%%  %s\n", 100*float64(parts[i])/float64(total), name)
	}
	fmt.Fprintln(w, "across the parts:")
	for i, a := range perfAcross {
		fmt.Fprintf(w, "  %5.1f%%  %s\n", 100*float64(across[i])/float64(total), a.name)
	}
	return nil
}
