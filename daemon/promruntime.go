package daemon

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The go_* and process_* families that client_golang's Go and process
// collectors exported, with the same names, types and help texts, read
// from the runtime and /proc at each scrape.

type promFamily struct {
	name string
	fn   func(p *promWriter)
}

// gauge is a family of one unlabelled gauge.
func gauge(name, help string, v float64) promFamily {
	return promFamily{name, func(p *promWriter) { p.family(name, help, "gauge"); p.sample(name, nil, nil, "", "", v) }}
}

// counter is a family of one unlabelled counter.
func counter(name, help string, v float64) promFamily {
	return promFamily{name, func(p *promWriter) { p.family(name, help, "counter"); p.sample(name, nil, nil, "", "", v) }}
}

// goFamilies reads the Go runtime's figures.
func goFamilies() []promFamily {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rm := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"},
		{Name: "/sched/gomaxprocs:threads"}, {Name: "/sched/threads/total:threads"}}
	rtmetrics.Read(rm)
	u := func(i int) float64 {
		if rm[i].Value.Kind() == rtmetrics.KindUint64 {
			return float64(rm[i].Value.Uint64())
		}
		return 0
	}
	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&gc)
	const m = "go_memstats_"
	f := []promFamily{
		{"go_gc_duration_seconds", func(p *promWriter) {
			const n = "go_gc_duration_seconds"
			p.family(n, "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", "summary")
			for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
				p.sample(n, nil, nil, "quantile", q, gc.PauseQuantiles[i].Seconds())
			}
			p.sample(n+"_sum", nil, nil, "", "", gc.PauseTotal.Seconds())
			p.sample(n+"_count", nil, nil, "", "", float64(gc.NumGC))
		}},
		gauge("go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100. This value is set by the GOGC environment variable, and the runtime/debug.SetGCPercent function. Sourced from /gc/gogc:percent.", u(0)),
		gauge("go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes.", u(1)),
		gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine())),
		{"go_info", func(p *promWriter) {
			p.family("go_info", "Information about the Go environment.", "gauge")
			p.sample("go_info", []string{"version"}, []string{runtime.Version()}, "", "", 1)
		}},
		gauge(m+"alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", float64(ms.Alloc)),
		counter(m+"alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", float64(ms.TotalAlloc)),
		gauge(m+"buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", float64(ms.BuckHashSys)),
		counter(m+"frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", float64(ms.Frees)),
		gauge(m+"gc_sys_bytes", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", float64(ms.GCSys)),
		gauge(m+"heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", float64(ms.HeapAlloc)),
		gauge(m+"heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", float64(ms.HeapIdle)),
		gauge(m+"heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", float64(ms.HeapInuse)),
		gauge(m+"heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", float64(ms.HeapObjects)),
		gauge(m+"heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", float64(ms.HeapReleased)),
		gauge(m+"heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", float64(ms.HeapSys)),
		gauge(m+"last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", float64(ms.LastGC)/1e9),
		counter(m+"mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", float64(ms.Mallocs)),
		gauge(m+"mcache_inuse_bytes", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", float64(ms.MCacheInuse)),
		gauge(m+"mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", float64(ms.MCacheSys)),
		gauge(m+"mspan_inuse_bytes", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", float64(ms.MSpanInuse)),
		gauge(m+"mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", float64(ms.MSpanSys)),
		gauge(m+"next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", float64(ms.NextGC)),
		gauge(m+"other_sys_bytes", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", float64(ms.OtherSys)),
		gauge(m+"stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", float64(ms.StackInuse)),
		gauge(m+"stack_sys_bytes", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", float64(ms.StackSys)),
		gauge(m+"sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", float64(ms.Sys)),
		gauge("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously. Sourced from /sched/gomaxprocs:threads.", u(2)),
		gauge("go_threads", "Number of OS threads created.", u(3)),
	}
	return f
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on
// every Linux architecture Go supports).
const clockTicks = 100

// processFamilies reads /proc/self. A figure that cannot be read is left
// out, as client_golang did.
func processFamilies() []promFamily {
	var f []promFamily
	if stat, err := os.ReadFile("/proc/self/stat"); err == nil {
		// Fields after "(comm)": state is [0], so field N of proc(5) is [N-3].
		s := string(stat)
		fs := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		num := func(i int) float64 {
			if i >= len(fs) {
				return 0
			}
			v, _ := strconv.ParseFloat(fs[i], 64)
			return v
		}
		utime, stime, start, vsize, rss := num(14-3), num(15-3), num(22-3), num(23-3), num(24-3)
		f = append(f,
			counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", (utime+stime)/clockTicks),
			gauge("process_resident_memory_bytes", "Resident memory size in bytes.", rss*float64(os.Getpagesize())),
			gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", vsize))
		if bt := bootTime(); bt > 0 {
			f = append(f, gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", bt+start/clockTicks))
		}
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		f = append(f, gauge("process_open_fds", "Number of open file descriptors.", float64(len(ents))))
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		f = append(f, gauge("process_max_fds", "Maximum number of open file descriptors.", float64(rl.Cur)))
	}
	if unix.Getrlimit(unix.RLIMIT_AS, &rl) == nil {
		f = append(f, gauge("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", float64(rl.Cur)))
	}
	if rx, tx, ok := netDevTotals(); ok {
		f = append(f,
			counter("process_network_receive_bytes_total", "Number of bytes received by the process over the network.", rx),
			counter("process_network_transmit_bytes_total", "Number of bytes sent by the process over the network.", tx))
	}
	return f
}

// bootTime is the btime line of /proc/stat.
func bootTime() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			t, _ := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
			return t
		}
	}
	return 0
}

// netDevTotals sums the received and sent bytes of every interface of
// the process's network namespace (/proc/self/net/dev).
func netDevTotals() (rx, tx float64, ok bool) {
	b, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		_, rest, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) < 9 {
			continue
		}
		r, err1 := strconv.ParseFloat(fs[0], 64)
		t, err2 := strconv.ParseFloat(fs[8], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		rx, tx = rx+r, tx+t
	}
	return rx, tx, true
}
