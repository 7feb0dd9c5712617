package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// noFiles is a file system with nothing in it, so fuzzed includes read nothing.
var noFiles = ParseOptions{
	ConfigID: "fuzz",
	ReadFile: func(string) ([]byte, error) { return nil, errors.New("no files while fuzzing") },
	Glob:     func(string) ([]string, error) { return nil, nil },
	maxLines: 100000, // a ~SEQ can ask for millions of lines; each input must stay fast
}

func addSeeds(f *testing.F, globs ...string) {
	for _, g := range globs {
		files, _ := filepath.Glob(g)
		for _, name := range files {
			if data, err := os.ReadFile(name); err == nil {
				f.Add(data)
			}
		}
	}
}

// FuzzParseKeepalived: no input makes the parser or the validator panic,
// and whatever parses without errors survives kt's writer: written back
// and read again, it is the same model.
func FuzzParseKeepalived(f *testing.F) {
	addSeeds(f, "../testdata/seed/*.conf", filepath.Join(samplesDir, "keepalived.conf.*"))
	f.Add([]byte("vrrp_instance VI_1 { state MASTER interface eth0 virtual_router_id 1 }"))
	f.Add([]byte("virtual_server 192.0.2.1 80 { real_server 192.0.2.2 80 { HTTP_GET { url { path / } } } }"))
	f.Add([]byte("global_defs {\n}\n}\n{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, diags, err := ParseKeepalivedBytes("fuzz.conf", data, noFiles)
		if err != nil {
			return
		}
		Validate(c)
		if diags.HasErrors() {
			return
		}
		var out bytes.Buffer
		if err := WriteKeepalived(&out, c); err != nil {
			t.Fatal(err)
		}
		c2, diags2, err := ParseKeepalivedBytes("fuzz2.conf", out.Bytes(), noFiles)
		if err != nil || diags2.HasErrors() {
			t.Fatalf("kt's own output does not parse: %v %v\ninput:\n%q\noutput:\n%s", err, diags2, data, out.Bytes())
		}
		if !Equal(c, c2) {
			t.Fatalf("written and read back, the model changed\ninput:\n%q\noutput:\n%s", data, out.Bytes())
		}
		var tb bytes.Buffer
		if err := WriteTOML(&tb, c); err != nil {
			if !utf8.Valid(data) {
				return // TOML cannot hold such bytes; WriteTOML says so
			}
			t.Fatalf("WriteTOML: %v", err)
		}
		c3, d3 := ParseTOML("fuzz.toml", tb.Bytes())
		if c3 == nil || d3.HasErrors() || !Equal(c, c3) {
			t.Fatalf("TOML round trip failed: %v\ninput:\n%q\nTOML:\n%s", d3, data, tb.Bytes())
		}
	})
}

// FuzzParseTOML: no input makes the TOML loader panic, and what loads
// without problems is written and read back to the same model.
func FuzzParseTOML(f *testing.F) {
	addSeeds(f, "../testdata/seed/*.toml")
	f.Add([]byte("[vrrp_instance.VI_1]\npriority = 100\nvirtual_ipaddress = [\"192.0.2.1/24 dev eth0\"]\n"))
	f.Add([]byte("[[virtual_server]]\naddress = \"192.0.2.1:80\"\n[[virtual_server.real_server]]\naddress = \"192.0.2.2:80\"\n"))
	f.Add([]byte("[global_defs]\nnotify_fifo = true\nbogus = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, diags := ParseTOML("fuzz.toml", data)
		if c == nil {
			return
		}
		Validate(c)
		if diags.HasErrors() {
			return
		}
		var tb bytes.Buffer
		if err := WriteTOML(&tb, c); err != nil {
			return // e.g. a string TOML can hold but kt's writer refuses; not a crash
		}
		c2, d2 := ParseTOML("fuzz2.toml", tb.Bytes())
		if c2 == nil || d2.HasErrors() || !Equal(c, c2) {
			t.Fatalf("TOML written by kt does not read back the same: %v\ninput:\n%q\noutput:\n%s", d2, data, tb.Bytes())
		}
	})
}

