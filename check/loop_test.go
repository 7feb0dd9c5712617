package check

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/internal/testenv"
	"github.com/kt-project/kt/internal/testnet"
)

// loopAttempt runs one attempt of c through a Scheduler on the wall
// clock, which runs it on its event loop, and returns the result. It
// fails the test if c is not one the loop runs.
func loopAttempt(t *testing.T, c Checker) Result {
	t.Helper()
	got := make(chan Result, 1)
	s := NewScheduler([]Job{{Server: &Server{Key: "k", Name: "k"}, Checker: c, DelayLoop: time.Hour}},
		Options{OnResult: func(_ *Job, r Result) {
			select {
			case got <- r:
			default:
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case r := <-got:
		s.mu.Lock()
		looped := s.looped
		s.mu.Unlock()
		if looped != 1 {
			t.Fatalf("%s: %d jobs on the event loop, want 1", c, looped)
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no result from the event loop in 30 s", c)
	}
	return Result{}
}

// sameResult fails the test when the event loop's result differs from
// the blocking checker's in anything but the duration.
func sameResult(t *testing.T, loopR, want Result) {
	t.Helper()
	if loopR.Duration <= 0 {
		t.Errorf("loop result has no duration: %+v", loopR)
	}
	loopR.Duration, want.Duration = 0, 0
	lh, wh := loopR.HTTP, want.HTTP
	loopR.HTTP, want.HTTP = nil, nil
	if loopR != want {
		t.Errorf("event loop:\n  %+v\nblocking Check:\n  %+v", loopR, want)
	}
	if (lh == nil) != (wh == nil) || lh != nil && *lh != *wh {
		t.Errorf("event loop HTTP result %+v, blocking Check's %+v", lh, wh)
	}
}

// fullBacklogTCP is a listening address whose accept queue is full: a
// connect to it waits for an answer that does not come.
func fullBacklogTCP(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	// Connect until a connect goes unanswered after one was queued: the
	// queue is full then (a backlog of 0 holds one connection).
	queued := 0
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			if queued > 0 {
				return addr
			}
			continue // slow rather than full
		}
		queued++
		t.Cleanup(func() { c.Close() })
	}
	testenv.Missing(t, "a listener whose accept queue fills (8 connects were all answered)")
	return ""
}

// TestLoopAsCheck runs HTTP_GET and TCP_CHECK attempts through the event
// loop and through the blocking Check against the same servers: every
// result (OK, reason, stage, timeout, what was read) must be the same.
func TestLoopAsCheck(t *testing.T) {
	web := httptest.NewServer(page())
	t.Cleanup(web.Close)
	addr := web.Listener.Addr().String()
	split := testnet.ServeTCP(t, func(c net.Conn) {
		readRequest(c)
		for _, part := range []string{"HTTP/1.1 200 OK\r\nConte", "nt-Length: 5\r\n", "\r\nhel", "lo and more"} {
			if _, err := io.WriteString(c, part); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	noLength := testnet.ServeTCP(t, func(c net.Conn) {
		readRequest(c)
		_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n"+strings.Repeat("x", 10000))
		c.Close()
	})
	halfHeader := testnet.ServeTCP(t, func(c net.Conn) {
		readRequest(c)
		_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nX-A: b")
		c.Close()
	})
	silent := testnet.SilentTCP(t)
	refused := testnet.UnusedTCP(t)
	full := fullBacklogTCP(t)
	const short = 200 * time.Millisecond
	dig := md5hex("hello, checker\n")

	checkers := []struct {
		name string
		c    Checker
	}{}
	addHTTP := func(name string, opt HTTPOptions) {
		if opt.Addr == "" {
			opt.Addr = addr
		}
		checkers = append(checkers, struct {
			name string
			c    Checker
		}{name, newHTTP(t, opt)})
	}
	addTCP := func(name string, d Dial) {
		c, err := NewTCP(TCPOptions{d})
		if err != nil {
			t.Fatal(err)
		}
		checkers = append(checkers, struct {
			name string
			c    Checker
		}{name, c})
	}
	addHTTP("healthy", HTTPOptions{URLs: []URL{{Path: "/ok"}}})
	addHTTP("digest matches", HTTPOptions{URLs: []URL{{Path: "/ok", Digest: dig}}})
	addHTTP("large body", HTTPOptions{URLs: []URL{{Path: "/big"}}})
	addHTTP("wrong status", HTTPOptions{URLs: []URL{{Path: "/down"}}})
	addHTTP("wrong digest", HTTPOptions{URLs: []URL{{Path: "/ok", Digest: md5hex("other")}}})
	addHTTP("virtualhost", HTTPOptions{Virtualhost: "www.example.test", URLs: []URL{{Path: "/vhost"}}})
	addHTTP("every url must pass", HTTPOptions{URLs: []URL{{Path: "/ok"}, {Path: "/vhost"}, {Path: "/ok"}}})
	addHTTP("every url passes", HTTPOptions{URLs: []URL{{Path: "/ok"}, {Path: "/big", Digest: md5hex(strings.Repeat("0123456789abcdef", 6400))}}})
	addHTTP("no data", HTTPOptions{URLs: []URL{{Path: "/close"}}})
	addHTTP("http 1.1", HTTPOptions{Protocol: "1.1", URLs: []URL{{Path: "/ok"}}})
	addHTTP("no urls", HTTPOptions{})
	addHTTP("bindto", HTTPOptions{Dial: Dial{BindTo: "127.0.0.1"}, URLs: []URL{{Path: "/ok"}}})
	addHTTP("bad bindto family", HTTPOptions{Dial: Dial{BindTo: "::1"}, URLs: []URL{{Path: "/ok"}}})
	addHTTP("response in pieces", HTTPOptions{Dial: Dial{Addr: split}, URLs: []URL{{Path: "/"}}})
	addHTTP("no content length", HTTPOptions{Dial: Dial{Addr: noLength}, URLs: []URL{{Path: "/"}}})
	addHTTP("header cut short", HTTPOptions{Dial: Dial{Addr: halfHeader}, URLs: []URL{{Path: "/"}}})
	addHTTP("refused", HTTPOptions{Dial: Dial{Addr: refused}, URLs: []URL{{Path: "/"}}})
	addHTTP("second url refused", HTTPOptions{Dial: Dial{Addr: refused}, URLs: []URL{{Path: "/"}, {Path: "/"}}})
	addHTTP("no answer", HTTPOptions{Dial: Dial{Addr: silent, Timeout: short}, URLs: []URL{{Path: "/"}}})

	addTCP("tcp open", Dial{Addr: addr})
	addTCP("tcp refused", Dial{Addr: refused})
	addTCP("tcp bad bindto", Dial{Addr: addr, BindTo: "::1"})
	for _, c := range checkers {
		t.Run(c.name, func(t *testing.T) {
			sameResult(t, loopAttempt(t, c.c), c.c.Check(context.Background()))
		})
	}
	// A connect that is never answered: the result the blocking Check
	// gives then, written out (run against the same listener, under load
	// the blocking Check's connect was once answered: a full accept queue
	// is not a reliable black hole for two connects in a row).
	t.Run("connect timeout", func(t *testing.T) {
		h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: full, Timeout: short}, URLs: []URL{{Path: "/"}}})
		sameResult(t, loopAttempt(t, h), Result{Reason: "timeout after 200ms", Stage: StageConnect, Timeout: true})
	})
	t.Run("tcp connect timeout", func(t *testing.T) {
		c, err := NewTCP(TCPOptions{Dial{Addr: full, Timeout: short}})
		if err != nil {
			t.Fatal(err)
		}
		sameResult(t, loopAttempt(t, c), Result{Reason: "timeout after 200ms"})
	})
}

// TestLoopHostileServers: the event loop ends an attempt against a
// hostile server within its connect_timeout, as the blocking check does.
func TestLoopHostileServers(t *testing.T) {
	const ok200 = "HTTP/1.0 200 OK\r\n"
	servers := []struct {
		name   string
		handle func(net.Conn)
		want   []string
	}{
		{"endless body", func(c net.Conn) { readRequest(c); _, _ = io.WriteString(c, ok200+"\r\n"); endless(c, "x") },
			[]string{"body longer than", "timeout after"}},
		{"slow body under a huge Content-Length", func(c net.Conn) {
			readRequest(c)
			_, _ = io.WriteString(c, ok200+"Content-Length: 1000000000\r\n\r\n")
			slowly(c, "x")
		}, []string{"read body: timeout after 300ms"}},
		{"status line a byte at a time", func(c net.Conn) { readRequest(c); trickle(c, strings.Repeat(ok200, 100)) },
			[]string{"read response: timeout after 300ms"}},
		{"endless header", func(c net.Conn) { readRequest(c); _, _ = io.WriteString(c, ok200); endless(c, "X-A: b\r\n") },
			[]string{"HTTP header longer than"}},
		{"never reads the request", func(c net.Conn) { time.Sleep(time.Second) },
			[]string{"read response: timeout after 300ms"}},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: testnet.ServeTCP(t, s.handle), Timeout: hostileTimeout},
				URLs: []URL{{Path: "/"}}})
			r := loopAttempt(t, h)
			wantFailed(t, r, s.want)
			if r.Duration > 10*hostileTimeout {
				t.Errorf("attempt took %s, connect_timeout %s", r.Duration, hostileTimeout)
			}
		})
	}
}

