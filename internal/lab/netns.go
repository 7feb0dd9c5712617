package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kt-project/kt/check"
)

// netnsDir is where ip netns keeps its named namespaces.
const netnsDir = "/run/netns"

// inNS runs f on an OS thread switched into the named network namespace, so
// that the sockets f opens belong to that namespace (a socket keeps its
// namespace for life and can be used from any goroutine afterwards). The
// thread is never switched back: it ends with its goroutine.
func inNS(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the runtime drops a locked thread when its
		// goroutine exits, so no other goroutine ever runs in ns.
		fd, err := unix.Open(filepath.Join(netnsDir, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open namespace %s: %w", ns, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("enter namespace %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// webServer is an HTTP server listening on port 80 inside a namespace. It
// answers every request with its name, so the client sees which web server
// IPVS picked.
type webServer struct {
	name string
	ns   string
	srv  *http.Server
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
	w := &webServer{name: name, ns: ns, done: make(chan struct{})}
	w.srv = &http.Server{
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
			rw.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(rw, "hello from %s\n", name)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          nil,
	}
	go func() {
		defer close(w.done)
		_ = w.srv.Serve(l)
	}()
	return w, nil
}

// stop closes the listener and every connection.
func (w *webServer) stop() {
	_ = w.srv.Close()
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

// get fetches url and returns the body's first line.
func (c client) get(ctx context.Context, url string, timeout time.Duration) (string, error) {
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var conn net.Conn
			err := inNS(c.ns, func() error {
				var err error
				conn, err = (&net.Dialer{Timeout: timeout}).DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		},
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	line, _, _ := strings.Cut(string(b), "\n")
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