// sameParse requires that parsing data in parallel, in chunks of one line
// cut between top-level statements, gives what one sequential parse of the
// whole input gives: the same model and the same diagnostics.
func sameParse(t *testing.T, data []byte, opt ParseOptions) {
	t.Helper()
	opt.chunkLines = 1
	c1, d1, _ := ParseKeepalivedBytes("p.conf", data, opt)
	lines, lexDiags, _ := LexBytes("p.conf", data, opt.lex())
	c2, d2 := parseChunks(oneChunk(lines), opt)
	d2 = append(lexDiags, d2...)
	sameAsGeneral(t, data, lines, opt, c2, d2[len(lexDiags):])
	if !Equal(c1, c2) {
		t.Fatalf("parallel and sequential parses differ for:\n%s", data)
	}
	s1, s2 := diagStrings(d1), diagStrings(d2)
	if strings.Join(s1, "\n") != strings.Join(s2, "\n") {
		t.Fatalf("parallel and sequential diagnostics differ for:\n%s\nparallel:\n%s\nsequential:\n%s", data, strings.Join(s1, "\n"), strings.Join(s2, "\n"))
	}
}

// sameAsGeneral parses lines once more, sequentially and with every line
// read the general way (ParseOptions.generalLines: parser.valueLine off),
// and fails unless that gives cfg and diags exactly: values, positions,
// keyword lists, and the diagnostics in their order.
func sameAsGeneral(t *testing.T, data []byte, lines []Line, opt ParseOptions, cfg *Config, diags Diagnostics) {
	t.Helper()
	opt.generalLines = true
	gc, gd := parseChunks(oneChunk(lines), opt)
	if !reflect.DeepEqual(cfg, gc) {
		t.Fatalf("valueLine and the general way read differently:\n%s", data)
	}
	if len(diags)+len(gd) > 0 && !reflect.DeepEqual(diags, gd) {
		t.Fatalf("valueLine and the general way report differently for:\n%s\nvalueLine:\n%v\ngeneral:\n%v", data, diags, gd)
	}
}

// oneChunk hands lines over as one chunk, then nil (parseChunks' next).
func oneChunk(lines []Line) func() []Line {
	done := false
	return func() []Line {
		if done {
			return nil
		}
		done = true
		return lines
	}
}

func diagStrings(ds Diagnostics) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	sort.Strings(out)
	return out
}

// FuzzParallelParse: parsing chunks of top-level statements on several
// workers and merging them gives what one sequential parse gives.
func FuzzParallelParse(f *testing.F) {
	addSeeds(f, "../testdata/seed/*.conf", filepath.Join(samplesDir, "keepalived.conf.*"), "testdata/keywords/all-keywords.conf")
	f.Add([]byte("global_defs {\n router_id a\n}\nglobal_defs {\n router_id b\n vrrp_strict\n}\n"))
	f.Add([]byte("vrrp_instance A {\n priority 1\n}\nvrrp_instance A {\n bogus\n}\nvrrp_instance B\n{\n}\n}\n"))
	f.Add([]byte("net_namespace x\nnet_namespace y\nunknown_top 1\nvirtual_server 192.0.2.1 80 {\n}\nvirtual_server fwmark 1 {\n"))
	// Lines a keyword and one value (parser.valueLine) beside their near misses.
	f.Add([]byte("virtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind\n{\n}\n delay_loop x\n delay_loop 3\n" +
		" \"protocol\" \"{\"\n real_server 192.0.2.2 80 {\n weight 1\n weight 2 3\n weight -1\n inhibit_on_failure yes\n" +
		" alpha on\n notify_up /bin/true\n retry 99999999999\n uthreshold 1 }\n lthreshold 2\n{\n}\n }\n}\n" +
		"vrrp_instance I {\n priority 100\n state BACKUP\n nopreempt x\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameParse(t, data, noFiles)
	})
}

func TestParallelParseOnSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "keepalived.conf.*"))
	files = append(files, "../testdata/seed/keepalived.conf", "../testdata/seed/original.conf", "testdata/keywords/all-keywords.conf")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sameParse(t, data, ParseOptions{ConfigID: "x"})
	}
}
