package config

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"unsafe"
)

// The model is plain structs. One tag drives both formats: `toml:"name"` is
// the TOML key and, unless a `ka:"NAME"` tag spells it differently, also the
// keepalived.conf keyword. A field's Go type says how its keyword is written:
//
//	string, *int..., *float64, *Duration, bool, *bool   kw ARG           (a scalar)
//	a type implementing wordsValue                     kw ARGS...       (a value of several words)
//	*T, T a struct                                     kw { ... }       (a block, merged if repeated)
//	[]*T, T a struct (optionally a headerBlock)        kw [ARGS] { ... } (repeated blocks)
//	map[string]*T                                      kw NAME { ... }  (named blocks)
//	[]string, []T with T a wordsValue                  kw { LINE ... }  (a list of lines; []string takes every word)
//
// A field named Pos of type Pos receives where the block (or list entry) was
// written; a field named Name receives a named block's name; a field tagged
// `ka:",unparsed"` keeps keywords kt does not know, verbatim, so a conversion
// never loses them. `ka:"-,body"` marks a list that takes every line of the
// block (virtual_server_group members have no keyword). `ka:",bare=V"` gives
// the value of a keyword written with none, `ka:",badas=V"` the value keepalived
// reads one it cannot read as, `ka:",lenient=u:LO:HI"` (or i:) the range in
// which keepalived's daemon reads a number with junk after its digits as
// those digits (lenientNumber), and `ka:",first"` makes the words after the
// first ignored (with a warning), as keepalived's handler ignores them. `ka:",ms"` reads a Duration in milliseconds instead of
// seconds, and `ka:",us"` in microseconds.

// wordsValue is a value written as the words after its keyword.
type wordsValue interface {
	parseWords(words []string) error
	formatWords() []string
}

// headerBlock is a block whose keyword line carries arguments, such as
// `real_server 192.0.2.1 80 {`.
type headerBlock interface {
	parseHeader(words []string) error
	formatHeader() []string
}

type fieldKind int

const (
	kindScalar fieldKind = iota
	kindWords
	kindBlock
	kindBlockList
	kindNamed
	kindLines
	kindUnparsed
)

type fieldInfo struct {
	kw    string       // keepalived keyword
	key   string       // TOML key
	index []int        // path through embedded structs (fieldOf, settableField)
	typ   reflect.Type // the field's type
	kind  fieldKind
	elem  reflect.Type // the struct type of blocks, or the entry type of lines
	unit  string       // "", "ms" or "us" for Durations
	bare  string       // the value a keyword written alone stands for
	alone *aloneRule   // keepalived's reading of the keyword written alone, if not null_strvec's (alone.go)
	badAs string       // the value keepalived reads a value it cannot read as (`ka:",badas=V"`)
	// lenient: keepalived's daemon reads a number with junk after its
	// digits as those digits when they are in range (`ka:",lenient=u:LO:HI"`,
	// or i: for a signed number); see lenientRange.read.
	lenient *lenientRange
	first   bool // keepalived reads the first word only (`ka:",first"`)

	plain  bool       // for kindLines: entries are plain strings, one per word
	scalar scalarKind // for kindScalar: which fast path sets it
	again  againKind  // what parser.scriptAgain checks for this field
	// special is set for the keywords parser.specialLine reads in every
	// block (regex, regex_options).
	special bool
	// direct is set for a field of the struct itself (not of one it
	// embeds), at offset off.
	direct bool
	off    uintptr
	// optBool is set for a pointer to a bool: a value that may be left
	// out, and whose words after the first get no warning.
	optBool bool
	sub     *blockSchema // for blocks: the schema of elem, filled on first use
	// lastLen is, for kindBlockList, the length the list had after its
	// last append: a new list starts with that much room (up to
	// maxListHint), as blocks of one kind tend to hold as many entries.
	lastLen int
	// header, for kindBlockList, returns the block at an address as its
	// headerBlock; nil if elem is not one.
	header func(unsafe.Pointer) headerBlock
}

// headerOf returns fieldInfo.header for blocks of type t. The types read
// most get a plain conversion; reflect's (NewAt, Interface) looks the
// pointer type up in its tables each time.
func headerOf(t reflect.Type) func(unsafe.Pointer) headerBlock {
	switch t {
	case reflect.TypeFor[RealServer]():
		return func(at unsafe.Pointer) headerBlock { return (*RealServer)(at) }
	case reflect.TypeFor[VirtualServer]():
		return func(at unsafe.Pointer) headerBlock { return (*VirtualServer)(at) }
	}
	if !reflect.PointerTo(t).Implements(reflect.TypeFor[headerBlock]()) {
		return nil
	}
	return func(at unsafe.Pointer) headerBlock { return reflect.NewAt(t, at).Interface().(headerBlock) }
}

// scalarKind names the scalar types the parser sets without going through
// reflection's general path (setScalar sets the others).
type scalarKind uint8

const (
	scOther    scalarKind = iota
	scFlag                // bool: a keyword written alone
	scBool                // *bool
	scString              // string
	scInt                 // *int
	scDuration            // *Duration
)

