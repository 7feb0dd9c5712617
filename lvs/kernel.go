package lvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// KernelHandle is the kernel's IPVS table. In the current network
// namespace kt reads and changes it on a generic netlink socket of its own
// (batchSocket); in another, through moby/ipvs's handle.
type KernelHandle struct {
	// moby is another namespace's handle; nil in the current one, where
	// moby/ipvs is not opened at all: ipvs.New runs "modprobe -va ip_vs"
	// the first time (about 130 ms of a daemon's start in the test VM),
	// after OpenHandle has found the IPVS family already.
	moby  *ipvs.Handle
	batch *batchSocket // the current namespace's socket; nil in another
	// badReplies counts replies moby/ipvs's parser panicked on.
	badReplies atomic.Uint64
}

// RawSends sets whether ApplyOps's batches go to the kernel through raw
// system calls, which the Go scheduler is not told of (see sendRaw): its
// monitor thread then does not wake every 20 µs to take the processor
// back while the kernel carries out a batch, and the batch's thread keeps
// its processor. kt run turns it on for its first load, while the
// collector is set aside (internal/loadheap), so that no stop of the
// world waits on a batch; other goroutines wait at most one batch (256
// changes) on a one-processor machine.
func (k *KernelHandle) RawSends(on bool) {
	if k.batch == nil {
		return
	}
	k.batch.mu.Lock()
	k.batch.raw = on
	k.batch.mu.Unlock()
}

var _ Handle = (*KernelHandle)(nil)

// OpenHandle opens the IPVS table of the current network namespace (path
// "") or of the namespace at path (/var/run/netns/NAME).
func OpenHandle(path string) (*KernelHandle, error) {
	var batch *batchSocket
	if path == "" {
		// Ask first: moby/ipvs would log its own warnings.
		fam, err := netlink.GenlFamilyGet("IPVS")
		if err != nil {
			return nil, fmt.Errorf("lvs: this kernel has no IPVS (modprobe ip_vs): %w", err)
		}
		if batch, err = newBatchSocket(fam.ID); err != nil {
			return nil, err
		}
	}
	if batch != nil {
		return &KernelHandle{batch: batch}, nil
	}
	h, err := ipvs.New(path)
	if err != nil {
		return nil, fmt.Errorf("lvs: open ipvs (is the ip_vs module loaded?): %w", err)
	}
	return &KernelHandle{moby: h}, nil
}

// Close releases the handle's socket.
func (k *KernelHandle) Close() {
	if k.batch != nil {
		k.batch.close()
	}
	if k.moby != nil {
		k.moby.Close()
	}
}

// NewService adds s.
func (k *KernelHandle) NewService(s *ipvs.Service) error {
	if k.batch == nil {
		return k.moby.NewService(s)
	}
	return k.one(AddService, s, nil)
}

// UpdateService changes s's settings.
func (k *KernelHandle) UpdateService(s *ipvs.Service) error {
	if k.batch == nil {
		return k.moby.UpdateService(s)
	}
	return k.one(UpdateService, s, nil)
}

// DelService removes s.
func (k *KernelHandle) DelService(s *ipvs.Service) error {
	if k.batch == nil {
		return k.moby.DelService(s)
	}
	return k.one(DelService, s, nil)
}

// NewDestination adds d to s.
func (k *KernelHandle) NewDestination(s *ipvs.Service, d *ipvs.Destination) error {
	if k.batch == nil {
		return k.moby.NewDestination(s, d)
	}
	return k.one(AddDest, s, d)
}

// UpdateDestination changes d's settings in s.
func (k *KernelHandle) UpdateDestination(s *ipvs.Service, d *ipvs.Destination) error {
	if k.batch == nil {
		return k.moby.UpdateDestination(s, d)
	}
	return k.one(UpdateDest, s, d)
}

// DelDestination removes d from s.
func (k *KernelHandle) DelDestination(s *ipvs.Service, d *ipvs.Destination) error {
	if k.batch == nil {
		return k.moby.DelDestination(s, d)
	}
	return k.one(DelDest, s, d)
}

// one makes one change on kt's socket, as a batch of one, and returns its
// error (d is nil for a service's change).
func (k *KernelHandle) one(kind OpKind, s *ipvs.Service, d *ipvs.Destination) error {
	op := Op{Kind: kind}
	var ok bool
	if op.Service, ok = fromIPVSService(s); !ok {
		return fmt.Errorf("lvs: service without an address")
	}
	if d != nil {
		if op.Dest, ok = fromIPVSDest(d); !ok {
			return fmt.Errorf("lvs: real server without an address")
		}
	}
	errs, err := k.batch.apply([]Op{op})
	if err != nil {
		return err
	}
	return errs[0]
}

