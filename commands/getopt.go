package commands

import (
	"fmt"
	"strings"
)

// argKind says whether an option takes an argument, as getopt_long's
// no_argument, required_argument and optional_argument do.
type argKind int

const (
	noArg argKind = iota
	requiredArg
	optionalArg
)

// optSpec is one option of a C-style command line: a short letter, a long
// name, or both.
type optSpec struct {
	short byte   // 0: long only
	long  string // "": short only
	arg   argKind
}

// parsedOpt is one option found on the command line, or one mistake (err
// set), in the order they were written.
type parsedOpt struct {
	spec   *optSpec
	value  string
	hasVal bool
	err    *optError
}

// optError is a command-line mistake in getopt_long's terms.
type optError struct {
	missing bool   // a required argument is missing (else: unknown option)
	short   byte   // the short option concerned, 0 for a long one
	long    string // the long option's full name (missing) or the word as written (unknown)
}

// message words e as keepalived and genhash do after getopt_long returns
// '?' or ':'.
func (e *optError) message() string {
	switch {
	case e.missing && e.short != 0:
		return fmt.Sprintf("Missing parameter for option -%c", e.short)
	case e.missing:
		return "Missing parameter for option --" + e.long
	case e.short != 0:
		return fmt.Sprintf("Unknown option -%c", e.short)
	}
	return "Unknown option " + e.long
}

// getoptLong reads args (without the program name) the way glibc's
// getopt_long does for the tools kt stands in for: short options may be
// clustered (-nlD) and take their argument attached or as the next word
// (optional arguments only attached), long options may be abbreviated to
// any unique prefix and take --name=value or --name value (optional
// arguments only with =), "--" ends the options, and the other words are
// moved to the end (permutation). An empty --name= counts as a missing
// argument, as keepalived treats it. Mistakes are returned in order; parsing
// goes on after each, as getopt does.
func getoptLong(args []string, specs []optSpec) (opts []parsedOpt, rest []string) {
	fail := func(e optError) { opts = append(opts, parsedOpt{err: &e}) }
	byShort := func(c byte) *optSpec {
		for i := range specs {
			if specs[i].short == c {
				return &specs[i]
			}
		}
		return nil
	}
	byLong := func(name string) (*optSpec, bool) {
		var found *optSpec
		ambiguous := false
		for i := range specs {
			s := &specs[i]
			if s.long == "" || !strings.HasPrefix(s.long, name) {
				continue
			}
			if s.long == name {
				return s, false
			}
			if found != nil && (found.short != s.short || found.arg != s.arg) {
				ambiguous = true
			}
			if found == nil {
				found = s
			}
		}
		if ambiguous {
			return nil, true
		}
		return found, false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			return opts, rest
		case strings.HasPrefix(a, "--"):
			name, val, hasEq := strings.Cut(a[2:], "=")
			s, _ := byLong(name)
			if s == nil {
				fail(optError{long: a})
				continue
			}
			o := parsedOpt{spec: s}
			switch s.arg {
			case noArg:
				if hasEq {
					fail(optError{long: a})
					continue
				}
			case requiredArg:
				switch {
				case hasEq:
					o.value, o.hasVal = val, true
				case i+1 < len(args):
					i++
					o.value, o.hasVal = args[i], true
				}
				if o.value == "" {
					fail(optError{missing: true, long: s.long})
					continue
				}
			case optionalArg:
				o.value, o.hasVal = val, hasEq
			}
			opts = append(opts, o)
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				s := byShort(a[j])
				if s == nil {
					fail(optError{short: a[j]})
					continue
				}
				o := parsedOpt{spec: s}
				if s.arg != noArg {
					if j+1 < len(a) {
						o.value, o.hasVal = a[j+1:], true
					} else if s.arg == requiredArg && i+1 < len(args) {
						i++
						o.value, o.hasVal = args[i], true
					} else if s.arg == requiredArg {
						fail(optError{missing: true, short: s.short})
						break
					}
					opts = append(opts, o)
					break
				}
				opts = append(opts, o)
			}
		default:
			rest = append(rest, a)
		}
	}
	return opts, rest
}
