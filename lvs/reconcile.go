package lvs

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"syscall"

	"github.com/moby/ipvs"
)

// Handle is the part of github.com/moby/ipvs's *ipvs.Handle the lvs
// package uses: the kernel's IPVS table over generic netlink.
type Handle interface {
	GetServices() ([]*ipvs.Service, error)
	GetDestinations(s *ipvs.Service) ([]*ipvs.Destination, error)
	NewService(s *ipvs.Service) error
	UpdateService(s *ipvs.Service) error
	DelService(s *ipvs.Service) error
	NewDestination(s *ipvs.Service, d *ipvs.Destination) error
	UpdateDestination(s *ipvs.Service, d *ipvs.Destination) error
	DelDestination(s *ipvs.Service, d *ipvs.Destination) error
}

var _ Handle = (*ipvs.Handle)(nil)

// OpKind is a change to the kernel's table.
type OpKind int

// The changes, in the order Diff returns them.
const (
	AddService OpKind = iota + 1
	UpdateService
	DelDest
	AddDest
	UpdateDest
	DelService
)

func (k OpKind) String() string {
	switch k {
	case AddService:
		return "add service"
	case UpdateService:
		return "update service"
	case DelService:
		return "delete service"
	case AddDest:
		return "add real server"
	case UpdateDest:
		return "update real server"
	case DelDest:
		return "delete real server"
	}
	return fmt.Sprintf("op %d", int(k))
}

// Op is one change: a service, or a destination of a service.
type Op struct {
	Kind    OpKind
	Service Service
	Dest    Dest // for the destination kinds
}

// String names the change and its entry: "add real server 192.0.2.10:80
// weight 1 to TCP  192.0.2.1:80".
func (o Op) String() string {
	switch o.Kind {
	case AddDest, UpdateDest, DelDest:
		return fmt.Sprintf("%s %s weight %d %s of %s", o.Kind, o.Dest.Key, o.Dest.Weight, FwdName(o.Dest.Fwd), o.Service.Key)
	}
	return fmt.Sprintf("%s %s %s", o.Kind, o.Service.Key, o.Service.Sched)
}

// Ownership says what kt owns in the kernel's table: Diff deletes
// nothing else.
type Ownership interface {
	OwnsService(k ServiceKey) bool
	OwnsDest(k ServiceKey, d DestKey) bool
}

// Owned is an Ownership held in maps: services, and destinations by
// service.
type Owned struct {
	Services map[ServiceKey]bool
	Dests    map[ServiceKey]map[DestKey]bool
}

// NewOwned returns an empty Owned.
func NewOwned() Owned {
	return Owned{Services: map[ServiceKey]bool{}, Dests: map[ServiceKey]map[DestKey]bool{}}
}

// OwnsService implements Ownership.
func (o Owned) OwnsService(k ServiceKey) bool { return o.Services[k] }

// OwnsDest implements Ownership.
func (o Owned) OwnsDest(k ServiceKey, d DestKey) bool { return o.Dests[k][d] }

func (o Owned) addDest(s ServiceKey, d DestKey) {
	m := o.Dests[s]
	if m == nil {
		m = map[DestKey]bool{}
		o.Dests[s] = m
	}
	m[d] = true
}

// owner is what a Reconciler owns: the last desired table, and what it
// failed to delete before.
type owner struct {
	prev  Table
	extra Owned
}

func (o owner) OwnsService(k ServiceKey) bool { return o.prev[k] != nil || o.extra.Services[k] }

func (o owner) OwnsDest(k ServiceKey, d DestKey) bool {
	if e := o.prev[k]; e != nil {
		if _, ok := e.find(d); ok {
			return true
		}
	}
	return o.extra.OwnsDest(k, d)
}

// sameService reports whether a and b have the same settings.
func sameService(a, b Service) bool {
	return a.Sched == b.Sched && a.Flags&^FlagHashed == b.Flags&^FlagHashed && a.Timeout == b.Timeout &&
		a.Netmask == b.Netmask && a.PEName == b.PEName
}