// TestLoopScheduler runs jobs on the event loop with the wall clock: a
// server going down and coming back is reported, the worker bound holds,
// checkers the loop does not run still run (on timers), and stopping
// closes every socket.
func TestLoopScheduler(t *testing.T) {
	var down atomic.Bool
	var conns, peak atomic.Int32
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := conns.Add(1)
		defer conns.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, "page")
	}))
	web.Config.SetKeepAlivesEnabled(false)
	web.Start()
	t.Cleanup(web.Close)
	addr := web.Listener.Addr().String()
	fdsBefore := openFDs(t)

	var jobs []Job
	servers := make([]*Server, 4)
	for i := range servers {
		servers[i] = &Server{Key: fmt.Sprint(i), Name: fmt.Sprint("rs", i), Weight: 1}
		h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: addr, Timeout: time.Second}, URLs: []URL{{Path: "/"}}})
		jobs = append(jobs, Job{Server: servers[i], Checker: h, DelayLoop: 20 * time.Millisecond,
			DelayBeforeRetry: 20 * time.Millisecond})
	}
	// A checker the loop does not run: its own Check, on a timer.
	other := &Server{Key: "other", Name: "other", Weight: 1}
	var otherRuns atomic.Int32
	jobs = append(jobs, Job{Server: other, Checker: funcChecker(func() Result { otherRuns.Add(1); return okR }),
		DelayLoop: 20 * time.Millisecond})

	var mu sync.Mutex
	var trs []string
	s := NewScheduler(jobs, Options{Workers: 2, OnTransition: func(tr Transition) {
		mu.Lock()
		trs = append(trs, tr.String())
		mu.Unlock()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for start := time.Now(); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Since(start) > 20*time.Second {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s: not in 20 s; transitions %q", what, trs)
			}
		}
	}
	count := func(word string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, tr := range trs {
			if strings.Contains(tr, word) {
				n++
			}
		}
		return n
	}
	time.Sleep(100 * time.Millisecond)
	down.Store(true)
	waitFor("4 servers DOWN", func() bool { return count(" DOWN: HTTP status 503 (want 200-299)") == 4 })
	down.Store(false)
	waitFor("4 servers UP", func() bool { return count(" UP: HTTP status 200") == 4 })
	waitFor("the other checker runs", func() bool { return otherRuns.Load() >= 3 })
	cancel()
	<-done
	s.mu.Lock()
	looped := s.looped
	s.mu.Unlock()
	if looped != 4 {
		t.Errorf("%d jobs on the event loop, want 4", looped)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("%d requests at once, want at most 2 (Workers)", p)
	}
	noMoreFDs(t, fdsBefore)
}

