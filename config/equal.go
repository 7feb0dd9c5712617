package config

import "reflect"

var bfdCheckLinesType = reflect.TypeFor[[]BFDCheckLine]()

// Equal reports whether two models say the same thing. Where things were
// written (Pos fields, and a BFD_CHECK's lines as written) does not
// count, an empty list or map equals a missing one, and a block's rarely
// written keywords out of line (RealServerExtra) all unset equal none.
func Equal(a, b *Config) bool {
	return deepEqual(reflect.ValueOf(a), reflect.ValueOf(b))
}

// orZero returns the struct the pointer p points to, or the zero struct
// when p is nil.
func orZero(p reflect.Value) reflect.Value {
	if p.IsNil() {
		return reflect.Zero(p.Type().Elem())
	}
	return p.Elem()
}

func deepEqual(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return deepEqual(a.Elem(), b.Elem())
	case reflect.Struct:
		if a.Type() == posType {
			return true
		}
		t := a.Type()
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() {
				// An opaque value such as netip.Addr: compare it whole.
				return a.Interface() == b.Interface()
			}
		}
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).Type == bfdCheckLinesType {
				continue
			}
			if t.Field(i).Anonymous && t.Field(i).Type.Kind() == reflect.Pointer {
				// Keywords out of line (RealServerExtra): none set equals
				// all unset.
				if !deepEqual(orZero(a.Field(i)), orZero(b.Field(i))) {
					return false
				}
				continue
			}
			if !deepEqual(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !deepEqual(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !deepEqual(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
