package check

import (
	"context"
	"crypto/md5"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The event loop runs the attempts of a Scheduler's HTTP_GET and
// TCP_CHECK jobs (to an IP address, without TLS) on one goroutine, as
// keepalived's checker process runs all of its checks on one thread
// (lib/scheduler.c): an epoll set of its own holds the checks' sockets
// and a timerfd for the earliest due time in a heap of its jobs, and the
// goroutine waits for that set through the runtime's poller, which sees
// it as one readable descriptor. Every system call of a check (socket,
// connect, getsockopt, write, read, close, epoll_ctl, timerfd_settime,
// epoll_wait with no timeout) is a raw one that never blocks.
//
// Why not a goroutine per attempt woken by a runtime timer: each check
// then started a goroutine from the timer (which wakes an idle thread to
// look for work when GOMAXPROCS > 1), parked and readied it on the
// poller at each step, armed a runtime timer for its deadline, and
// registered and unregistered its socket with the runtime's poller; the
// close and the os.File's set-up went through entersyscall, which wakes
// the runtime's sysmon thread whenever every P was idle. Measured in the
// IPVS test VM that was about 6 context switches per check against
// keepalived's 1.4, and under the VM's emulation a context switch is
// most of a check's cost. Here the runtime sees one goroutine that
// parks on one descriptor and is readied when the kernel has news; the
// thread that runs it is the one that waited.
//
// Attempts run here judge their responses with the same code as the
// blocking checkers (httpResponse, describe, the errors dial makes), so
// results and reasons are the same; loop_test.go compares both on the
// same servers.

// loopSpec is what the event loop needs of a checker it can run.
type loopSpec struct {
	plan    *tcpPlan
	timeout time.Duration
	http    *HTTP // nil: a TCP_CHECK (connect, then close)
}

// loopRunner is a Checker whose attempts the event loop can run; loopSpec
// returns nil when this one cannot (TLS, a host name, a trace).
type loopRunner interface {
	loopSpec() *loopSpec
}

func (h *HTTP) loopSpec() *loopSpec {
	if h.opt.TLS || h.plan == nil || h.opt.Trace != nil {
		return nil
	}
	return &loopSpec{plan: h.plan, timeout: h.opt.timeout(), http: h}
}

func (t *TCP) loopSpec() *loopSpec {
	if t.plan == nil {
		return nil
	}
	return &loopSpec{plan: t.plan, timeout: t.opt.timeout()}
}

// A task's states.
const (
	taskIdle       = iota // waiting for its next due time
	taskQueued            // due, waiting for a free worker
	taskConnecting        // connect under way
	taskSending           // writing the request
	taskReading           // reading the response
)

// loopTask is one job of the loop and its attempt under way.
type loopTask struct {
	js    *jobState
	spec  *loopSpec
	idx   int32         // in loop.tasks
	hidx  int           // in loop.heap; -1 when not there
	when  time.Duration // due time or attempt deadline, since loop.base
	state uint8
	// watched: fd is in the epoll set; inReady: the set reported it
	// readable (or closed) before the request was out, an edge that will
	// not come again.
	watched, inReady bool
	fd               int    // -1: none
	gen              uint32 // tells this socket's events from an earlier one's
	// The attempt under way.
	start  time.Time // the attempt's start
	ustart time.Time // this URL's start
	url    int
	sent   int
	resp   httpResponse
}

// loop is the event loop of one Scheduler.Run.
type loop struct {
	s        *Scheduler
	ctx      context.Context
	ep       int // epoll set
	tfd      int // timerfd, in ep
	epf      *os.File
	rc       syscall.RawConn
	stopping atomic.Bool
	base     time.Time
	armed    time.Duration // when the timerfd is set to go off; -1: not set
	deadline time.Time     // ctx's deadline, if it has one
	tasks    []*loopTask
	heap     []*loopTask
	queue    []*loopTask // due, waiting for a worker
	busy     int         // attempts under way
	workers  int
	events   [128]unix.EpollEvent
	n        int // events ready in events
	calls    int // calls of ready in this wait: > 1 when the loop parked
	buf      [4096]byte
}

// yieldAfter is how long the loop runs without parking before it lets the
// process's other goroutines run: the runtime's own time slice (sysmon
// preempts a goroutine after 10 ms). Each yield costs: runtime.Gosched
// wakes an idle thread whenever a P is idle (GOMAXPROCS > 1), which finds
// nothing to do and sleeps again, two context switches. At 1 ms that
// happened on most checks where a check's own steps take over a
// millisecond, which is every check under the IPVS test VM's emulation
// and many on a loaded host (the thread preempted between a wake-up and
// the next park): 1.2 futex calls per check on the host with 50 servers,
// and the main cause of kt with GOMAXPROCS=2 costing more per check than
// with GOMAXPROCS=1 in the VM.
const yieldAfter = 10 * time.Millisecond

// timerGrid is the step of the times the timerfd goes off at (since
// loop.base): the earliest due time or deadline is rounded up to it, so
// that checks due within one step start in one wake-up of the loop, and
// their requests go out together and their responses often come back in
// one wake-up too. At 50 checks a second due at random times, a 20 ms grid
// has the loop woken by its timer about 32 times a second instead of 50
// (1 - 1/e of the 50 slots hold a check); a check starts at most 20 ms
// after its due time (keepalived starts its checks on time, give or take
// its loop's own latency; delay_loop is whole seconds by default, and a
// timeout fires at most 20 ms late). Wake-ups are most of a check's cost
// where a context switch is dear (the VM's emulation).
const timerGrid = 20 * time.Millisecond

// onGrid rounds d up to the timer grid.
func onGrid(d time.Duration) time.Duration {
	return (d + timerGrid - 1) / timerGrid * timerGrid
}

// tfdIndex marks the timerfd's events.
const tfdIndex = -1

// newLoop makes the loop's epoll set and timer, or returns an error when
// this kernel cannot (the Scheduler runs every job on timers then).
func newLoop(s *Scheduler, ctx context.Context, workers int) (*loop, error) {
	l := &loop{s: s, ctx: ctx, workers: workers, armed: -1, ep: -1, tfd: -1, base: time.Now()}
	if d, ok := ctx.Deadline(); ok {
		l.deadline = d
	}
	var err error
	if l.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("check loop: epoll_create1: %w", err)
	}
	if l.tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
		l.close()
		return nil, fmt.Errorf("check loop: timerfd_create: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: tfdIndex}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, l.tfd, &ev); err != nil {
		l.close()
		return nil, fmt.Errorf("check loop: add timerfd: %w", err)
	}
	if err := unix.SetNonblock(l.ep, true); err != nil {
		l.close()
		return nil, fmt.Errorf("check loop: %w", err)
	}
	// Non-blocking, the epoll set is registered with the runtime's
	// poller (never call its Fd: that makes it blocking again).
	l.epf = os.NewFile(uintptr(l.ep), "check-epoll")
	if err := l.epf.SetReadDeadline(time.Time{}); err != nil {
		l.close()
		return nil, fmt.Errorf("check loop: the runtime's poller does not take an epoll set: %w", err)
	}
	if l.rc, err = l.epf.SyscallConn(); err != nil {
		l.close()
		return nil, fmt.Errorf("check loop: %w", err)
	}
	return l, nil
}