// ApplyOps carries out many changes with few system calls (the current
// namespace only; elsewhere it reports ErrNoBatch). It returns each
// change's error, in order.
func (k *KernelHandle) ApplyOps(ops []Op) ([]error, error) {
	if k.batch == nil {
		return nil, ErrNoBatch
	}
	return k.batch.apply(ops)
}

// ErrNoBatch says a handle cannot apply changes in batches.
var ErrNoBatch = errors.New("lvs: batched changes not available on this handle")

// batcher is a Handle that applies many changes at once.
type batcher interface {
	ApplyOps(ops []Op) ([]error, error)
}

// peNamer is a Handle that can tell the services' persistence engines.
type peNamer interface {
	PENames() (map[ServiceKey]string, error)
}

// Generic netlink numbers of IPVS (include/uapi/linux/ip_vs.h).
const (
	ipvsCmdGetService  = 4
	ipvsCmdAttrService = 1
	ipvsSvcAttrAF      = 1
	ipvsSvcAttrProto   = 2
	ipvsSvcAttrAddr    = 3
	ipvsSvcAttrPort    = 4
	ipvsSvcAttrFWMark  = 5
	ipvsSvcAttrPEName  = 11
	ipvsGenlVersion    = 1
)

// PENames returns the persistence engine of every service that has one.
// Only for the current network namespace (a handle opened on another
// returns nothing).
func (k *KernelHandle) PENames() (map[ServiceKey]string, error) {
	if k.batch == nil {
		return nil, nil
	}
	fam, err := netlink.GenlFamilyGet("IPVS")
	if err != nil {
		return nil, fmt.Errorf("lvs: genetlink family IPVS: %w", err)
	}
	req := nl.NewNetlinkRequest(int(fam.ID), unix.NLM_F_DUMP)
	req.AddData(&nl.Genlmsg{Command: ipvsCmdGetService, Version: ipvsGenlVersion})
	req.AddData(nl.NewRtAttr(ipvsCmdAttrService, nil))
	msgs, err := req.Execute(unix.NETLINK_GENERIC, 0)
	if err != nil {
		return nil, fmt.Errorf("lvs: dump services: %w", err)
	}
	out := map[ServiceKey]string{}
	for _, m := range msgs {
		if len(m) < 4 {
			continue
		}
		forAttrs(m[4:], func(typ uint16, v []byte) {
			if typ != ipvsCmdAttrService {
				return
			}
			if key, pe := parseServiceAttrs(v); pe != "" {
				out[key] = pe
			}
		})
	}
	return out, nil
}

// parseServiceAttrs decodes the key and persistence engine of one
// service from the attributes the kernel nests in IPVS_CMD_ATTR_SERVICE.
// It takes any bytes: short values are ignored, a name without its NUL is
// taken whole, a malformed tail ends the walk.
func parseServiceAttrs(b []byte) (ServiceKey, string) {
	var k ServiceKey
	var pe string
	var raw []byte
	forAttrs(b, func(typ uint16, v []byte) {
		switch typ {
		case ipvsSvcAttrAF:
			if len(v) >= 2 {
				k.Family = binary.NativeEndian.Uint16(v)
			}
		case ipvsSvcAttrProto:
			if len(v) >= 2 {
				k.Protocol = binary.NativeEndian.Uint16(v)
			}
		case ipvsSvcAttrAddr:
			raw = v
		case ipvsSvcAttrPort:
			if len(v) >= 2 {
				k.Port = binary.BigEndian.Uint16(v)
			}
		case ipvsSvcAttrFWMark:
			if len(v) >= 4 {
				k.FWMark = binary.NativeEndian.Uint32(v)
			}
		case ipvsSvcAttrPEName:
			pe = cString(v)
		}
	})
	if k.FWMark != 0 {
		return ServiceKey{Family: k.Family, FWMark: k.FWMark}, pe
	}
	switch {
	case k.Family == FamilyIPv4 && len(raw) >= 4:
		k.Addr = netip.AddrFrom4([4]byte(raw[:4]))
	case k.Family == FamilyIPv6 && len(raw) >= 16:
		k.Addr = netip.AddrFrom16([16]byte(raw[:16]))
	}
	return k, pe
}

// fillPENames sets the persistence engines of t's services when h can
// read them.
func fillPENames(h Handle, set func(ServiceKey, string)) error {
	p, ok := h.(peNamer)
	if !ok {
		return nil
	}
	names, err := p.PENames()
	if err != nil {
		return err
	}
	for k, n := range names {
		set(k, n)
	}
	return nil
}