// TestLoopStopsUnderWay: Run returns at once when stopped with attempts
// under way (connecting to a server that does not answer), and closes
// their sockets.
func TestLoopStopsUnderWay(t *testing.T) {
	silent := fullBacklogTCP(t)
	fdsBefore := openFDs(t)
	var jobs []Job
	for i := range 20 {
		h := newHTTP(t, HTTPOptions{Dial: Dial{Addr: silent, Timeout: time.Minute}, URLs: []URL{{Path: "/"}}})
		jobs = append(jobs, Job{Server: &Server{Key: fmt.Sprint(i)}, Checker: h, DelayLoop: time.Second})
	}
	s := NewScheduler(jobs, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	time.Sleep(200 * time.Millisecond)
	if n := openFDs(t); n < fdsBefore+20 {
		t.Errorf("%d descriptors open with 20 attempts under way, %d before", n, fdsBefore)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5 s after its context was cancelled")
	}
	noMoreFDs(t, fdsBefore)
}

// noMoreFDs fails the test unless the process's descriptors come back to
// before within a few seconds (a test server may close its side late; a
// leaked socket never comes back).
func noMoreFDs(t *testing.T, before int) {
	t.Helper()
	n := openFDs(t)
	for start := time.Now(); n > before && time.Since(start) < 5*time.Second; n = openFDs(t) {
		time.Sleep(20 * time.Millisecond)
	}
	if n > before {
		t.Errorf("%d descriptors open after Run, %d before", n, before)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testenv.Missing(t, "/proc/self/fd: "+err.Error())
	}
	return len(ents)
}

// funcChecker is a Checker made of a function (one the loop does not run).
type funcChecker func() Result

func (f funcChecker) Check(context.Context) Result { return f() }
func (f funcChecker) String() string               { return "FUNC" }

// TestLoopHeap: the loop's timer heap gives its tasks in time order.
func TestLoopHeap(t *testing.T) {
	l := &loop{}
	var ts []*loopTask
	for i, w := range []time.Duration{5, 3, 9, 1, 7, 3, 8, 2} {
		t := &loopTask{idx: int32(i), when: w, hidx: -1}
		ts = append(ts, t)
		l.push(t)
	}
	l.remove(ts[2]) // 9
	var got []int
	for len(l.heap) > 0 {
		got = append(got, int(l.pop().when))
	}
	if fmt.Sprint(got) != "[1 2 3 3 5 7 8]" {
		t.Errorf("heap order %v", got)
	}
}

// TestLoopYields: a loop that always has work (failing connects, due
// again at once) still lets the process's other goroutines run with
// GOMAXPROCS=1. Its system calls are raw, so the runtime's sysmon thread,
// asleep since every P was idle (here: the first checks are due 300 ms
// after Run starts, and nothing else waits on a timer), would never
// preempt it: a signal's goroutine would wait for ever (the collector is
// off, or its stops would let the goroutine run). A helper process
// sends SIGUSR1 once the loop is busy, and SIGQUIT 20 s later, which ends
// a starved test binary with every goroutine's stack.
func TestLoopYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	defer signal.Stop(sig)
	refused := testnet.UnusedTCP(t)
	var jobs []Job
	for i := range 50 {
		c, err := NewTCP(TCPOptions{Dial{Addr: refused}})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, Job{Server: &Server{Key: fmt.Sprint(i)}, Checker: c, DelayLoop: time.Microsecond,
			DelayBeforeRetry: time.Microsecond, Warmup: 300 * time.Millisecond})
	}
	var attempts atomic.Int64
	s := NewScheduler(jobs, Options{OnResult: func(*Job, Result) { attempts.Add(1) },
		Rand: rand.New(maxSource{})}) // every first check at the end of its warmup
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	pid := os.Getpid()
	helper := exec.Command("sh", "-c", fmt.Sprintf("sleep 0.8; kill -USR1 %d; sleep 20; kill -QUIT %d", pid, pid))
	if err := helper.Start(); err != nil {
		testenv.Missing(t, "sh to send the signal: "+err.Error())
	}
	defer func() { _ = helper.Process.Kill(); _ = helper.Wait() }()
	<-sig // no timer here: see above
	if n := attempts.Load(); n < 100 {
		t.Errorf("%d attempts when the signal came: the loop was not busy", n)
	}
	cancel()
	<-done
}

// maxSource makes rand.Rand return the top of every range.
type maxSource struct{}

func (maxSource) Uint64() uint64 { return math.MaxUint64 }