func (l *loop) close() {
	if l.tfd >= 0 {
		unix.Close(l.tfd)
		l.tfd = -1
	}
	if l.epf != nil {
		l.epf.Close()
	} else if l.ep >= 0 {
		unix.Close(l.ep)
	}
	l.ep = -1
}

// add makes js a job of the loop, first due d after the loop was made.
func (l *loop) add(js *jobState, spec *loopSpec, d time.Duration) {
	t := &loopTask{js: js, spec: spec, idx: int32(len(l.tasks)), hidx: -1, fd: -1}
	l.tasks = append(l.tasks, t)
	t.when = d
	l.push(t)
}

// run checks until ctx is done, then closes every socket.
func (l *loop) run() {
	stop := context.AfterFunc(l.ctx, func() {
		l.stopping.Store(true)
		_ = l.epf.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()
	defer l.close()
	defer func() {
		for _, t := range l.tasks {
			l.closeSocket(t)
		}
	}()
	lastPark := time.Now()
	ready := l.ready // one function value for every wait, not one per wait
	for !l.stopping.Load() {
		l.timers()
		l.n, l.calls = 0, 0
		if err := l.rc.Read(ready); err != nil {
			return // stopped (or the epoll set is gone)
		}
		n := l.n
		if l.calls > 1 {
			lastPark = time.Now()
		} else if time.Since(lastPark) > yieldAfter {
			// Busy for a while without parking (thousands of checks a
			// second): let the other goroutines run. With GOMAXPROCS=1
			// nothing else would preempt the loop: its system calls are
			// raw, so the runtime's sysmon thread, asleep since every P
			// was idle, is never woken to do it.
			runtime.Gosched()
			lastPark = time.Now()
		}
		for i := range l.events[:n] {
			ev := &l.events[i]
			if ev.Fd == tfdIndex {
				var b [8]byte
				rawRead(l.tfd, b[:])
				l.armed = -1
				continue
			}
			if int(ev.Fd) >= len(l.tasks) || ev.Fd < 0 {
				continue
			}
			t := l.tasks[ev.Fd]
			if t.fd < 0 || uint32(ev.Pad) != t.gen {
				continue // a closed socket's event
			}
			l.event(t, ev.Events)
		}
	}
}

// ready is the loop's wait condition: the events ready now, if any.
func (l *loop) ready(uintptr) bool {
	l.calls++
	l.n = l.poll()
	return l.n != 0
}

// poll returns the events ready now (never waits); -1 is returned as 1
// with no event so that a failing epoll_wait does not park the loop for
// ever (it cannot fail on a valid set).
func (l *loop) poll() int {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.ep), uintptr(unsafe.Pointer(&l.events[0])),
			uintptr(len(l.events)), 0, 0, 0)
		switch e {
		case 0:
			return int(r)
		case unix.EINTR:
			continue
		}
		return 0
	}
}