// Diff lists the changes that turn current (the kernel's table, or the
// part of it that matters: the services in desired or owned) into desired,
// touching only what kt owns: services in desired, or owned; their
// destinations in desired, or owned. A destination someone else added to
// a desired service stays. A service that exists and differs only in its
// settings is updated, never deleted and re-added, so its connections
// survive. The order is services first, then destinations (deletions
// first), then services that go.
func Diff(current, desired Table, owned Ownership) []Op {
	return diff(current, desired, owned, nil)
}

// diff is Diff that skips the desired services for which same is true
// (known to match the kernel already).
func diff(current, desired Table, owned Ownership, same func(ServiceKey, *Entry) bool) []Op {
	var out []Op
	w := newDiffWalk(current, desired, owned, same)
	_ = w.each(0, func(ops []Op) error { out = ops; return nil })
	return out
}

// diffWalk lists the changes that turn current into desired in the
// order Diff promises without sorting them: the services are visited in
// key order, once per kind of change, each one's destinations in address
// order. Reconcile applies them in pieces as they come: a full load of
// 10,000 services x 4 is 50,000 changes of 160 bytes each, 8 MB that one
// slice of them all took (and that the kernel's pages under it cost).
type diffWalk struct {
	items, gone []diffItem
	owned       Ownership
	// adds is how many services are added (each AddService); addOps how
	// many changes those are (their AddService and AddDest).
	adds, addOps int
}

func newDiffWalk(current, desired Table, owned Ownership, same func(ServiceKey, *Entry) bool) *diffWalk {
	w := &diffWalk{owned: owned}
	if same == nil { // every service is visited (a full load); else most are skipped
		w.items = make([]diffItem, 0, len(desired))
	}
	for k, want := range desired {
		if same == nil || !same(k, want) {
			it := newDiffItem(k, want, current[k])
			if it.have == nil {
				w.adds++
				w.addOps += 1 + len(want.Dests)
			}
			w.items = append(w.items, it)
		}
	}
	for k, e := range current {
		if _, ok := desired[k]; !ok && owned.OwnsService(k) {
			w.gone = append(w.gone, newDiffItem(k, nil, e))
		}
	}
	sortDiffItems(w.items)
	sortDiffItems(w.gone)
	return w
}

// each hands the changes, in order, to flush: in pieces of at least chunk
// changes, cut only between services (chunk 0: all at once, at the end).
// flush may apply them before the walk goes on: a later kind's pass over
// a service reads the entries after its earlier changes, and finds the
// same changes (the destinations deleted are not desired; those added
// are desired as they are). A piece is flush's only until it returns.
// each stops at flush's first error and returns it.
func (w *diffWalk) each(chunk int, flush func([]Op) error) error {
	d := differ{owned: w.owned}
	// The changes' room, allocated once: the added services' changes,
	// one for each other service, up to a piece (and a service's worth
	// past it). Grown by append, a full load's pieces of 2,048 changes
	// took 1.2 MB of copies.
	if n := w.addOps + len(w.items) - w.adds + len(w.gone); n > 0 {
		if chunk > 0 {
			n = min(n, chunk+opsSlack)
		}
		d.ops = make([]Op, 0, n)
	}
	for kind := AddService; kind < DelService; kind++ {
		d.only = kind
		for i := range w.items {
			it := &w.items[i]
			d.service(it.k, it.want, it.have)
			if chunk > 0 && len(d.ops) >= chunk {
				if err := flush(d.ops); err != nil {
					return err
				}
				d.ops = d.ops[:0]
			}
		}
	}
	for i := range w.gone {
		d.ops = append(d.ops, Op{Kind: DelService, Service: w.gone[i].have.Service})
		if chunk > 0 && len(d.ops) >= chunk {
			if err := flush(d.ops); err != nil {
				return err
			}
			d.ops = d.ops[:0]
		}
	}
	if len(d.ops) == 0 {
		return nil
	}
	return flush(d.ops)
}

// opsSlack is how many changes past a piece each makes room for: a piece
// is cut only between services, after the one that fills it.
const opsSlack = 64

