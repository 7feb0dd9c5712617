package config

import (
	"reflect"
)

// EffectiveOptions controls Effective.
type EffectiveOptions struct {
	// Host, when set, is asked about the machine the configuration runs
	// on (interfaces, users, script files), as keepalived -t checks the
	// host it runs on. nil leaves those checks out (kt convert --no-host,
	// a configuration meant for another machine).
	Host Host
	// Reuse is the one the model was parsed with (ParseOptions.Reuse):
	// the running virtual servers the parse took over are not checked
	// again (what their checks said last time is said again), and this
	// load's blocks are recorded for the next.
	Reuse *Reuse
}

// Effective returns the configuration keepalived 2.2.7 would run: a copy of
// c with keepalived's fix-ups applied (an unknown state read as BACKUP, AH
// with state MASTER started as BACKUP, a vrrp_script with no script removed
// and the track_script lines naming it dropped, ...), with every problem
// found, each at the file:line keepalived reports it. c is not changed.
//
// kt run, kt convert --check and kt convert --effective all call it, so what
// is checked is what runs. The diagnostics say which problems keepalived
// refuses to start with (Diagnostics.Refusals).
func Effective(c *Config, opt EffectiveOptions) (*Config, Diagnostics) {
	e := effectiveCopy(c)
	// Each question to the host is asked once (host_once.go).
	v := &validator{c: e, host: hostOnce(opt.Host)}
	v.startReuse(opt.Reuse, c)
	// In keepalived's order: what its parser checks as it reads, then what
	// vrrp_complete_init checks, each seeing the fix-ups before it.
	v.global()
	v.missingIface = v.garpGroups()
	v.garpExtraIf()
	v.scripts()
	v.trackers()
	// Address, route, rule and group lines are judged as keepalived's
	// parser reads them, before the instances are completed.
	v.lineVerdicts()
	if v.host != nil {
		v.globalHost()
		v.scriptUsers()
		v.miscUsers()
		v.interfaces()
	}
	v.bfdInstances()
	v.instances()
	v.syncGroups()
	if v.host != nil {
		v.scriptFiles()
	}
	v.completeInstances()
	v.syncGroupStates()
	v.virtualServers()
	v.bgp()
	v.bfdChecks()
	v.scriptSecurity()
	v.notRun()
	v.sink.list.Sort()
	v.endReuse(opt.Reuse)
	return e, v.sink.list
}

// deepCopy copies a model so that changing the copy leaves the original as
// it was. Values with unexported fields (netip.Addr and the like) are
// immutable and are copied whole.
func deepCopy(c *Config) *Config {
	if c == nil {
		return nil
	}
	out := reflect.New(reflect.TypeOf(*c)).Elem()
	copyValue(out, reflect.ValueOf(*c))
	cp := out.Interface().(Config)
	return &cp
}

// effectiveCopy is the copy Effective works on: every block copied deeply
// but the virtual servers, which a large configuration has by the ten
// thousand (copying them would double the time of a check). Their list is
// a new slice of the same pointers: a fix-up may drop or reorder virtual
// servers, and one that changes a virtual server must first take its own
// copy with ownVirtualServer.
func effectiveCopy(c *Config) *Config {
	if c == nil {
		return nil
	}
	vs, vsg := c.VirtualServers, c.VirtualServerGr
	rest := *c // c itself is never written: others may be reading it
	rest.VirtualServers, rest.VirtualServerGr = nil, nil
	cp := deepCopy(&rest)
	cp.VirtualServers = append([]*VirtualServer(nil), vs...)
	if vsg != nil {
		cp.VirtualServerGr = make(map[string]*VSGroup, len(vsg))
		for k, g := range vsg {
			cp.VirtualServerGr[k] = g
		}
	}
	return cp
}

// ownVirtualServer replaces the effective model's i-th virtual server with
// a deep copy of it, which a fix-up may then change, and returns it.
func (v *validator) ownVirtualServer(i int) *VirtualServer {
	src := v.c.VirtualServers[i]
	dst := reflect.New(reflect.TypeOf(*src)).Elem()
	copyValue(dst, reflect.ValueOf(*src))
	vs := dst.Addr().Interface().(*VirtualServer)
	v.c.VirtualServers[i] = vs
	return vs
}

func copyValue(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		n := reflect.New(src.Type().Elem())
		copyValue(n.Elem(), src.Elem())
		dst.Set(n)
	case reflect.Struct:
		dst.Set(src)
		t := src.Type()
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			if needsCopy(t.Field(i).Type) {
				copyValue(dst.Field(i), src.Field(i))
			}
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		n := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		deep := needsCopy(src.Type().Elem())
		for i := 0; i < src.Len(); i++ {
			if deep {
				copyValue(n.Index(i), src.Index(i))
			} else {
				n.Index(i).Set(src.Index(i))
			}
		}
		dst.Set(n)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		n := reflect.MakeMapWithSize(src.Type(), src.Len())
		it := src.MapRange()
		for it.Next() {
			v := reflect.New(src.Type().Elem()).Elem()
			copyValue(v, it.Value())
			n.SetMapIndex(it.Key(), v)
		}
		dst.Set(n)
	default:
		dst.Set(src)
	}
}

// needsCopy reports whether values of t hold pointers, slices or maps that
// a copy must not share.
func needsCopy(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() && needsCopy(t.Field(i).Type) {
				return true
			}
		}
	case reflect.Array:
		return needsCopy(t.Elem())
	}
	return false
}

// syncGroupStates applies vrrp_complete_init's rule for sync groups: when
// one member would start as backup or is not the address owner, and one
// would start as master, every member that would start as master starts as
// backup instead (keepalived says nothing). A priority that came from
// `state MASTER` stays 255.
func (v *validator) syncGroupStates() {
	for _, name := range sortedKeys(v.c.SyncGroups) {
		g := v.c.SyncGroups[name]
		haveBackup, haveMaster := false, false
		for _, n := range g.Group {
			in := v.c.Instances[n]
			if in == nil {
				continue
			}
			master := wantsMaster(in)
			haveBackup = haveBackup || !master || in.EffectivePriority() != OwnerPriority
			haveMaster = haveMaster || master
		}
		if !haveBackup || !haveMaster {
			continue
		}
		for _, n := range g.Group {
			if in := v.c.Instances[n]; in != nil && wantsMaster(in) {
				if in.Priority == nil {
					p := in.EffectivePriority()
					in.Priority = &p
				}
				in.State = "BACKUP"
			}
		}
	}
}

// wantsMaster reports whether the instance would start as master
// (keepalived's wantstate): state MASTER, or no state and priority 255.
func wantsMaster(in *Instance) bool {
	if in.State == "" {
		return in.EffectivePriority() == OwnerPriority
	}
	return in.State == "MASTER"
}
