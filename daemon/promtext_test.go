package daemon

import (
	"bufio"
	"bytes"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// clientGolangText is what client_golang writes for reg (tests only: kt
// itself does not link it).
func clientGolangText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestPromTextMatchesClientGolang: kt's counters and histograms, with
// labels declared out of order and values that need escaping, write
// byte for byte what client_golang writes for the same observations.
func TestPromTextMatchesClientGolang(t *testing.T) {
	buckets := []float64{.001, .01, .1, 1, 10}
	kc := newCounterVec("x_events_total", "Events by \\ kind\nand where.", "where", "kind")
	kh := newHistogramVec("x_seconds", "Durations.", buckets, "where")
	kp := newHistogramVec("x_plain_seconds", "A histogram without labels, shown before any observation.", buckets)
	ke := newCounterVec("x_errors_total", "A counter without labels.")
	kv := newCounterVec("x_unused_total", "A vector never counted: not shown.", "a")

	reg := prometheus.NewRegistry()
	pc := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_events_total", Help: "Events by \\ kind\nand where."}, []string{"where", "kind"})
	ph := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "x_seconds", Help: "Durations.", Buckets: buckets}, []string{"where"})
	pp := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x_plain_seconds", Help: "A histogram without labels, shown before any observation.", Buckets: buckets})
	pe := prometheus.NewCounter(prometheus.CounterOpts{Name: "x_errors_total", Help: "A counter without labels."})
	pv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_unused_total", Help: "A vector never counted: not shown."}, []string{"a"})
	reg.MustRegister(pc, ph, pp, pe, pv)

	for _, ev := range []struct {
		where, kind string
		d           float64
	}{
		{"b", "z", 1}, {"a", "z", 2}, {"a", "y", 0.5}, {`q"uo\te` + "\n", "x", 3}, {"", "", 1},
	} {
		kc.add(ev.d, ev.where, ev.kind)
		pc.WithLabelValues(ev.where, ev.kind).Add(ev.d)
	}
	for _, o := range []struct {
		where string
		v     float64
	}{{"b", 0.0005}, {"a", 0.001}, {"a", 0.05}, {"a", 100}, {"b", 1e-9}, {"c", 7}} {
		kh.observe(o.v, o.where)
		ph.WithLabelValues(o.where).Observe(o.v)
	}
	ke.add(1)
	pe.Inc()
	ke.add(1)
	pe.Inc()

	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	p := &promWriter{w: bw}
	for _, w := range []func(*promWriter){ke.write, kc.write, kp.write, kh.write, kv.write} {
		w(p) // in name order, as serveMetrics sorts them
	}
	bw.Flush()
	if want := clientGolangText(t, reg); b.String() != want {
		t.Errorf("kt wrote:\n%s\nclient_golang writes:\n%s", b.String(), want)
	}
}

// TestMetricsFamiliesAsBefore: /metrics parses as the text format and
// has every go_* and process_* family client_golang's Go and process
// collectors export, with the same types and help texts, and kt's own.
func TestMetricsFamiliesAsBefore(t *testing.T) {
	d := &Daemon{}
	m := newMetrics(d)
	m.reconciled(3*time.Millisecond, nil)
	rec := httptest.NewRecorder()
	m.serveMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != string(expfmt.NewFormat(expfmt.TypeTextPlain)) {
		t.Errorf("Content-Type %q", ct)
	}
	body := rec.Body.String()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	got, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not the text format: %v\n%s", err, body)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	want, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		g := got[w.GetName()]
		if g == nil {
			t.Errorf("no %s", w.GetName())
			continue
		}
		if g.GetType() != w.GetType() || g.GetHelp() != w.GetHelp() {
			t.Errorf("%s: %v %q, client_golang %v %q", w.GetName(), g.GetType(), g.GetHelp(), w.GetType(), w.GetHelp())
		}
	}
	for _, name := range []string{"kt_ipvs_reconcile_duration_seconds", "kt_ipvs_reconcile_errors_total"} {
		if got[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if h := got["kt_ipvs_reconcile_duration_seconds"]; h != nil && h.GetType() == dto.MetricType_HISTOGRAM {
		if c := h.Metric[0].GetHistogram().GetSampleCount(); c != 1 {
			t.Errorf("reconcile count %d, want 1", c)
		}
	}
	names := slices.Collect(maps.Keys(got))
	if !slices.IsSorted(familyOrder(body)) {
		t.Errorf("families not sorted by name: %v", names)
	}
}

// familyOrder lists the families of an exposition in the order written.
func familyOrder(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			out = append(out, strings.Fields(rest)[0])
		}
	}
	return out
}

// TestCountersDoNotAllocate: counting into an existing series allocates
// nothing (a check result is counted at every attempt).
func TestCountersDoNotAllocate(t *testing.T) {
	c := newCounterVec("x_total", "x", "virtual_server", "real_server", "result")
	h := newHistogramVec("x_seconds", "x", []float64{.1, 1}, "virtual_server")
	c.add(1, "[198.51.100.1]:tcp:80", "192.0.2.10:80", "ok")
	h.observe(0.5, "[198.51.100.1]:tcp:80")
	if n := testing.AllocsPerRun(100, func() {
		c.add(1, "[198.51.100.1]:tcp:80", "192.0.2.10:80", "ok")
		h.observe(0.5, "[198.51.100.1]:tcp:80")
	}); n != 0 {
		t.Errorf("%v allocations per count", n)
	}
}
