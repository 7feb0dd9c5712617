package lvs

import (
	"fmt"
	"sync"
	"syscall"

	"github.com/moby/ipvs"
)

// memHandle is an in-memory IPVS table with the kernel's answers for the
// cases the reconciler meets (EEXIST, ENOENT/ESRCH), and a log of the
// requests it got. Tests of the diff logic use it; the real kernel is
// tested in the VM.
type memHandle struct {
	mu    sync.Mutex // Manager tests call it from Run's goroutine
	t     Table
	calls []string
	fail  map[string]error // by call description
}

func newMemHandle() *memHandle { return &memHandle{t: Table{}, fail: map[string]error{}} }

func (m *memHandle) record(kind string, s *ipvs.Service, d *ipvs.Destination) error {
	svc, _ := fromIPVSService(s)
	c := kind + " " + svc.Key.String()
	if d != nil {
		dd, _ := fromIPVSDest(d)
		c += " -> " + dd.Key.String()
	}
	m.calls = append(m.calls, c)
	return m.fail[c]
}

func (m *memHandle) GetServices() ([]*ipvs.Service, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*ipvs.Service
	for _, k := range m.t.Keys() {
		s := toIPVSService(m.t[k].Service)
		s.Flags |= FlagHashed // as the kernel reports it
		out = append(out, s)
	}
	return out, nil
}

func (m *memHandle) GetDestinations(s *ipvs.Service) ([]*ipvs.Destination, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	svc, _ := fromIPVSService(s)
	e := m.t[svc.Key]
	if e == nil {
		return nil, syscall.ESRCH
	}
	var out []*ipvs.Destination
	for _, d := range e.SortedDests() {
		out = append(out, toIPVSDest(d))
	}
	return out, nil
}

func (m *memHandle) NewService(s *ipvs.Service) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.record("NewService", s, nil); err != nil {
		return err
	}
	svc, _ := fromIPVSService(s)
	if m.t[svc.Key] != nil {
		return syscall.EEXIST
	}
	m.t.add(svc)
	return nil
}

func (m *memHandle) UpdateService(s *ipvs.Service) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.record("UpdateService", s, nil); err != nil {
		return err
	}
	svc, _ := fromIPVSService(s)
	if m.t[svc.Key] == nil {
		return syscall.ESRCH
	}
	m.t.add(svc)
	return nil
}

func (m *memHandle) DelService(s *ipvs.Service) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.record("DelService", s, nil); err != nil {
		return err
	}
	svc, _ := fromIPVSService(s)
	if m.t[svc.Key] == nil {
		return syscall.ESRCH
	}
	delete(m.t, svc.Key)
	return nil
}

func (m *memHandle) destOp(kind string, s *ipvs.Service, d *ipvs.Destination, f func(e *Entry, dd Dest) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.record(kind, s, d); err != nil {
		return err
	}
	svc, _ := fromIPVSService(s)
	e := m.t[svc.Key]
	if e == nil {
		return syscall.ESRCH
	}
	dd, ok := fromIPVSDest(d)
	if !ok {
		return fmt.Errorf("bad destination %v", d.Address)
	}
	return f(e, dd)
}

func (m *memHandle) NewDestination(s *ipvs.Service, d *ipvs.Destination) error {
	return m.destOp("NewDestination", s, d, func(e *Entry, dd Dest) error {
		if _, ok := e.Dest(dd.Key); ok {
			return syscall.EEXIST
		}
		e.SetDest(dd)
		return nil
	})
}

func (m *memHandle) UpdateDestination(s *ipvs.Service, d *ipvs.Destination) error {
	return m.destOp("UpdateDestination", s, d, func(e *Entry, dd Dest) error {
		if _, ok := e.Dest(dd.Key); !ok {
			return syscall.ENOENT
		}
		e.SetDest(dd)
		return nil
	})
}

func (m *memHandle) DelDestination(s *ipvs.Service, d *ipvs.Destination) error {
	return m.destOp("DelDestination", s, d, func(e *Entry, dd Dest) error {
		if !e.DelDest(dd.Key) {
			return syscall.ENOENT
		}
		return nil
	})
}

// snapshot returns a copy of the table and the calls so far, and clears
// the calls.
func (m *memHandle) snapshot() (Table, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls
	m.calls = nil
	return m.t.Clone(), c
}

func (m *memHandle) setFail(call string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		delete(m.fail, call)
		return
	}
	m.fail[call] = err
}
