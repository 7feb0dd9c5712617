package commands

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// TestEachLine: -R's line reader gives bufio.Scanner's lines (the last
// one without its newline, empty lines kept, a CR left for the word
// splitter, which treats it as a blank) whatever sizes the reads come in,
// and stops at a line longer than iaMaxLine.
// readerWrap hands a test's input to the code under test in reads of
// some shape.
type readerWrap struct {
	name string
	wrap func(io.Reader) io.Reader
}

// readerWraps are the shapes of reads -R's line reader must not mind.
var readerWraps = []readerWrap{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"byte at a time", iotest.OneByteReader},
	{"half reads", iotest.HalfReader},
}

func TestEachLine(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // past the first 64 KiB buffer
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"one without newline", "-C", []string{"-C"}},
		{"two", "-A -t 192.0.2.1:80\n-C\n", []string{"-A -t 192.0.2.1:80", "-C"}},
		{"empty lines", "\n\n-C\n\n", []string{"", "", "-C", ""}},
		{"crlf", "-C\r\n-Z\r\n", []string{"-C\r", "-Z\r"}},
		{"long line", "a\n" + long + "\nb", []string{"a", long, "b"}},
	} {
		for _, r := range append(readerWraps, readerWrap{"data with EOF", iotest.DataErrReader}) {
			var got []string
			// a line is valid only during the call: keep a copy
			eachLine(r.wrap(strings.NewReader(c.in)), func(l string) bool { got = append(got, strings.Clone(l)); return true })
			if !slices.Equal(got, c.want) {
				t.Errorf("%s, %s: %d lines, want %d", c.name, r.name, len(got), len(c.want))
			}
		}
	}
	var got int
	eachLine(strings.NewReader("a\n"+strings.Repeat("y", iaMaxLine+1)+"\nb\n"), func(string) bool { got++; return true })
	if got != 1 {
		t.Errorf("a line past iaMaxLine: %d lines before the end, want 1", got)
	}
	got = 0
	eachLine(strings.NewReader("a\nb\nc\n"), func(string) bool { got++; return got < 2 })
	if got != 2 {
		t.Errorf("f returning false: called %d times, want 2", got)
	}
}

// TestIpvsadmRestoreFailedAcrossBatches: the exit code of -R is the last
// line's, also when the kernel's refusals fall in other batches than the
// last line (-R sends every iaPendingMax changes): each refusal is printed
// once, in input order.
func TestIpvsadmRestoreFailedAcrossBatches(t *testing.T) {
	var b strings.Builder
	n := iaPendingMax*2 + 10
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "-A -t 192.0.%d.%d:80\n", 2+i/250, 1+i%250)
	}
	dup := "-A -t 192.0.2.1:80\n" // refused: it exists
	lines := strings.SplitAfter(b.String(), "\n")
	mid := strings.Join(lines[:n/2], "") + dup + strings.Join(lines[n/2:], "")
	for _, c := range []struct {
		name, in string
		code     int
		refusals int
	}{
		{"refusal in the first batch, last line fine", dup + b.String(), 0, 1},
		{"refusals, the last line refused", b.String() + dup + dup, 255, 2},
		{"a refusal in the middle", mid + "-A -t 198.51.100.1:80\n", 0, 1},
	} {
		k := &fakeIPVS{}
		_, errs, code := ipvsadmRun(t, k, c.in, "-R")
		if code != c.code || strings.Count(errs, "Service already exists\n") != c.refusals || k.applies < 2 {
			t.Errorf("%s: exit %d after %d batches, stderr %q; want exit %d and %d refusals", c.name, code, k.applies, errs, c.code, c.refusals)
		}
	}
}

// TestOptMasksAgreeWithTable holds genericOptCheck's bit-mask fast path
// to the walk of ipvsadm's table that words its errors: for every command,
// every option alone and in pairs, and random sets, the masks pass exactly
// the sets the walk finds nothing wrong with.
func TestOptMasksAgreeWithTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for cmd := 1; cmd <= len(iaCmdVsOpts); cmd++ {
		sets := []uint64{0}
		for i := 0; i < iaNumOpts; i++ {
			for j := i; j < iaNumOpts; j++ {
				sets = append(sets, 1<<i|1<<j)
			}
		}
		m := &iaCmdOptMasks[cmd-1]
		for range 2000 {
			// random sets around what the command needs, so that the
			// passing case comes up too
			sets = append(sets, m.need|rng.Uint64()&(1<<iaNumOpts-1)&^(m.refuse|m.one)|1<<rng.IntN(iaNumOpts),
				rng.Uint64()&(1<<iaNumOpts-1))
		}
		passed := 0
		for _, o := range sets {
			fast, msg := iaOptsPass(cmd, o), iaOptCheckError(cmd, o)
			if fast != (msg == "") {
				t.Fatalf("%s with options %#x: masks say pass=%v, the table says %q", iaCmdNames[cmd], o, fast, msg)
			}
			if fast {
				passed++
			}
		}
		if passed == 0 {
			t.Errorf("%s: no option set passed: the test covers only failures", iaCmdNames[cmd])
		}
	}
}

// TestRestoreKeepsNamesAcrossReads: -R's lines are views of a read buffer
// that the next read overwrites, and a change keeps its scheduler's and
// persistence engine's names until it is sent (every iaPendingMax lines):
// restored through reads of every size, over more than one buffer's worth
// of lines, each change the kernel gets names what its line said, known
// names and others alike.
func TestRestoreKeepsNamesAcrossReads(t *testing.T) {
	scheds := []string{"rr", "wlc", "sh", "mh", "custom0", "lblcr", "x1234567890abcdefghij"}
	var in strings.Builder
	var want []string
	for n := 0; in.Len() < 3*64<<10; n++ {
		s := scheds[n%len(scheds)]
		fmt.Fprintf(&in, "-A -t 198.51.100.%d:%d -s %s -p 30 --pe sip%d\n", 1+n%254, 1024+n/254, s, n%3)
		want = append(want, truncate(s, iaSchedNameMax)+" "+truncate(fmt.Sprintf("sip%d", n%3), iaPENameMax))
	}
	for _, r := range readerWraps {
		k := &fakeIPVS{}
		var errb strings.Builder
		if code := runIpvsadm([]string{"ipvsadm", "-R"}, r.wrap(strings.NewReader(in.String())), io.Discard, &errb, k, fakeNames{}); code != 0 {
			t.Fatalf("%s: exit %d: %s", r.name, code, errb.String())
		}
		if len(k.ops) != len(want) || k.applies < 2 {
			t.Fatalf("%s: %d changes in %d batches, want %d in several", r.name, len(k.ops), k.applies, len(want))
		}
		for i, op := range k.ops {
			if got := op.Service.Sched + " " + op.Service.PEName; got != want[i] {
				t.Fatalf("%s: change %d names %q, its line said %q", r.name, i+1, got, want[i])
			}
		}
	}
}