var (
	boolPtrType     = reflect.TypeOf((*bool)(nil))
	intPtrType      = reflect.TypeOf((*int)(nil))
	durationPtrType = reflect.TypeOf((*Duration)(nil))
)

// scalarKindOf tells which fast path sets a field of type t. The pointer
// types are compared whole, so that the parser can set the field through
// its address: a named type goes the general way.
func scalarKindOf(t reflect.Type) scalarKind {
	switch {
	case t.Kind() == reflect.Bool:
		return scFlag
	case t.Kind() == reflect.String:
		return scString
	case t == boolPtrType:
		return scBool
	case t == intPtrType:
		return scInt
	case t == durationPtrType:
		return scDuration
	}
	return scOther
}

// againKind names what a keyword written a second time in one block can
// be skipped for (parser.scriptAgain). It is worked out once per field:
// comparing reflect.Types on every line called the runtime for each.
type againKind uint8

const (
	againNever  againKind = iota
	againArgs             // Args: a global_defs fifo
	againSyncd            // SyncDaemonLine: lvs_sync_daemon
	againState            // state, a string: BACKUP after MASTER
	againScript           // Script: a notify, startup or shutdown script
)

// againKindOf is the againKind of the field of type t written as kw.
func againKindOf(kw string, t reflect.Type) againKind {
	switch {
	case t == argsType:
		return againArgs
	case t == syncDaemonLineType:
		return againSyncd
	case t == scriptType:
		return againScript
	case kw == "state" && t.Kind() == reflect.String:
		return againState
	}
	return againNever
}

type blockSchema struct {
	fields   []fieldInfo
	byKW     map[string]*fieldInfo
	byKey    map[string]*fieldInfo
	pos      int     // index of the Pos field, or -1
	posOff   uintptr // the Pos field's offset in the struct
	name     int     // index of the Name field, or -1
	unparsed int     // index of the unparsed field, or -1
	body     int     // index into fields of the list that takes the whole body, or -1
	// blocks hands out new values of the schema's type for one parser
	// (parser.newBlock).
	blocks blockSlab
	// recentKeys are the last keyword lists parser.keep made for blocks
	// of this schema, which the next blocks share when theirs are the
	// same; nextKeys is the one to replace next.
	recentKeys [4]*[]KeyLine
	nextKeys   int
	// kwCache remembers the last keywords looked up (field), by a hash of
	// their length and first and last bytes.
	kwCache [32]kwEntry
}

type kwEntry struct {
	kw string
	f  *fieldInfo // nil: not a keyword of the block
}

// field returns the field keyword kw sets, nil if the block has none. The
// lexer hands the parser one string for each distinct word, so a keyword
// found before compares equal at its pointer: on bench/convert.sh's file
// the map lookup this saves was 4% of the check's samples.
func (s *blockSchema) field(kw string) *fieldInfo {
	if kw == "" {
		return s.byKW[kw]
	}
	e := &s.kwCache[(len(kw)*7+int(kw[0])+3*int(kw[len(kw)-1]))%len(s.kwCache)]
	if sameString(e.kw, kw) && e.kw != "" {
		return e.f
	}
	f := s.byKW[kw]
	e.kw, e.f = kw, f
	return f
}

var (
	wordsValueType = reflect.TypeOf((*wordsValue)(nil)).Elem()
	posType        = reflect.TypeOf(Pos{})
)

// schemas caches the schema of each model type for one parse or write.
type schemas map[reflect.Type]*blockSchema

func (sc schemas) of(t reflect.Type) *blockSchema {
	if s, ok := sc[t]; ok {
		return s
	}
	s := &blockSchema{byKW: map[string]*fieldInfo{}, byKey: map[string]*fieldInfo{}, pos: -1, name: -1, unparsed: -1, body: -1}
	sc[t] = s
	bodyKey := ""
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous && (f.Type.Kind() == reflect.Struct || f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct) {
			continue // its fields are promoted and listed on their own
		}
		i := f.Index[0]
		if f.Type == posType && f.Name == "Pos" {
			if len(f.Index) == 1 {
				s.pos, s.posOff = i, f.Offset
			}
			continue
		}
		tomlTag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		kaName, kaOpts, _ := strings.Cut(f.Tag.Get("ka"), ",")
		if f.Name == "Name" && tomlTag == "-" {
			s.name = i
			continue
		}
		if kaOpts == "unparsed" {
			s.unparsed = i
			continue
		}
		if tomlTag == "-" || (kaName == "-" && !strings.Contains(kaOpts, "body")) || !f.IsExported() {
			continue
		}
		fi, body := newFieldInfo(f, tomlTag, kaName, kaOpts)
		fi.alone = aloneRuleOf(t, fi.kw)
		if fi.lenient != nil {
			fi.lenient.msg = cmp.Or(lenientMsgs[t.Name()+"."+fi.kw], lenientMsgs["*."+fi.kw])
		}
		if body {
			bodyKey = tomlTag
		}
		s.fields = append(s.fields, fi)
	}
	orderFields(t, s.fields)
	for i := range s.fields {
		if bodyKey != "" && s.fields[i].key == bodyKey {
			s.body = i
		}
	}
	for i := range s.fields {
		if i == s.body {
			continue
		}
		s.byKW[s.fields[i].kw] = &s.fields[i]
		s.byKey[s.fields[i].key] = &s.fields[i]
	}
	return s
}

