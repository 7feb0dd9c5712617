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
	e := deepCopy(c)
	v := &validator{c: e, host: opt.Host}
	// In keepalived's order: what its parser checks as it reads, then what
	// vrrp_complete_init checks, each seeing the fix-ups before it.
	v.global()
	v.scripts()
	if v.host != nil {
		v.globalHost()
		v.scriptUsers()
		v.interfaces()
	}
	v.instances()
	v.syncGroups()
	if v.host != nil {
		v.scriptFiles()
	}
	v.completeInstances()
	v.virtualServers()
	v.scriptSecurity()
	v.sink.list.Sort()
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