// diffItem is a service diff visits: its key with compareKeys' order
// packed into integers (sorting 10,000 keys through netip.Addr.Compare
// was a tenth of a full load's CPU), and its two entries, looked up once.
type diffItem struct {
	w0     uint64 // FWMark, Family, Protocol
	hi, lo uint64 // the address, as netip.Addr orders it after its bit length
	bits   uint16 // the address's bit length
	port   uint16
	zoned  bool // the address has a zone: compareKeys decides
	k      ServiceKey
	want   *Entry
	have   *Entry
}

func newDiffItem(k ServiceKey, want, have *Entry) diffItem {
	a16 := k.Addr.As16()
	it := diffItem{w0: uint64(k.FWMark)<<32 | uint64(k.Family)<<16 | uint64(k.Protocol),
		hi: binary.BigEndian.Uint64(a16[:8]), lo: binary.BigEndian.Uint64(a16[8:]),
		bits: uint16(k.Addr.BitLen()), port: k.Port, zoned: k.Addr.Zone() != "", k: k, want: want, have: have}
	if !k.Addr.IsValid() {
		it.hi, it.lo = 0, 0
	}
	return it
}

// compareDiffItems orders items as compareKeys orders their keys: a
// fwmark of 0 (no fwmark) sorts first as keyLess wants, then family,
// protocol, address (bit length, bits, zone) and port.
func compareDiffItems(a, b diffItem) int {
	switch {
	case a.w0 != b.w0:
		return cmp.Compare(a.w0, b.w0)
	case a.bits != b.bits:
		return cmp.Compare(a.bits, b.bits)
	case a.hi != b.hi:
		return cmp.Compare(a.hi, b.hi)
	case a.lo != b.lo:
		return cmp.Compare(a.lo, b.lo)
	case a.zoned || b.zoned:
		return compareKeys(a.k, b.k)
	}
	return cmp.Compare(a.port, b.port)
}

// differ is diffWalk's state: it appends to ops the changes of kind only.
type differ struct {
	owned Ownership
	only  OpKind
	ops   []Op
}

func (d *differ) emit(op Op) {
	if op.Kind == d.only {
		d.ops = append(d.ops, op)
	}
}

// service emits the changes that turn have (nil: not in the kernel) into
// want for service k. Both entries' destinations are in address order, so
// one walk over the two finds the deletions, additions and updates, each
// kind in address order.
func (d *differ) service(k ServiceKey, want, have *Entry) {
	if have == nil {
		d.emit(Op{Kind: AddService, Service: want.Service})
		if d.only != AddDest {
			return
		}
		for _, dv := range want.Dests {
			d.emit(Op{Kind: AddDest, Service: want.Service, Dest: dv})
		}
		return
	}
	if d.only == UpdateService && !sameService(want.Service, have.Service) {
		d.emit(Op{Kind: UpdateService, Service: want.Service})
	}
	if d.only != DelDest && d.only != AddDest && d.only != UpdateDest {
		return
	}
	hs, ws := have.Dests, want.Dests
	i, j := 0, 0
	for i < len(hs) || j < len(ws) {
		c := -1 // only have's left
		switch {
		case i == len(hs):
			c = 1
		case j < len(ws):
			c = compareDestKeys(hs[i].Key, ws[j].Key)
		}
		switch {
		case c < 0:
			if d.only == DelDest && d.owned.OwnsDest(k, hs[i].Key) {
				d.emit(Op{Kind: DelDest, Service: want.Service, Dest: hs[i]})
			}
			i++
		case c > 0:
			d.emit(Op{Kind: AddDest, Service: want.Service, Dest: ws[j]})
			j++
		default:
			h, dv := &hs[i], &ws[j]
			if h.Weight != dv.Weight || h.Fwd != dv.Fwd || h.UThreshold != dv.UThreshold || h.LThreshold != dv.LThreshold {
				d.emit(Op{Kind: UpdateDest, Service: want.Service, Dest: *dv})
			}
			i++
			j++
		}
	}
}

// compareKeys orders service keys as keyLess does, in one pass.
func compareKeys(a, b ServiceKey) int {
	if af, bf := a.FWMark != 0, b.FWMark != 0; af != bf {
		if af {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(a.FWMark, b.FWMark); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Family, b.Family); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Protocol, b.Protocol); c != 0 {
		return c
	}
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	return cmp.Compare(a.Port, b.Port)
}

