package daemon

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/testenv"
)

const nobody = 65534

// mkdir makes dir with mode (chmod, so the umask does not clear bits) and,
// when uid >= 0, gives it to uid.
func mkdir(t *testing.T, dir string, mode os.FileMode, uid int) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	if uid >= 0 {
		if err := os.Chown(dir, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readPID(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
		t.Fatalf("%s: mode %v uid %d, want a regular file of ours", path, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Fatalf("%s holds %q, want %q", path, got, want)
	}
}

// TestPIDFileAttacks: a user who can create the pid file's name must not
// make root write through it. A symlink or another user's file at the name
// is replaced (create-and-rename; in a sticky directory root may rename
// over another user's file), never written through; a directory another
// user owns or can write to without the sticky bit is refused; stop
// removes only the file kt wrote.
func TestPIDFileAttacks(t *testing.T) {
	testenv.Root(t)
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sticky := mkdir(t, filepath.Join(base, "tmp"), 0o777|os.ModeSticky, -1)

	t.Run("symlink planted by another user in a sticky dir", func(t *testing.T) {
		pf := filepath.Join(sticky, "kt1.pid")
		if err := os.Symlink(victim, pf); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(pf, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		p, err := WritePIDFile(pf)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
			t.Fatalf("the symlink's target was overwritten: %q", b)
		}
		readPID(t, pf)
		if err := p.Remove(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(pf); !os.IsNotExist(err) {
			t.Fatalf("pid file still there after Remove: %v", err)
		}
	})
	t.Run("another user's file in a sticky dir", func(t *testing.T) {
		pf := filepath.Join(sticky, "kt2.pid")
		if err := os.WriteFile(pf, []byte("4242\n"), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(pf, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		p, err := WritePIDFile(pf)
		if err != nil {
			t.Fatal(err)
		}
		readPID(t, pf)
		if fi, _ := os.Lstat(pf); fi.Mode().Perm() != 0o644 {
			t.Fatalf("pid file mode %v, want 0644", fi.Mode())
		}
		// Someone replaces it after start: stop leaves their file alone.
		if err := os.Remove(pf); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pf, []byte("other\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := p.Remove(); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(pf); err != nil || string(b) != "other\n" {
			t.Fatalf("Remove deleted a file kt did not write: %q, %v", b, err)
		}
		// The replacement can get the inode number of kt's file (tmpfs
		// gave it in CI): as if it had, it still stays.
		if p.mine, err = os.Lstat(pf); err != nil {
			t.Fatal(err)
		}
		if err := p.Remove(); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(pf); err != nil || string(b) != "other\n" {
			t.Fatalf("Remove deleted a file with kt's inode number but not its pid: %q, %v", b, err)
		}
	})
	for _, tc := range []struct {
		name string
		mode os.FileMode
		uid  int
		want string
	}{
		{"world-writable dir without sticky", 0o777, -1, "writable by group or others"},
		{"group-writable dir", 0o770, -1, "writable by group or others"},
		{"dir owned by another user", 0o755, nobody, "belongs to uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := mkdir(t, filepath.Join(base, strings.ReplaceAll(tc.name, " ", "-")), tc.mode, tc.uid)
			pf := filepath.Join(dir, "kt.pid")
			if err := os.Symlink(victim, pf); err != nil {
				t.Fatal(err)
			}
			_, err := WritePIDFile(pf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WritePIDFile(%s) = %v, want an error with %q", pf, err, tc.want)
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
				t.Fatalf("victim overwritten: %q", b)
			}
		})
	}
	t.Run("dir reached through another user's symlink", func(t *testing.T) {
		good := mkdir(t, filepath.Join(base, "good"), 0o755, -1)
		link := filepath.Join(sticky, "run")
		if err := os.Symlink(good, link); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(link, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		_, err := WritePIDFile(filepath.Join(link, "kt.pid"))
		if err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Fatalf("got %v, want the symlink refused", err)
		}
	})
}

// TestControlSocketDir: the control socket's directory must be kt's own.
// A directory another user owns (who could replace the socket and have kt
// status show forged state) or a symlink in its place is refused; the
// socket is 0600 whatever the umask.
func TestControlSocketDir(t *testing.T) {
	testenv.Root(t)
	base := t.TempDir()
	t.Run("dir owned by another user", func(t *testing.T) {
		dir := mkdir(t, filepath.Join(base, "theirs"), 0o700, nobody)
		_, err := listenControl(filepath.Join(dir, "kt.sock"))
		if err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Fatalf("listenControl = %v, want the directory refused", err)
		}
	})
	t.Run("dir writable by others", func(t *testing.T) {
		dir := mkdir(t, filepath.Join(base, "open"), 0o777|os.ModeSticky, -1)
		_, err := listenControl(filepath.Join(dir, "kt.sock"))
		if err == nil || !strings.Contains(err.Error(), "writable by group or others") {
			t.Fatalf("listenControl = %v, want the directory refused", err)
		}
	})
	t.Run("dir is a symlink", func(t *testing.T) {
		target := mkdir(t, filepath.Join(base, "target"), 0o700, -1)
		link := filepath.Join(base, "link")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		_, err := listenControl(filepath.Join(link, "kt.sock"))
		if err == nil || !strings.Contains(err.Error(), "is a symlink") {
			t.Fatalf("listenControl = %v, want the symlink refused", err)
		}
		if _, err := os.Lstat(filepath.Join(target, "kt.sock")); !os.IsNotExist(err) {
			t.Fatalf("a socket was made through the symlink: %v", err)
		}
	})
	t.Run("missing dir is made 0700 and the socket 0600 under umask 0", func(t *testing.T) {
		dir := filepath.Join(base, "new")
		path := filepath.Join(dir, "kt.sock")
		old := syscall.Umask(0)
		l, err := listenControl(path)
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if fi, err := os.Lstat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("dir: %v %v, want 0700", fi.Mode(), err)
		}
		if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
			t.Fatalf("socket: %v %v, want a 0600 socket", fi.Mode(), err)
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
}

// TestQueryStatusRefusesForeignServer: a socket another user listens on
// (here python3 running as nobody, answering with forged state) is not
// believed by kt status.
func TestQueryStatusRefusesForeignServer(t *testing.T) {
	testenv.Root(t)
	// /usr/bin/python3: nobody cannot run a python3 under /root.
	py := testenv.File(t, "/usr/bin/python3", "apt-get install python3")
	base, err := os.MkdirTemp("", "kt-foreign-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil { // nobody must reach its directory
		t.Fatal(err)
	}
	dir := mkdir(t, filepath.Join(base, "theirs"), 0o755, nobody)
	sock := filepath.Join(dir, "kt.sock")
	cmd := exec.Command(py, "-c", `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.recv(64)
    c.sendall(b'{"instances": [{"name": "VI_1", "state": "MASTER"}]}\n')
    c.close()
`, sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("forged server: %q %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := QueryStatus(ctx, sock)
	if err == nil || !strings.Contains(err.Error(), "runs as uid 65534, not root") {
		t.Fatalf("QueryStatus = %+v, %v; want the foreign server refused", st, err)
	}
}
