package daemon

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/ipvs"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
)

// memIPVS is an in-memory IPVS table: a Handle that takes batches
// (ApplyOps) as the kernel's does, and counts real servers by weight.
type memIPVS struct {
	mu    sync.Mutex
	dests map[lvs.ServiceKey]map[lvs.DestKey]int // weight
}

func newMemIPVS() *memIPVS { return &memIPVS{dests: map[lvs.ServiceKey]map[lvs.DestKey]int{}} }

func (m *memIPVS) GetServices() ([]*ipvs.Service, error) { return nil, nil }
func (m *memIPVS) GetDestinations(*ipvs.Service) ([]*ipvs.Destination, error) {
	return nil, nil
}
func (m *memIPVS) NewService(*ipvs.Service) error    { return nil }
func (m *memIPVS) UpdateService(*ipvs.Service) error { return nil }
func (m *memIPVS) DelService(s *ipvs.Service) error {
	sk, _ := memKeys(s, &ipvs.Destination{Address: s.Address})
	_, err := m.ApplyOps([]lvs.Op{{Kind: lvs.DelService, Service: lvs.Service{Key: sk}}})
	return err
}

// The one-change path (a pass of one change does not batch).
func memKeys(s *ipvs.Service, d *ipvs.Destination) (lvs.ServiceKey, lvs.DestKey) {
	sa, _ := netip.AddrFromSlice(s.Address)
	da, _ := netip.AddrFromSlice(d.Address)
	return lvs.ServiceKey{Family: s.AddressFamily, Protocol: s.Protocol, Addr: sa.Unmap(), Port: s.Port, FWMark: s.FWMark},
		lvs.DestKey{Addr: da.Unmap(), Port: d.Port}
}

func (m *memIPVS) NewDestination(s *ipvs.Service, d *ipvs.Destination) error {
	sk, dk := memKeys(s, d)
	_, err := m.ApplyOps([]lvs.Op{{Kind: lvs.AddDest, Service: lvs.Service{Key: sk}, Dest: lvs.Dest{Key: dk, Weight: d.Weight}}})
	return err
}

func (m *memIPVS) UpdateDestination(s *ipvs.Service, d *ipvs.Destination) error {
	return m.NewDestination(s, d)
}

func (m *memIPVS) DelDestination(s *ipvs.Service, d *ipvs.Destination) error {
	sk, dk := memKeys(s, d)
	_, err := m.ApplyOps([]lvs.Op{{Kind: lvs.DelDest, Service: lvs.Service{Key: sk}, Dest: lvs.Dest{Key: dk}}})
	return err
}

// ApplyOps records the changes.
func (m *memIPVS) ApplyOps(ops []lvs.Op) ([]error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, op := range ops {
		k := op.Service.Key
		switch op.Kind {
		case lvs.AddService:
			if m.dests[k] == nil {
				m.dests[k] = map[lvs.DestKey]int{}
			}
		case lvs.DelService:
			delete(m.dests, k)
		case lvs.AddDest, lvs.UpdateDest:
			if m.dests[k] == nil {
				m.dests[k] = map[lvs.DestKey]int{}
			}
			m.dests[k][op.Dest.Key] = op.Dest.Weight
		case lvs.DelDest:
			delete(m.dests[k], op.Dest.Key)
		}
	}
	return make([]error, len(ops)), nil
}

// count is the number of real servers (with weight w, if w >= 0).
func (m *memIPVS) count(w int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, ds := range m.dests {
		for _, dw := range ds {
			if w < 0 || dw == w {
				n++
			}
		}
	}
	return n
}