// compareDestKeys orders destination keys as destLess does.
func compareDestKeys(a, b DestKey) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	return cmp.Compare(a.Port, b.Port)
}

// Reconciler brings the kernel's table to a desired one through a Handle,
// remembering what kt owns and what it last applied, so that a change of
// one real server costs one netlink request. Not safe for concurrent use;
// Manager serialises it.
type Reconciler struct {
	h   Handle
	log *slog.Logger
	// prev is the last desired table (kt owns its entries); extra what kt
	// owns besides: entries it failed to delete.
	prev  Table
	extra Owned
	// applied is the kernel's table as far as kt knows it (the services in
	// desired or owned); nil when it must be read again (at start, after
	// an error).
	applied Table
	// lent are the services whose entry in applied is the desired
	// table's own (added whole by a pass): applied copies such an entry
	// before it changes it, and never changes it in place.
	lent lentSet
	// chunkSize, when set, replaces reconcileChunk (tests).
	chunkSize int
}

// NewReconciler returns a Reconciler over h that owns nothing yet. log may
// be nil.
func NewReconciler(h Handle, log *slog.Logger) *Reconciler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{h: h, log: log, extra: NewOwned()}
}

func (r *Reconciler) owner() owner { return owner{prev: r.prev, extra: r.extra} }

// Owned returns what the reconciler owns (a copy).
func (r *Reconciler) Owned() Owned {
	o := NewOwned()
	for k, e := range r.prev {
		o.Services[k] = true
		for _, d := range e.Dests {
			o.addDest(k, d.Key)
		}
	}
	for k := range r.extra.Services {
		o.Services[k] = true
	}
	for k, m := range r.extra.Dests {
		for d := range m {
			o.addDest(k, d)
		}
	}
	return o
}

// Invalidate makes the next Reconcile read the kernel's table again
// instead of trusting what it applied (someone else may have changed it).
func (r *Reconciler) Invalidate() { r.applied, r.lent = nil, lentSet{} }

// Read returns the kernel's table (services and destinations) for the
// services in want or owned; want nil means all services.
func Read(h Handle, want func(ServiceKey) bool) (Table, error) {
	if r, ok := h.(tableReader); ok {
		if t, err := r.readTable(want); !errors.Is(err, errNoTableReader) {
			return t, err
		}
	}
	svcs, err := h.GetServices()
	if err != nil {
		return nil, fmt.Errorf("lvs: list services: %w", err)
	}
	t := Table{}
	for _, s := range svcs {
		svc, ok := fromIPVSService(s)
		if !ok || (want != nil && !want(svc.Key)) {
			continue
		}
		ds, err := h.GetDestinations(s)
		if err != nil {
			return nil, fmt.Errorf("lvs: list real servers of %s: %w", svc.Key, err)
		}
		e := t.add(svc)
		for _, d := range ds {
			if dd, ok := fromIPVSDest(d); ok {
				e.Dests = append(e.Dests, dd)
			}
		}
		e.Dests = normDests(e.Dests)
	}
	err = fillPENames(h, func(k ServiceKey, pe string) {
		if e := t[k]; e != nil {
			e.Service.PEName = pe
		}
	})
	return t, err
}

