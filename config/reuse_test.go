package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// reuseFiles lists the keepalived.conf files in testdata (kt's and
// config's) with a virtual_server, and one of the test's own whose
// virtual servers the checks and fix-ups touch.
func reuseFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"testdata", "../testdata"} {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				if d != nil && d.IsDir() && d.Name() == "fuzz" {
					return filepath.SkipDir
				}
				return err
			}
			if strings.HasSuffix(p, ".toml") {
				return nil
			}
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "virtual_server ") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return append(append(files, fuzzConfs(t)...), writeReuseConf(t, "2"))
}

// fuzzConfs writes out the FuzzParseKeepalived corpus entries with a
// virtual_server: odd braces and words, which the reuse must read as the
// parser does or leave alone.
func fuzzConfs(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzParseKeepalived")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		_, v, ok := strings.Cut(string(b), "\n[]byte(")
		if !ok {
			continue
		}
		text, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ")")))
		if err != nil || !strings.Contains(text, "virtual_server") {
			continue
		}
		p := filepath.Join(t.TempDir(), e.Name()+".conf")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	if len(files) == 0 {
		t.Fatal("no FuzzParseKeepalived entry with a virtual_server")
	}
	return files
}

// writeReuseConf writes a file whose virtual servers the checks and
// fix-ups touch (a MISC_CHECK whose user goes, a bad real server address,
// a BFD_CHECK, checkers keepalived drops, sorry_server settings it
// ignores, a group) with one real server's weight as given.
func writeReuseConf(t *testing.T, weight string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "reuse.conf")
	if err := os.WriteFile(p, []byte(reuseConf(weight)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func reuseConf(weight string) string {
	return `global_defs {
    router_id r1
}
virtual_server_group g1 {
    192.0.2.50 80
}
virtual_server 192.0.2.4 80 {
    sorry_server_inhibit
    sorry_server 192.0.2.99 80
}
virtual_server 192.0.2.1 80 {
    lb_kind NAT
    real_server 192.0.2.10 80 {
        MISC_CHECK {
            misc_path "/bin/true"
            user alice
        }
    }
    real_server 192.0.2.11 80 {
        weight 2
    }
}
virtual_server 192.0.2.2 80 {
    real_server not-an-address 80 {
    }
    real_server 192.0.2.12 80 {
        BFD_CHECK {
            name b1
            alpha
        }
        TCP_CHECK {
            connect_timeout 0
        }
        HTTP_GET {
        }
    }
}
virtual_server 192.0.2.3 80 {
    quorum 100
    real_server 192.0.2.13 80 {
        weight ` + weight + `
        unknown_keyword here
    }
    real_server bad 80 {
    }
}
virtual_server group g1 {
    protocol TCP
    real_server 192.0.2.14 80 {
        weight 1
        TCP_CHECK {
        }
    }
}
virtual_server 192.0.2.5 80 { protocol TCP
    real_server 192.0.2.15 80 { weight 1 }
}
`
}

// loadReuse parses data and takes its effective model on host h, with r
// (nil: without reuse).
func loadReuse(t *testing.T, name string, data []byte, r *Reuse, h Host) (*Config, Diagnostics) {
	t.Helper()
	c, diags, err := ParseKeepalivedBytes(name, data, ParseOptions{Reuse: r})
	if err != nil {
		t.Fatal(err)
	}
	eff, vd := Effective(c, EffectiveOptions{Host: h, Reuse: r})
	diags = append(diags, vd...)
	diags.Sort()
	return eff, diags
}

// walkRunning reads every running virtual server over and over until stop
// closes, as the engines do, and says whether one changed: under -race a
// write to one is reported even when it writes what was there.
func walkRunning(t *testing.T, name string, running *Config, stop chan struct{}) *sync.WaitGroup {
	before := make([]*VirtualServer, len(running.VirtualServers))
	for i, vs := range running.VirtualServers {
		before[i] = copyVirtualServer(vs)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for i, vs := range running.VirtualServers {
				if !reflect.DeepEqual(vs, before[i]) {
					t.Errorf("%s: running virtual server %d changed during the reload", name, i)
					return
				}
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	return &wg
}

func copyVirtualServer(vs *VirtualServer) *VirtualServer {
	c := deepCopy(&Config{VirtualServers: []*VirtualServer{vs}})
	return c.VirtualServers[0]
}

// TestReuseAsFullBuild: a reload that takes the running configuration's
// unchanged virtual_server blocks (Reuse) gives the model and the
// diagnostics a reload reading the whole file gives, for every testdata
// file with a virtual_server, on a host that changed since the running
// load (a MISC_CHECK user gone), the file the same or with one real
// server changed. The running blocks are never written: a reader walks
// them meanwhile (run it with -race).
func TestReuseAsFullBuild(t *testing.T) {
	then := fakeHost{ifaces: map[string][]netip.Addr{"eth0": nil}, users: map[string]bool{"alice": true, "keepalived_script": true},
		progs: map[string]bool{"/bin/true": true}}
	now := fakeHost{ifaces: map[string][]netip.Addr{"eth0": nil}, users: map[string]bool{"keepalived_script": true}}
	files := reuseFiles(t)
	reused, read := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		variants := [][]byte{data}
		if strings.HasSuffix(f, "reuse.conf") {
			variants = append(variants, []byte(reuseConf("3")))
		}
		for vi, next := range variants {
			r := NewReuse()
			running, _ := loadReuse(t, f, data, r, then)
			r.Commit()
			stop := make(chan struct{})
			wg := walkRunning(t, f, running, stop)
			got, gotDiags := loadReuse(t, f, next, r, now)
			close(stop)
			wg.Wait()
			reused += r.Reused
			read += r.Read
			plain, plainDiags := loadReuse(t, f, next, nil, now)
			if !reflect.DeepEqual(gotDiags, plainDiags) {
				t.Errorf("%s (%d): diagnostics with reuse\n%v\nwithout\n%v", f, vi, gotDiags, plainDiags)
			}
			if !reflect.DeepEqual(got, plain) {
				t.Errorf("%s (%d): the model differs with reuse", f, vi)
			}
			if vi == 1 && (r.Reused == 0 || r.Read == 0) {
				t.Errorf("%s: with one real server changed, %d blocks reused and %d read: want some of each", f, r.Reused, r.Read)
			}
		}
	}
	if reused == 0 {
		t.Fatal("no virtual server was reused: the test tests nothing")
	}
	t.Logf("%d files, %d virtual servers reused, %d read", len(files), reused, read)
}

// TestReuseTakesRunningBlock: an unchanged block is the running virtual
// server itself, a changed one is read anew, and a second reload reuses
// what the first read.
func TestReuseTakesRunningBlock(t *testing.T) {
	f := writeReuseConf(t, "2")
	r := NewReuse()
	running, _ := loadReuse(t, f, []byte(reuseConf("2")), r, nil)
	r.Commit()
	got, _ := loadReuse(t, f, []byte(reuseConf("3")), r, nil)
	r.Commit()
	same := func(a, b *Config, addr string) bool {
		for _, x := range a.VirtualServers {
			for _, y := range b.VirtualServers {
				if x.Address != nil && y.Address != nil && x.Address.Host == addr && y.Address.Host == addr {
					return x == y
				}
			}
		}
		t.Fatalf("no virtual server %s", addr)
		return false
	}
	if !same(running, got, "192.0.2.4") {
		t.Error("an unchanged virtual server was read again")
	}
	if same(running, got, "192.0.2.3") {
		t.Error("the changed virtual server was taken as it ran")
	}
	if same(running, got, "192.0.2.1") || same(running, got, "192.0.2.2") {
		t.Error("a virtual server with a MISC_CHECK or a BFD_CHECK was taken over: its checks ask the host or other blocks")
	}
	again, _ := loadReuse(t, f, []byte(reuseConf("3")), r, nil)
	if !same(got, again, "192.0.2.3") {
		t.Error("the block read in the last reload was not reused in the next")
	}
}

// TestReuseFallsBack: a change outside the virtual_server blocks (a global
// setting, a group, an included file, the strictness) reads every block
// again; so does a change that moves the blocks.
func TestReuseFallsBack(t *testing.T) {
	base := reuseConf("2")
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.conf")
	if err := os.WriteFile(inc, []byte("global_defs {\n    router_id r2\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, next string
		strict     bool
	}{
		{"global_defs", strings.Replace(base, "router_id r1", "router_id r9", 1), false},
		{"group", strings.Replace(base, "192.0.2.50 80", "192.0.2.51 80", 1), false},
		{"include", base + "include " + inc + "\n", false},
		{"strict", base, true},
		{"moved", "\n" + base, false},
	} {
		f := filepath.Join(dir, "reuse.conf")
		r := NewReuse()
		loadReuse(t, f, []byte(base), r, nil)
		r.Commit()
		c, diags, err := ParseKeepalivedBytes(f, []byte(tc.next), ParseOptions{Reuse: r, Strict: tc.strict})
		if err != nil {
			t.Fatal(err)
		}
		if r.Reused != 0 {
			t.Errorf("%s: %d blocks reused after a change that may change how they read", tc.name, r.Reused)
		}
		got, gd := Effective(c, EffectiveOptions{Reuse: r})
		p, pd, _ := ParseKeepalivedBytes(f, []byte(tc.next), ParseOptions{Strict: tc.strict})
		plain, vd := Effective(p, EffectiveOptions{})
		if !reflect.DeepEqual(got, plain) || !reflect.DeepEqual(append(diags, gd...), append(pd, vd...)) {
			t.Errorf("%s: the fall-back reads the file otherwise than a load without reuse", tc.name)
		}
	}
	// The include changes with the file unchanged.
	f := filepath.Join(dir, "top.conf")
	top := base + "include " + inc + "\n"
	r := NewReuse()
	loadReuse(t, f, []byte(top), r, nil)
	r.Commit()
	loadReuse(t, f, []byte(top), r, nil)
	if r.Reused == 0 {
		t.Fatal("nothing reused from an unchanged file: the fall-back test tests nothing")
	}
	r.Commit()
	if err := os.WriteFile(inc, []byte("global_defs {\n    router_id r3\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	loadReuse(t, f, []byte(top), r, nil)
	if r.Reused != 0 {
		t.Errorf("%d blocks reused after the included file changed", r.Reused)
	}
}

// TestReuseKeepsRunningOnRefusal: a load the daemon refuses (Discard)
// leaves the running blocks as what the next load reuses.
func TestReuseKeepsRunningOnRefusal(t *testing.T) {
	f := writeReuseConf(t, "2")
	r := NewReuse()
	running, _ := loadReuse(t, f, []byte(reuseConf("2")), r, nil)
	r.Commit()
	bad := reuseConf("2") + "vrrp_instance v {\n    interface\n}\n"
	_, diags := loadReuse(t, f, []byte(bad), r, nil)
	if len(diags.Refusals(false)) == 0 {
		t.Fatal("the bad file is not refused: the test tests nothing")
	}
	r.Discard()
	got, _ := loadReuse(t, f, []byte(reuseConf("2")), r, nil)
	if r.Reused == 0 {
		t.Fatal("nothing reused after a refused load")
	}
	for i, vs := range got.VirtualServers {
		found := false
		for _, x := range running.VirtualServers {
			found = found || x == vs
		}
		if !found && vs.Address != nil && vs.Address.Host == "192.0.2.4" {
			t.Errorf("virtual server %d is not the running one", i)
		}
	}
}

// TestReuseReadsAllAfterManyChanges: once more than a quarter of the
// virtual servers (and staleMin) were read anew since the last load that
// read them all, the next load reads every block again (the blocks taken
// over keep their chunks, and the dead places in them, alive), and the
// one after it reuses again.
func TestReuseReadsAllAfterManyChanges(t *testing.T) {
	conf := func(weight int) []byte {
		var b strings.Builder
		for i := range 600 {
			fmt.Fprintf(&b, "virtual_server 192.0.2.%d %d {\n    protocol TCP\n    real_server 198.51.100.1 80 {\n        weight %d\n    }\n}\n", i%250+1, 1000+i/250, weight)
		}
		return []byte(b.String())
	}
	f := filepath.Join(t.TempDir(), "many.conf")
	r := NewReuse()
	step := func(weight, reused, read int) {
		t.Helper()
		loadReuse(t, f, conf(weight), r, nil)
		r.Commit()
		if r.Reused != reused || r.Read != read {
			t.Errorf("weight %d: %d reused and %d read, want %d and %d", weight, r.Reused, r.Read, reused, read)
		}
	}
	step(1, 0, 600)
	step(1, 600, 0)
	step(2, 0, 600) // every block changed: 600 read since a full load
	step(2, 0, 600) // so this one reads them all
	step(2, 600, 0)
}

// TestFillHashes: a record the parse left unhashed takes the hash of the
// lexer's block with the same first and last lines; one the lexer has no
// such block for is not kept; a hashed one is left as it is.
func TestFillHashes(t *testing.T) {
	b := &lexBlocks{regions: []blockLines{{start: 1, end: 5, hash: 11}, {start: 9, end: 12, hash: 22}, {start: 20, end: 30, hash: 33}}}
	recs := []*blockRecord{
		{blockLines: blockLines{start: 1, end: 5}, keep: true, unhashed: true},
		{blockLines: blockLines{start: 9, end: 11}, keep: true, unhashed: true},  // ends elsewhere
		{blockLines: blockLines{start: 14, end: 16}, keep: true, unhashed: true}, // no block there
		{blockLines: blockLines{start: 20, end: 30, hash: 7}, keep: true},        // hashed by the parse
	}
	b.fillHashes(recs)
	want := []struct {
		hash uint64
		keep bool
	}{{11, true}, {0, false}, {0, false}, {7, true}}
	for i, r := range recs {
		if r.hash != want[i].hash || r.keep != want[i].keep || r.unhashed {
			t.Errorf("record %d: hash %d keep %v unhashed %v, want hash %d keep %v", i, r.hash, r.keep, r.unhashed, want[i].hash, want[i].keep)
		}
	}
}
