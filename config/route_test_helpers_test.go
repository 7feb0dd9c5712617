package config

import "reflect"

// sameValue compares two values of the model as Equal does.
func sameValue(a, b any) bool { return deepEqual(reflect.ValueOf(a), reflect.ValueOf(b)) }
