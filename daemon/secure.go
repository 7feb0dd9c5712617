package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// The files kt run creates as root (the pid file, the control socket) go
// only where no other user can swap them: checkSecureDir walks dir and its
// ancestors as OpenSSH's StrictModes does. Every directory on the way must
// belong to root or to kt's own user and be writable by nobody else, except
// that a sticky directory (/tmp) may be world-writable where sticky is
// allowed: there another user can neither remove nor rename what root puts
// in it. A symlink on the way must itself belong to root or kt's user
// (a link another user planted in /tmp is refused); its target is checked
// in its turn.
//
// leafSticky says whether dir itself may be a sticky world-writable
// directory: yes for the pid file (written by create-and-rename, so a file or
// symlink another user put at its name is replaced, never followed), no for
// the control socket's directory, which must be kt's own (0700).
func checkSecureDir(dir string, leafSticky bool) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	return checkSecurePath(abs, leafSticky, 0)
}

func checkSecurePath(p string, allowSticky bool, depth int) error {
	if depth > 40 {
		return fmt.Errorf("%s: too many levels of symbolic links", p)
	}
	euid := uint32(os.Geteuid())
	for cur, leaf := p, true; ; leaf = false {
		fi, err := os.Lstat(cur)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information", cur)
		}
		if st.Uid != 0 && st.Uid != euid {
			return fmt.Errorf("%s belongs to uid %d, not root: another user could replace what kt puts there", cur, st.Uid)
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(cur)
			if err != nil {
				return err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(cur), target)
			}
			sticky := allowSticky
			if !leaf {
				sticky = true
			}
			if err := checkSecurePath(filepath.Clean(target), sticky, depth+1); err != nil {
				return err
			}
		case !fi.IsDir():
			return fmt.Errorf("%s is not a directory", cur)
		case fi.Mode().Perm()&0o022 != 0:
			if fi.Mode()&os.ModeSticky == 0 || (leaf && !allowSticky) {
				return fmt.Errorf("%s is writable by group or others (mode %#o): another user could replace what kt puts there", cur, fi.Mode().Perm())
			}
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return nil
		}
		cur = parent
	}
}

// PIDFile is a pid file kt wrote; Remove deletes it only while it is still
// the file kt wrote.
type PIDFile struct {
	path string
	mine os.FileInfo
	text []byte // what it holds
}

// WritePIDFile writes kt's process ID to path without following a symlink
// or opening a file someone else put there: the pid goes into a new file in
// the same directory that then replaces path (as the SIGUSR1 dumps are
// written). A directory another user can write to is refused, unless it is
// sticky (/tmp), where only root can replace root's file.
func WritePIDFile(path string) (*PIDFile, error) {
	if err := checkSecureDir(filepath.Dir(path), true); err != nil {
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	text := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := writeFileAtomic(path, text); err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return &PIDFile{path: path, mine: fi, text: text}, nil
}

// Remove deletes the pid file if it is still the one WritePIDFile wrote
// (same inode, holding kt's pid); a file another kt or a user put there
// since stays. The inode alone does not tell: a file written where kt's
// was deleted can get its inode number again (seen in CI: tmpfs gave the
// replacement the same one).
func (p *PIDFile) Remove() error {
	if p == nil {
		return nil
	}
	now, err := os.Lstat(p.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if !os.SameFile(p.mine, now) {
		return nil
	}
	if b, err := os.ReadFile(p.path); err != nil || !bytes.Equal(b, p.text) {
		return nil
	}
	return os.Remove(p.path)
}
