package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultControlSocket is where `kt run` listens for `kt status`.
const DefaultControlSocket = "/run/kt/kt.sock"

// The control protocol: the client sends one line, "status", and reads
// the Status as one JSON document; the server then closes the connection.
// Anything else gets {"error": "..."}.

// listenControl opens the control socket: a unix stream socket only its
// owner (root) may use, in a directory created 0700 when missing. That
// directory must be kt's own: not a symlink, owned by root, writable by no
// one else, and its ancestors likewise (checkSecureDir); otherwise another
// user could replace the socket and have kt status show what they like.
// The socket is created 0600 by the umask around bind: a chmod by name
// afterwards would follow a symlink. A stale socket left by a killed kt is
// replaced; one that still answers is not.
func listenControl(path string) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi, err := os.Lstat(dir); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	} else if fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("control socket %s: %s is a symlink: kt wants a directory of its own", path, dir)
	}
	if err := checkSecureDir(dir, false); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another kt is listening there", path)
	}
	_ = os.Remove(path)
	old := syscall.Umask(0o177)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm()&0o077 != 0 {
		l.Close()
		if err == nil {
			err = fmt.Errorf("not a socket of mode 0600 after bind (%v)", fi.Mode())
		}
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return l, nil
}

// closeControl closes l and removes its socket file mine, unless another
// kt that started at the same time replaced the file with its own.
func closeControl(l *net.UnixListener, path string, mine os.FileInfo) {
	l.SetUnlinkOnClose(false)
	l.Close()
	if now, err := os.Stat(path); err == nil && mine != nil && os.SameFile(mine, now) {
		_ = os.Remove(path)
	}
}

// serveControl answers on l until ctx ends, then closes l and removes
// the socket file.
func (d *Daemon) serveControl(ctx context.Context, l *net.UnixListener) {
	mine, _ := os.Stat(d.opts.ControlSocket)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		<-ctx.Done()
		closeControl(l, d.opts.ControlSocket, mine)
	}()
	// Return only once the socket file is gone: kt may exit right after.
	defer func() { <-closed }()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				d.log.Warn("control socket: accept", "err", err)
				continue
			}
			return
		}
		go d.answer(c)
	}
}

func (d *Daemon) answer(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	cmd, ok := readRequest(c)
	if !ok {
		return
	}
	enc := json.NewEncoder(c)
	switch cmd {
	case "status":
		_ = enc.Encode(d.Status())
	default:
		_ = enc.Encode(map[string]string{"error": fmt.Sprintf("unknown command %q", cmd)})
	}
}

// readRequest reads the one request line of the control protocol (at most
// 256 bytes); ok is false when nothing came.
func readRequest(r io.Reader) (cmd string, ok bool) {
	line, err := bufio.NewReader(&limitReader{r, 256}).ReadString('\n')
	if err != nil && line == "" {
		return "", false
	}
	return strings.TrimSpace(line), true
}

// limitReader reads at most n bytes: a client cannot make kt buffer more.
type limitReader struct {
	c io.Reader
	n int
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("request too long")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.n -= n
	return n, err
}

// checkPeer refuses an answer from a process that runs as neither root nor
// this user: another user who put a socket at the path (kt run refuses a
// directory they could do that in, but kt status may be pointed anywhere)
// must not be able to show kt status forged state.
func checkPeer(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("peer credentials: %w", cerr)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("the process listening there (pid %d) runs as uid %d, not root: not kt's", cred.Pid, cred.Uid)
	}
	return nil
}

// QueryStatus asks the kt listening on the control socket at path for its
// Status.
func QueryStatus(ctx context.Context, path string) (*Status, error) {
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w (is kt run running, and are you root?)", path, err)
	}
	defer c.Close()
	if err := checkPeer(c); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte("status\n")); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	st, err := decodeAnswer(c)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return st, nil
}

// decodeAnswer reads kt run's answer to "status": a Status, or an error
// object.
func decodeAnswer(r io.Reader) (*Status, error) {
	var raw json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return nil, errors.New(e.Error)
	}
	var st Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