// writeBigConf writes bench/ipvs.sh's configuration: vs virtual servers of
// rs real servers, weight 1 but for the first real server of virtual
// server one, whose weight is w1.
func writeBigConf(t testing.TB, path string, vs, rs, one, w1 int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	for n := 0; n < vs; n++ {
		fmt.Fprintf(w, "virtual_server 198.51.%d.%d %d {\n\tprotocol TCP\n\tlb_algo rr\n\tlb_kind NAT\n", 100+n/50000, n%250+1, 1024+n/250)
		for j := 0; j < rs; j++ {
			weight := 1
			if n == one && j == 0 {
				weight = w1
			}
			fmt.Fprintf(w, "\treal_server 192.0.2.%d %d {\n\t\tweight %d\n\t}\n", 10+(n+j)%200, 8080+j, weight)
		}
		fmt.Fprintf(w, "}\n")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// loadEffective loads path as kt run does (mapped, parsed, then Effective), with
// reuse (nil: without).
func loadEffective(path string, reuse *config.Reuse) (*config.Config, config.Diagnostics, error) {
	cfg, diags, err := config.Load(path, config.FormatAuto, config.ParseOptions{Reuse: reuse, MapLarge: true})
	if err != nil {
		return nil, diags, err
	}
	eff, vd := config.Effective(cfg, config.EffectiveOptions{Reuse: reuse})
	diags = append(diags, vd...)
	if len(diags.Refusals(false)) > 0 {
		return nil, diags, fmt.Errorf("%s: refused", path)
	}
	return eff, diags, nil
}

// rssKB is the process's VmRSS.
func rssKB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestBigMemProfile loads bench/ipvs.sh's 10,000 x 4 file into a daemon
// over an in-memory IPVS table, reloads it with one real server changed,
// and reports the live heap (KT_BIGMEM_PROF=DIR writes heap profiles).
// A measurement, run by hand: go test -run '^$' -bench BigMemProfile
// -benchtime 1x -v ./daemon/ (one load and one reload whatever b.N is).
func BenchmarkBigMemProfile(b *testing.B) {
	t := b
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	const vs, rs = 10000, 4
	writeBigConf(t, path, vs, rs, vs/2, 1)
	base := heapInUse()
	prof := os.Getenv("KT_BIGMEM_PROF")
	if prof != "" {
		defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
		runtime.MemProfileRate = 4096
	}
	snap := func(name string) {
		h := heapInUse()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mib := func(v uint64) float64 { return float64(v) / (1 << 20) }
		t.Logf("%s: live heap %.1f MiB above the start, RSS %.1f MiB; heap in use %.1f, idle %.1f, released %.1f, sys %.1f MiB",
			name, float64(h-base)/(1<<20), float64(rssKB())/1024, mib(ms.HeapInuse), mib(ms.HeapIdle), mib(ms.HeapReleased), mib(ms.Sys))
		if prof != "" {
			f, err := os.Create(filepath.Join(prof, name+".pprof"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	// As kt run reloads: taking the unchanged blocks as they run
	// (KT_BIGMEM_NOREUSE=1: reading them all again).
	var reuse *config.Reuse
	if os.Getenv("KT_BIGMEM_NOREUSE") == "" {
		reuse = config.NewReuse()
	}
	cfg, _, err := loadEffective(path, reuse)
	if err != nil {
		t.Fatal(err)
	}
	snap("loaded")
	d, h := newMemDaemon(t, cfg, path, reuse, nil)
	cfg = nil
	ctx := runMemDaemon(t, d)
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("full load", func() bool { return h.count(-1) == vs*rs })
	time.Sleep(200 * time.Millisecond)
	snap("running")
	writeBigConf(t, path, vs, rs, vs/2, 3)
	var peak uint64
	var peakRSS int
	rss0 := rssKB()
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			peakRSS = max(peakRSS, rssKB())
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	start, cpu0 := time.Now(), cpuTime()
	d.ReloadFile(ctx)
	wait("reload", func() bool { return h.count(3) == 1 })
	took, cpu := time.Since(start), cpuTime()-cpu0
	close(stop)
	<-sampled
	t.Logf("reload applied in %v (CPU %v); heap peak during it %.1f MiB above the start; RSS %.1f MiB before, %.1f MiB peak",
		took, cpu, float64(peak-base)/(1<<20), float64(rss0)/1024, float64(peakRSS)/1024)
	time.Sleep(200 * time.Millisecond)
	snap("reloaded")
}