// Reconcile changes the kernel's table so that the services kt owns match
// desired, and from then on owns desired's entries (the caller must not
// change desired afterwards). Each failed change is logged and returned
// (joined) with its entry; the others are still applied, and the next
// Reconcile reads the kernel again and retries.
func (r *Reconciler) Reconcile(desired Table) error {
	own := r.owner()
	// applied speaks for the services kt desired last time (it added
	// those the kernel lacked) and for those it has: a service in
	// neither (new, or gone and back) may be someone else's by now, so
	// the kernel is read again. This costs no set of its own: a set of
	// the 10,000 services read was 0.8 MiB of the daemon's heap.
	stale := r.applied == nil
	for k := range desired {
		if stale {
			break
		}
		stale = r.prev[k] == nil && r.applied[k] == nil
	}
	if stale {
		want := func(k ServiceKey) bool { return desired[k] != nil || own.OwnsService(k) }
		cur, err := Read(r.h, want)
		if err != nil {
			return err
		}
		if len(cur) == 0 {
			cur = make(Table, len(desired)) // a full load: room for what it adds
		}
		r.applied, r.lent = cur, lentSet{}
	}
	// An entry the Planner reused from the last pass, which that pass
	// applied without error, matches the kernel still (as far as kt can
	// know without reading it again).
	var same func(ServiceKey, *Entry) bool
	if !stale && r.prev != nil {
		same = func(k ServiceKey, e *Entry) bool { return r.prev[k] == e }
	}
	w := newDiffWalk(r.applied, desired, own, same)
	// A pass that adds to an empty applied (a full load) lends all it
	// adds: lent then speaks for them through desired itself.
	lendAll := w.adds > 0 && len(r.applied) == 0
	switch {
	case lendAll:
		r.lent = lentSet{from: desired}
	case r.lent.m == nil && w.adds > 0:
		r.lent.m = make(map[ServiceKey]bool, w.adds)
	}
	var errs []error
	// Keep owning what was to go and is still there (the deletion
	// failed), so that the next pass deletes it.
	extra := NewOwned()
	err := w.each(r.chunk(), func(ops []Op) error {
		es, err := r.apply(ops, desired, lendAll)
		if err != nil {
			return err
		}
		errs = append(errs, es...)
		for _, op := range ops {
			switch op.Kind {
			case DelService:
				if r.applied[op.Service.Key] != nil {
					extra.Services[op.Service.Key] = true
				}
			case DelDest:
				if e := r.applied[op.Service.Key]; e != nil {
					if _, ok := e.find(op.Dest.Key); ok {
						extra.addDest(op.Service.Key, op.Dest.Key)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		// The kernel did not answer: what it did of this pass is not
		// known. kt owns desired's entries now, and keeps owning all it
		// owned before, so that the next pass deletes what is not desired.
		own := r.Owned()
		for k := range extra.Services {
			own.Services[k] = true
		}
		for k, m := range extra.Dests {
			for d := range m {
				own.addDest(k, d)
			}
		}
		r.prev, r.extra = desired, own
		r.applied, r.lent = nil, lentSet{}
		return err
	}
	for k := range r.extra.Services {
		if desired[k] == nil && r.applied[k] != nil && !extra.Services[k] {
			extra.Services[k] = true
		}
	}
	r.prev, r.extra = desired, extra
	if errs != nil {
		r.applied, r.lent = nil, lentSet{}
	} else {
		r.lent.fold(r.applied)
	}
	return errors.Join(errs...)
}

// reconcileChunk is how many changes Reconcile applies at a time: eight
// of the batch socket's messages.
const reconcileChunk = 8 * batchSize

func (r *Reconciler) chunk() int {
	if r.chunkSize != 0 {
		return r.chunkSize
	}
	return reconcileChunk
}

// apply carries out ops, updating r.applied, and returns their errors.
// A handle that takes batches gets them all at once; the changes that fail
// there for a reason one request can fix (exists, already gone) go again
// one at a time.
//
// A service added whole (desired, not nil, has its entry) goes into
// applied as desired's entry itself, not as a copy built change by change
// (on a full load, 10,000 maps built again for nothing): its destinations
// are the ones its AddDest changes add. Any failed change makes the caller
// drop applied, so a lent entry never speaks for a change that failed.
//
// lendAll says that r.lent speaks for the services added whole through
// desired (lentSet.from) and need not list them.
//
// It returns the failed changes' errors, and an error of its own when the
// kernel did not answer a batch (then nothing after it was tried).
func (r *Reconciler) apply(ops []Op, desired Table, lendAll bool) ([]error, error) {
	var errs []error
	var batchErrs []error
	if b, ok := r.h.(batcher); ok && len(ops) > 1 {
		var err error
		if batchErrs, err = b.ApplyOps(ops); err != nil {
			if !errors.Is(err, ErrNoBatch) {
				return nil, err
			}
			batchErrs = nil
		}
	}
	debug := r.log.Enabled(context.Background(), slog.LevelDebug)
	// The changes come service by service: the entry of the last one
	// looked up is kept (lk, le; lok when they speak), which spares a
	// full load's 40,000 AddDest a lookup in applied each.
	var lk ServiceKey
	var le *Entry
	lok := false
	for i, op := range ops {
		var err error
		if batchErrs != nil {
			err = batchErrs[i]
			if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ESRCH) {
				err = r.do(op)
			}
		} else {
			err = r.do(op)
		}
		if err != nil {
			err = fmt.Errorf("lvs: %s: %w", op, err)
			r.log.Error("ipvs change failed, will retry", "op", op.String(), "err", err)
			errs = append(errs, err)
			continue
		}
		if debug {
			r.log.Debug("ipvs", "op", op.String())
		}
		k := op.Service.Key
		if !lok || k != lk {
			lk, le, lok = k, r.applied[k], true
		}
		switch op.Kind {
		case AddService:
			if want := desired[k]; want != nil && le == nil && want.Service == op.Service {
				r.applied[k], le = want, want
				if !lendAll {
					r.lent.add(k)
				}
				continue
			}
			le = r.own(k)
			le.Service = op.Service
		case UpdateService:
			le = r.own(k)
			le.Service = op.Service
		case DelService:
			r.lent.drop(k, le)
			delete(r.applied, k)
			le = nil
		case AddDest, UpdateDest:
			if le != nil {
				if have, ok := le.Dest(op.Dest.Key); ok && have == op.Dest {
					continue // a lent entry has it already
				}
				le = r.own(k)
				le.SetDest(op.Dest)
			}
		case DelDest:
			if le != nil {
				if _, ok := le.find(op.Dest.Key); ok {
					le = r.own(k)
					le.DelDest(op.Dest.Key)
				}
			}
		}
	}
	return errs, nil
}

// own returns applied's entry of k to change, creating it or, when it
// is lent, copying it first.
func (r *Reconciler) own(k ServiceKey) *Entry {
	e := r.applied[k]
	if e == nil {
		e = &Entry{}
		r.applied[k] = e
		return e
	}
	if r.lent.has(k, e) {
		r.lent.drop(k, e)
		e = &Entry{Service: e.Service, Dests: cloneDests(e.Dests)}
		r.applied[k] = e
	}
	return e
}

// lentSet is which of applied's entries are lent (the desired table's
// own, added whole by a pass). Those a pass added to an empty applied (a
// full load) are not listed one by one: from is that pass's desired
// table, and such an entry is lent while applied has it still. A full
// load of 10,000 services spares a set of 10,000 keys (0.8 MiB) this way.
type lentSet struct {
	m    map[ServiceKey]bool
	from Table
	// gone counts from's entries that applied no longer has (copied or
	// deleted): once a quarter are gone, fold lists the others in m and
	// forgets from, so that from does not keep alive many entries only it
	// has.
	gone int
}

// has reports whether e, applied's entry of k, is lent.
func (l *lentSet) has(k ServiceKey, e *Entry) bool {
	return l.m[k] || (e != nil && l.from != nil && l.from[k] == e)
}

// add records applied's entry of k as lent.
func (l *lentSet) add(k ServiceKey) {
	if l.m == nil {
		l.m = map[ServiceKey]bool{}
	}
	l.m[k] = true
}

// drop records that e, applied's entry of k, is replaced or deleted.
func (l *lentSet) drop(k ServiceKey, e *Entry) {
	delete(l.m, k)
	if e != nil && l.from != nil && l.from[k] == e {
		l.gone++
	}
}

// fold lists in m the entries of from that applied still has, and forgets
// from, once a quarter of from's are gone.
func (l *lentSet) fold(applied Table) {
	if l.from == nil || l.gone*4 < len(l.from) {
		return
	}
	for k, e := range l.from {
		if e != nil && applied[k] == e {
			l.add(k)
		}
	}
	l.from, l.gone = nil, 0
}

func (r *Reconciler) do(op Op) error {
	s := toIPVSService(op.Service)
	switch op.Kind {
	case AddService:
		err := r.h.NewService(s)
		if errors.Is(err, syscall.EEXIST) {
			err = r.h.UpdateService(s)
		}
		return err
	case UpdateService:
		return r.h.UpdateService(s)
	case DelService:
		err := r.h.DelService(s)
		if errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENOENT) {
			err = nil
		}
		return err
	case AddDest:
		d := toIPVSDest(op.Dest)
		err := r.h.NewDestination(s, d)
		if errors.Is(err, syscall.EEXIST) {
			err = r.h.UpdateDestination(s, d)
		}
		return err
	case UpdateDest:
		return r.h.UpdateDestination(s, toIPVSDest(op.Dest))
	case DelDest:
		err := r.h.DelDestination(s, toIPVSDest(op.Dest))
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ESRCH) {
			err = nil
		}
		return err
	}
	return fmt.Errorf("unknown op %d", op.Kind)
}

// Release removes from the kernel everything kt owns (on stop; keepalived
// without --dont-release-ipvs): its services, and its destinations of
// services it does not own. Errors are joined; what could not be removed
// stays owned.
func (r *Reconciler) Release() error {
	own := r.owner()
	cur, err := Read(r.h, func(k ServiceKey) bool { return own.OwnsService(k) || len(r.extra.Dests[k]) > 0 })
	if err != nil {
		return err
	}
	var ops []Op
	for _, k := range cur.Keys() {
		e := cur[k]
		if own.OwnsService(k) {
			ops = append(ops, Op{Kind: DelService, Service: e.Service})
			continue
		}
		for _, d := range e.SortedDests() {
			if own.OwnsDest(k, d.Key) {
				ops = append(ops, Op{Kind: DelDest, Service: e.Service, Dest: d})
			}
		}
	}
	r.applied, r.lent = cur, lentSet{}
	es, err := r.apply(ops, nil, false)
	if err == nil && es == nil {
		r.prev, r.extra = nil, NewOwned()
	}
	r.applied, r.lent = nil, lentSet{}
	if err != nil {
		return err
	}
	return errors.Join(es...)
}

func ipOf(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return net.IP(a.AsSlice())
}

func toIPVSService(s Service) *ipvs.Service {
	out := &ipvs.Service{
		AddressFamily: s.Key.Family,
		Protocol:      s.Key.Protocol,
		Address:       ipOf(s.Key.Addr),
		Port:          s.Key.Port,
		FWMark:        s.Key.FWMark,
		SchedName:     s.Sched,
		Flags:         s.Flags,
		Timeout:       s.Timeout,
		Netmask:       s.Netmask,
		PEName:        s.PEName,
	}
	return out
}

func toIPVSDest(d Dest) *ipvs.Destination {
	return &ipvs.Destination{
		Address:         ipOf(d.Key.Addr),
		Port:            d.Key.Port,
		Weight:          d.Weight,
		ConnectionFlags: d.Fwd,
		AddressFamily:   family(d.Key.Addr),
		UpperThreshold:  d.UThreshold,
		LowerThreshold:  d.LThreshold,
	}
}

func addrOf(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func fromIPVSService(s *ipvs.Service) (Service, bool) {
	out := Service{Sched: s.SchedName, Flags: s.Flags &^ FlagHashed, Timeout: s.Timeout, Netmask: s.Netmask, PEName: s.PEName}
	if s.FWMark != 0 {
		out.Key = ServiceKey{Family: s.AddressFamily, FWMark: s.FWMark}
		return out, true
	}
	a, ok := addrOf(s.Address)
	if !ok {
		return out, false
	}
	out.Key = ServiceKey{Family: s.AddressFamily, Protocol: s.Protocol, Addr: a, Port: s.Port}
	return out, true
}

func fromIPVSDest(d *ipvs.Destination) (Dest, bool) {
	a, ok := addrOf(d.Address)
	if !ok {
		return Dest{}, false
	}
	return Dest{Key: DestKey{Addr: a, Port: d.Port}, Weight: d.Weight, Fwd: d.ConnectionFlags & 7,
		UThreshold: d.UpperThreshold, LThreshold: d.LowerThreshold}, true
}