// newFieldInfo describes the keyword field f, tagged tomlTag and ka
// kaName,kaOpts; body reports the `ka:"-,body"` option.
func newFieldInfo(f reflect.StructField, tomlTag, kaName, kaOpts string) (fi fieldInfo, body bool) {
	fi = fieldInfo{key: tomlTag, kw: tomlTag, index: f.Index, typ: f.Type}
	for _, o := range strings.Split(kaOpts, ",") {
		switch {
		case o == "ms" || o == "us":
			fi.unit = o
		case strings.HasPrefix(o, "bare="):
			fi.bare = strings.TrimPrefix(o, "bare=")
		case strings.HasPrefix(o, "badas="):
			fi.badAs = strings.TrimPrefix(o, "badas=")
		case strings.HasPrefix(o, "lenient="):
			fi.lenient = parseLenient(strings.TrimPrefix(o, "lenient="))
		case o == "first":
			fi.first = true
		case o == "body":
			body = true
		}
	}
	if kaName != "" {
		fi.kw = kaName
	}
	fi.kind, fi.elem = classify(f.Type)
	if fi.kind == kindScalar {
		fi.scalar = scalarKindOf(f.Type)
	}
	if fi.kind == kindScalar || fi.kind == kindWords {
		fi.again = againKindOf(fi.kw, f.Type)
	}
	fi.special = fi.kw == "regex" || fi.kw == "regex_options"
	fi.direct, fi.off = len(f.Index) == 1, f.Offset
	fi.optBool = f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Bool
	if fi.kind == kindBlockList {
		fi.header = headerOf(fi.elem)
	}
	if fi.kind == kindLines {
		fi.plain = fi.elem.Kind() == reflect.String && !reflect.PointerTo(fi.elem).Implements(wordsValueType)
	}
	return fi, body
}

// orderFields sorts the keyword fields of the struct type t by its
// keyOrder, if it has one, and those of a struct embedded by value that
// has one (CheckCommon) by that, in their place.
func orderFields(t reflect.Type, fields []fieldInfo) {
	if o, ok := reflect.New(t).Interface().(keyOrderer); ok {
		sortByKeys(fields, o.keyOrder())
	}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.Anonymous || sf.Type.Kind() != reflect.Struct {
			continue
		}
		o, ok := reflect.New(sf.Type).Interface().(keyOrderer)
		if !ok {
			continue
		}
		lo := slices.IndexFunc(fields, func(f fieldInfo) bool { return f.index[0] == i })
		if lo < 0 {
			continue
		}
		hi := lo
		for hi < len(fields) && fields[hi].index[0] == i {
			hi++
		}
		sortByKeys(fields[lo:hi], o.keyOrder())
	}
}

// keyOrderer is a block whose fields are not written in the order of its
// struct (some are out of line, in an embedded struct pointer): keyOrder
// lists its TOML keys in the order to write them; keys not listed come
// after those listed, in struct order.
type keyOrderer interface {
	keyOrder() []string
}

// sortByKeys sorts fields by the place of their keys in order, those not
// in it last, each group in its own order.
func sortByKeys(fields []fieldInfo, order []string) {
	rank := func(f fieldInfo) int {
		if i := slices.Index(order, f.key); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(fields, func(a, b fieldInfo) int { return rank(a) - rank(b) })
}

// fieldOf returns the field of the struct v at index for reading: the
// zero value of the field's type (typ) when the path goes through a nil
// embedded pointer (a block's rarely written keywords, none set).
func fieldOf(v reflect.Value, index []int, typ reflect.Type) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Zero(typ)
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// settableField returns the field of the addressable struct v at index for
// setting it, allocating the embedded pointers on the way.
func settableField(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// classify tells how a field of type t is written in keepalived.conf.
func classify(t reflect.Type) (fieldKind, reflect.Type) {
	if reflect.PointerTo(t).Implements(wordsValueType) {
		return kindWords, t
	}
	switch t.Kind() {
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Struct && !reflect.PointerTo(t.Elem()).Implements(wordsValueType) && t.Elem() != durationType {
			return kindBlock, t.Elem()
		}
		return kindScalar, t
	case reflect.Slice:
		e := t.Elem()
		if e.Kind() == reflect.Pointer && e.Elem().Kind() == reflect.Struct {
			return kindBlockList, e.Elem()
		}
		return kindLines, e
	case reflect.Map:
		return kindNamed, t.Elem().Elem()
	}
	return kindScalar, t
}

// nearest returns the block's keyword closest to kw when it is a likely
// misspelling (at most two edits, or a different case), else "".
func (s *blockSchema) nearest(kw string) string {
	best, bestD := "", 3
	for k := range s.byKW {
		if strings.EqualFold(k, kw) {
			return k
		}
		if d := editDistance(k, kw, 3); d < bestD || d == bestD && d < 3 && k < best {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or max when it is at
// least max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d >= max || -d >= max {
		return max
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= max {
			return max
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], max)
}
