package daemon

import (
	"bufio"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The Prometheus text exposition format (version 0.0.4), written by kt
// itself. client_golang did this before; its package initialisation (and
// protobuf's, which it imports) cost every kt process about 2 MiB of
// memory and 3.6 MB of binary, metrics on or off. The output is what
// client_golang wrote: families sorted by name, each with HELP and TYPE,
// series sorted by their label values, labels sorted by name, values in
// Go's shortest 'g' form, histograms as cumulative _bucket{le=...} series
// then _sum and _count.

// promContentType is the Content-Type of the text format.
const promContentType = "text/plain; version=0.0.4; charset=utf-8"

// promWriter writes one exposition.
type promWriter struct {
	w   *bufio.Writer
	buf []byte
}

// family starts a metric family.
func (p *promWriter) family(name, help, typ string) {
	p.buf = append(p.buf[:0], "# HELP "...)
	p.buf = append(p.buf, name...)
	p.buf = append(p.buf, ' ')
	p.buf = appendEscaped(p.buf, help, false)
	p.buf = append(p.buf, "\n# TYPE "...)
	p.buf = append(p.buf, name...)
	p.buf = append(p.buf, ' ')
	p.buf = append(p.buf, typ...)
	p.buf = append(p.buf, '\n')
	p.w.Write(p.buf)
}

// sample writes one series: name{names[i]="values[i]",...} v. names must
// be sorted; extraName/extraValue, when set, come last (histograms' le,
// summaries' quantile).
func (p *promWriter) sample(name string, names, values []string, extraName, extraValue string, v float64) {
	p.buf = append(p.buf[:0], name...)
	if len(names) > 0 || extraName != "" {
		p.buf = append(p.buf, '{')
		for i, n := range names {
			if i > 0 {
				p.buf = append(p.buf, ',')
			}
			p.buf = appendLabel(p.buf, n, values[i])
		}
		if extraName != "" {
			if len(names) > 0 {
				p.buf = append(p.buf, ',')
			}
			p.buf = appendLabel(p.buf, extraName, extraValue)
		}
		p.buf = append(p.buf, '}')
	}
	p.buf = append(p.buf, ' ')
	p.buf = appendFloat(p.buf, v)
	p.buf = append(p.buf, '\n')
	p.w.Write(p.buf)
}

func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	b = appendEscaped(b, value, true)
	return append(b, '"')
}

// appendEscaped escapes \ and newlines (and " in label values).
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '"' && quote:
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendKey appends the label values, in the sorted order perm gives,
// joined into a map key. Looking a series up by string(key) does not
// allocate; only a new series does.
func appendKey(b []byte, perm []int, values []string) []byte {
	for i, j := range perm {
		if i > 0 {
			b = append(b, 0xff)
		}
		b = append(b, values[j]...)
	}
	return b
}

// sortedValues returns values in the sorted order perm gives.
func sortedValues(perm []int, values []string) []string {
	sv := make([]string, len(values))
	for i, j := range perm {
		sv[i] = values[j]
	}
	return sv
}

// sortedLabels returns names sorted and a function that orders values
// (given in the order of names) the same way.
func sortedLabels(names []string) (sorted []string, perm []int) {
	perm = make([]int, len(names))
	for i := range perm {
		perm[i] = i
	}
	slices.SortStableFunc(perm, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	sorted = make([]string, len(names))
	for i, j := range perm {
		sorted[i] = names[j]
	}
	return sorted, perm
}

// counterVec is a counter with labels. Series appear once counted.
type counterVec struct {
	name, help string
	names      []string // sorted
	perm       []int    // sorted position i takes value perm[i]
	mu         sync.Mutex
	series     map[string]*counterSeries
}

type counterSeries struct {
	values []string // in sorted label order
	v      float64
}

func newCounterVec(name, help string, labels ...string) *counterVec {
	names, perm := sortedLabels(labels)
	return &counterVec{name: name, help: help, names: names, perm: perm, series: map[string]*counterSeries{}}
}

// add adds d to the series of these label values (in declaration order).
func (c *counterVec) add(d float64, values ...string) {
	var kb [128]byte
	k := appendKey(kb[:0], c.perm, values)
	c.mu.Lock()
	s := c.series[string(k)]
	if s == nil {
		s = &counterSeries{values: sortedValues(c.perm, values)}
		c.series[string(k)] = s
	}
	s.v += d
	c.mu.Unlock()
}

func (c *counterVec) write(p *promWriter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.series) == 0 && len(c.names) > 0 {
		return
	}
	p.family(c.name, c.help, "counter")
	if len(c.names) == 0 {
		var v float64
		if s := c.series[""]; s != nil {
			v = s.v
		}
		p.sample(c.name, nil, nil, "", "", v)
		return
	}
	for _, s := range sortSeries(c.series) {
		p.sample(c.name, c.names, s.values, "", "", s.v)
	}
}

// sortSeries orders series by their label values.
func sortSeries[S interface{ labelValues() []string }](m map[string]S) []S {
	out := make([]S, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b S) int { return slices.Compare(a.labelValues(), b.labelValues()) })
	return out
}

func (s *counterSeries) labelValues() []string { return s.values }

// histogramVec is a histogram with labels (none for a plain histogram,
// which is shown from the start).
type histogramVec struct {
	name, help string
	names      []string
	perm       []int
	buckets    []float64
	mu         sync.Mutex
	series     map[string]*histSeries
}

type histSeries struct {
	values []string
	counts []uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
}

func (s *histSeries) labelValues() []string { return s.values }

func newHistogramVec(name, help string, buckets []float64, labels ...string) *histogramVec {
	names, perm := sortedLabels(labels)
	return &histogramVec{name: name, help: help, names: names, perm: perm, buckets: buckets, series: map[string]*histSeries{}}
}

func (h *histogramVec) observe(v float64, values ...string) {
	var kb [128]byte
	k := appendKey(kb[:0], h.perm, values)
	h.mu.Lock()
	s := h.series[string(k)]
	if s == nil {
		s = &histSeries{values: sortedValues(h.perm, values), counts: make([]uint64, len(h.buckets))}
		h.series[string(k)] = s
	}
	if i, _ := slices.BinarySearch(h.buckets, v); i < len(h.buckets) {
		s.counts[i]++
	}
	s.count++
	s.sum += v
	h.mu.Unlock()
}

func (h *histogramVec) write(p *promWriter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.series) == 0 && len(h.names) > 0 {
		return
	}
	p.family(h.name, h.help, "histogram")
	series := sortSeries(h.series)
	if len(h.names) == 0 && len(series) == 0 {
		series = []*histSeries{{counts: make([]uint64, len(h.buckets))}}
	}
	var le []byte
	for _, s := range series {
		var cum uint64
		for i, b := range h.buckets {
			cum += s.counts[i]
			le = appendFloat(le[:0], b)
			p.sample(h.name+"_bucket", h.names, s.values, "le", string(le), float64(cum))
		}
		p.sample(h.name+"_bucket", h.names, s.values, "le", "+Inf", float64(s.count))
		p.sample(h.name+"_sum", h.names, s.values, "", "", s.sum)
		p.sample(h.name+"_count", h.names, s.values, "", "", float64(s.count))
	}
}