// timers runs what is due and sets the timerfd for what is next.
func (l *loop) timers() {
	for len(l.heap) > 0 {
		now := time.Since(l.base)
		t := l.heap[0]
		if t.when > now {
			if g := onGrid(t.when); g != l.armed {
				l.arm(g - now)
				l.armed = g
			}
			return
		}
		l.pop()
		if t.state == taskIdle {
			l.due(t)
		} else {
			l.timeout(t)
		}
	}
}

// arm sets the timerfd to go off after d (> 0).
func (l *loop) arm(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(l.tfd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
}

// due starts t's attempt, or queues it until a worker is free.
func (l *loop) due(t *loopTask) {
	if l.busy >= l.workers {
		t.state = taskQueued
		l.queue = append(l.queue, t)
		return
	}
	l.busy++
	t.start = time.Now()
	if t.spec.http != nil && len(t.spec.http.opt.URLs) == 0 {
		l.done(t, Result{OK: true, Reason: "no url to check", Duration: time.Since(t.start)})
		return
	}
	t.url = 0
	l.connect(t)
}

// connect opens t's connection (for its current URL) and starts the
// connect.
func (l *loop) connect(t *loopTask) {
	p := t.spec.plan
	t.ustart = time.Now()
	if p.err != nil {
		l.connectFailed(t, p.err)
		return
	}
	fd, err := p.socket()
	if err != nil {
		l.connectFailed(t, err)
		return
	}
	t.fd = fd
	t.gen++
	end := t.ustart.Add(t.spec.timeout)
	if !l.deadline.IsZero() && l.deadline.Before(end) {
		end = l.deadline
	}
	t.when = end.Sub(l.base)
	l.push(t)
	switch err := rawConnect(fd, p.rsa); err {
	case nil, unix.EISCONN:
		l.connected(t)
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		t.state = taskConnecting
		l.watch(t)
	default:
		l.connectFailed(t, p.dialErr(os.NewSyscallError("connect", err)))
	}
}

// sockEvents is what the epoll set watches on a check's socket, once for
// the socket's life: edge-triggered readable and writable, so that the
// connect's end (writable), a full send buffer's room (writable) and the
// response (readable) each wake the loop once without an epoll_ctl
// between the steps (one system call per check fewer than switching a
// level-triggered interest from writable to readable). Edge-triggered
// means an edge is not repeated: an event is kept for the step that
// needs it (inReady), and a read goes on until EAGAIN or the end.
const sockEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLET

// Events that tell a step to go on.
const (
	evOut = unix.EPOLLOUT | unix.EPOLLERR | unix.EPOLLHUP
	evIn  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLERR | unix.EPOLLHUP
)

// watch puts t's socket in the epoll set, if it is not there yet.
func (l *loop) watch(t *loopTask) {
	if t.watched {
		return
	}
	t.watched = true
	ev := unix.EpollEvent{Events: sockEvents, Fd: t.idx, Pad: int32(t.gen)}
	unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(l.ep), unix.EPOLL_CTL_ADD, uintptr(t.fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
}

// event is what the epoll set said of t's socket.
func (l *loop) event(t *loopTask, events uint32) {
	if t.state != taskReading && events&evIn != 0 {
		t.inReady = true
	}
	switch t.state {
	case taskConnecting:
		if events&evOut == 0 {
			return
		}
		n, err := rawGetsockoptInt(t.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			l.connectFailed(t, t.spec.plan.dialErr(os.NewSyscallError("getsockopt", err)))
			return
		}
		switch e := syscall.Errno(n); e {
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return
		case 0, unix.EISCONN:
			l.connected(t)
		default:
			l.connectFailed(t, t.spec.plan.dialErr(os.NewSyscallError("connect", e)))
		}
	case taskSending:
		if events&evOut != 0 {
			l.send(t)
		}
	case taskReading:
		if events&evIn != 0 {
			l.read(t)
		}
	}
}

// connected goes on once t's connect is done: a TCP_CHECK passes, an
// HTTP check sends its request.
func (l *loop) connected(t *loopTask) {
	h := t.spec.http
	if h == nil {
		l.closeSocket(t)
		l.done(t, Result{OK: true, Reason: "connected", Duration: time.Since(t.start)})
		return
	}
	t.sent = 0
	t.state = taskSending
	if !l.sendSome(t) {
		l.watch(t)
		return
	}
	l.reading(t)
}

// send goes on writing t's request when its socket is writable again.
func (l *loop) send(t *loopTask) {
	if l.sendSome(t) {
		l.reading(t)
	}
}

// reading waits for the response once the request is out, or reads it
// at once when the epoll set said so before.
func (l *loop) reading(t *loopTask) {
	if t.state != taskReading || t.fd < 0 {
		return // the attempt ended (or moved on to the next URL's socket)
	}
	l.watch(t)
	if t.inReady {
		t.inReady = false
		l.read(t)
	}
}

// sendSome writes what it can of t's request. It returns false when the
// socket is full (wait until writable); true when the request is out
// (t is reading now) or the attempt is over.
func (l *loop) sendSome(t *loopTask) bool {
	req := t.spec.http.reqs[t.url]
	for t.sent < len(req) {
		n, err := rawWrite(t.fd, unsafe.Slice(unsafe.StringData(req[t.sent:]), len(req)-t.sent))
		switch err {
		case nil:
			t.sent += n
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		err = &net.OpError{Op: "write", Net: "tcp", Addr: t.spec.plan.raddr, Err: os.NewSyscallError("write", err)}
		l.urlDone(t, failAt(t.ustart, StageSend, err, "send request: %s", describe(err, t.spec.timeout)))
		return true
	}
	t.state = taskReading
	md := t.resp.md // the task's MD5 state, made for its first response
	if md == nil {
		md = md5.New()
	}
	t.resp.reset(md, nil, &t.spec.http.opt.URLs[t.url])
	return true
}

// read reads what t's socket has and judges the response once it is
// over.
func (l *loop) read(t *loopTask) {
	u := &t.spec.http.opt.URLs[t.url]
	for {
		n, err := rawRead(t.fd, l.buf[:])
		switch err {
		case nil:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return
		default:
			err = &net.OpError{Op: "read", Net: "tcp", Addr: t.spec.plan.raddr, Err: os.NewSyscallError("read", err)}
			l.urlDone(t, t.resp.readFailed(t.ustart, u, err, t.spec.timeout))
			return
		}
		if n == 0 {
			l.urlDone(t, t.resp.finish(t.ustart, u, &t.spec.http.last[t.url]))
			return
		}
		if r, failed := t.resp.feed(l.buf[:n], t.ustart, u); failed {
			l.urlDone(t, r)
			return
		}
		if t.resp.complete() {
			l.urlDone(t, t.resp.finish(t.ustart, u, &t.spec.http.last[t.url]))
			return
		}
		// Edge-triggered: read on until EAGAIN (the end of a response
		// without Content-Length may already be there).
	}
}

// timeout ends t's attempt that ran out of time, as a blocking one ends
// on its connection's deadline.
func (l *loop) timeout(t *loopTask) {
	err := os.ErrDeadlineExceeded
	switch t.state {
	case taskConnecting:
		l.connectFailed(t, t.spec.plan.dialErr(err))
	case taskSending:
		l.urlDone(t, failAt(t.ustart, StageSend, err, "send request: %s", describe(err, t.spec.timeout)))
	case taskReading:
		l.urlDone(t, t.resp.readFailed(t.ustart, &t.spec.http.opt.URLs[t.url], err, t.spec.timeout))
	}
}

// connectFailed ends the attempt on a failed connect as the checker's
// Check words it.
func (l *loop) connectFailed(t *loopTask, err error) {
	if t.spec.http == nil {
		l.closeSocket(t)
		l.done(t, fail(t.start, "%s", describe(err, t.spec.timeout)))
		return
	}
	l.urlDone(t, failAt(t.ustart, StageConnect, err, "%s", describe(err, t.spec.timeout)))
}

// urlDone takes the result of one URL of an HTTP check: a failure ends
// the attempt, a success goes on to the next URL, as HTTP.Check does.
func (l *loop) urlDone(t *loopTask, r Result) {
	l.closeSocket(t)
	h := t.spec.http
	r.Duration = time.Since(t.start)
	if !r.OK {
		if len(h.opt.URLs) > 1 {
			r.Reason = "url " + h.opt.URLs[t.url].Path + ": " + r.Reason
		}
		l.done(t, r)
		return
	}
	t.url++
	if t.url < len(h.opt.URLs) {
		l.connect(t)
		return
	}
	l.done(t, r)
}

// closeSocket closes t's socket, if open (which takes it out of the epoll
// set), and its deadline out of the heap.
func (l *loop) closeSocket(t *loopTask) {
	if t.fd >= 0 {
		rawClose(t.fd)
		t.fd = -1
	}
	t.watched, t.inReady = false, false
	if t.hidx >= 0 {
		l.remove(t)
	}
	t.state = taskIdle
}

// done records the result of t's attempt and schedules its next one,
// then starts an attempt that waited for a worker.
func (l *loop) done(t *loopTask, r Result) {
	l.closeSocket(t)
	l.busy--
	if l.stopping.Load() || l.ctx.Err() != nil {
		return
	}
	next := l.s.record(t.js, r, false)
	if next < 0 {
		return // stopped
	}
	t.when = time.Since(l.base) + next
	l.push(t)
	if len(l.queue) > 0 && l.busy < l.workers {
		q := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		l.due(q)
	}
}

// The heap of tasks by when.

func (l *loop) push(t *loopTask) {
	t.hidx = len(l.heap)
	l.heap = append(l.heap, t)
	l.up(t.hidx)
}

func (l *loop) pop() *loopTask {
	t := l.heap[0]
	l.remove(t)
	return t
}

func (l *loop) remove(t *loopTask) {
	i, last := t.hidx, len(l.heap)-1
	if i != last {
		l.swap(i, last)
	}
	l.heap[last] = nil
	l.heap = l.heap[:last]
	t.hidx = -1
	if i != last {
		l.down(i)
		l.up(i)
	}
}

func (l *loop) swap(i, j int) {
	h := l.heap
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}

func (l *loop) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if l.heap[p].when <= l.heap[i].when {
			return
		}
		l.swap(i, p)
		i = p
	}
}

func (l *loop) down(i int) {
	n := len(l.heap)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && l.heap[c+1].when < l.heap[c].when {
			c++
		}
		if l.heap[i].when <= l.heap[c].when {
			return
		}
		l.swap(i, c)
		i = c
	}
}
