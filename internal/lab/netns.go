package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/check"
)

// netnsDir is where ip netns keeps its named namespaces.
const netnsDir = "/run/netns"

// inNS runs f on an OS thread switched into the named network namespace, so
// that the sockets f opens belong to that namespace (a socket keeps its
// namespace for life and can be used from any goroutine afterwards). The
// thread goes back to its own namespace afterwards; if it cannot, it stays
// locked and ends with its goroutine. (A thread left in a lab namespace
// would make ip netns pids list this process, and the lab's Close would
// kill it; the process's main thread is never ended by the runtime.)
func inNS(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open this thread's namespace: %w", err)
			return
		}
		defer unix.Close(self)
		fd, err := unix.Open(filepath.Join(netnsDir, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open namespace %s: %w", ns, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", ns, err)
			return
		}
		ferr := f()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// webServer is a small HTTP server listening on port 80 inside a
// namespace. It answers every request with its name, so the client sees
// which web server IPVS picked. (HTTP/1.0 by hand: net/http would add
// megabytes to kt for a page of text.)
type webServer struct {
	name string
	l    net.Listener
	done chan struct{}
}

// startWeb starts a web server called name on 0.0.0.0:80 in namespace ns.
func startWeb(name, ns string) (*webServer, error) {
	var l net.Listener
	err := inNS(ns, func() error {
		var err error
		l, err = net.Listen("tcp", ":80")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("web server %s: %w", name, err)
	}
	w := &webServer{name: name, l: l, done: make(chan struct{})}
	go w.serve()
	return w, nil
}

func (w *webServer) serve() {
	defer close(w.done)
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := w.l.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			w.answer(c)
		}()
	}
}

// answer reads one request's header and sends the page.
func (w *webServer) answer(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(io.LimitReader(c, 16<<10))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if strings.TrimRight(line, "\r\n") == "" {
			break
		}
	}
	body := "hello from " + w.name + "\n"
	fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}

// stop closes the listener and waits for the requests being answered.
func (w *webServer) stop() {
	_ = w.l.Close()
	<-w.done
}

// client does what the lab's client host does: ping and fetch over HTTP,
// from sockets opened inside its namespace.
type client struct {
	ns string
}

// ping sends one ICMP echo to addr and waits up to timeout for the reply.
func (c client) ping(ctx context.Context, addr netip.Addr, timeout time.Duration) check.Result {
	p, err := check.NewPing(check.PingOptions{Dial: check.Dial{Addr: addr.String(), Timeout: timeout}})
	if err != nil {
		return check.Result{Reason: err.Error()}
	}
	var r check.Result
	if err := inNS(c.ns, func() error { r = p.Check(ctx); return nil }); err != nil {
		return check.Result{Reason: err.Error()}
	}
	return r
}

// get fetches http://addr/ with HTTP/1.0 and returns the body's first
// line; a status other than 200 is an error.
func (c client) get(ctx context.Context, addr netip.AddrPort, timeout time.Duration) (string, error) {
	var conn net.Conn
	err := inNS(c.ns, func() error {
		var err error
		conn, err = (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr.String())
		return err
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\nUser-Agent: kt-lab\r\n\r\n", addr.Addr()); err != nil {
		return "", err
	}
	resp, err := io.ReadAll(io.LimitReader(conn, 64<<10))
	if err != nil {
		return "", err
	}
	head, body, ok := strings.Cut(string(resp), "\r\n\r\n")
	status, _, _ := strings.Cut(head, "\r\n")
	if f := strings.Fields(status); !ok || len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
		return "", fmt.Errorf("not an HTTP response: %.40q", resp)
	} else if f[1] != "200" {
		return "", fmt.Errorf("HTTP status %s", f[1])
	}
	line, _, _ := strings.Cut(body, "\n")
	return line, nil
}

// writeSysctl sets a sysctl (key with dots) inside namespace ns.
func writeSysctl(ns, key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	return inNS(ns, func() error {
		if err := os.WriteFile(path, []byte(value+"\n"), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s in %s: %w", key, value, ns, err)
		}
		return nil
	})
}
