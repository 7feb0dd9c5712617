package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/vrrp"
)

// metrics are kt's Prometheus metrics, written in the text format by kt
// itself (promtext.go). The per-instance and per-server values are read
// from Status at each scrape; the event counters are kept here.
type metrics struct {
	transitions *counterVec
	checks      *counterVec
	checkTime   *histogramVec
	reconcile   *histogramVec
	reconErrs   *counterVec
	// addr is where the metrics are served, once they are.
	addr atomic.Value
	// page is the status page's event list and last check results; d
	// serves the page.
	page *pageState
	d    *Daemon
}

// MetricsAddr is the address the metrics are served on ("" before Run
// opened it, or without Options.MetricsListen): with port 0 it tells
// the port chosen.
func (d *Daemon) MetricsAddr() string {
	if d.metrics == nil {
		return ""
	}
	s, _ := d.metrics.addr.Load().(string)
	return s
}

func newMetrics(d *Daemon) *metrics {
	return &metrics{
		d:    d,
		page: newPageState(),
		transitions: newCounterVec("kt_vrrp_transitions_total",
			"VRRP state changes by instance, old and new state.", "instance", "from", "to"),
		checks: newCounterVec("kt_check_results_total",
			"Health check attempts by virtual server, real server and result (ok, fail).",
			"virtual_server", "real_server", "result"),
		checkTime: newHistogramVec("kt_check_duration_seconds", "How long health check attempts took, by virtual server.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}, "virtual_server"),
		reconcile: newHistogramVec("kt_ipvs_reconcile_duration_seconds",
			"How long each pass that brings the kernel's IPVS table to the desired state took.",
			[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}),
		reconErrs: newCounterVec("kt_ipvs_reconcile_errors_total", "IPVS reconcile passes that failed to apply every change."),
	}
}

func (m *metrics) transition(tr vrrp.Transition) {
	m.transitions.add(1, tr.Instance, tr.From.String(), tr.To.String())
	m.page.transition(tr)
}

func (m *metrics) checkResult(j *check.Job, r check.Result) {
	vs, rs := "", j.Server.Name
	if j.Server.VirtualServer != nil {
		vs = lvs.VSName(j.Server.VirtualServer)
	}
	res := "fail"
	if r.OK {
		res = "ok"
	}
	m.checks.add(1, vs, rs, res)
	m.checkTime.observe(r.Duration.Seconds(), vs)
	m.page.checkResult(j, r)
}

func (m *metrics) reconciled(d time.Duration, err error) {
	m.reconcile.observe(d.Seconds())
	if err != nil {
		m.reconErrs.add(1)
	}
}

// serve serves /metrics and the read-only status page (/, /status.json,
// /page.json) on addr until ctx ends. The listener is
// opened before it returns, so a bad address fails the start.
func (m *metrics) serve(ctx context.Context, addr string, log interface{ Error(string, ...any) }) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	m.addr.Store(l.Addr().String())
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", m.serveMetrics)
	m.d.statusHandlers(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics: serve", "err", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}

// serveMetrics writes every family in the text format, sorted by name.
func (m *metrics) serveMetrics(w http.ResponseWriter, r *http.Request) {
	fams := append(goFamilies(), processFamilies()...)
	fams = append(fams, m.statusFamilies()...)
	fams = append(fams, m.bgpFamilies()...)
	fams = append(fams, m.syncFamilies()...)
	for _, c := range []*counterVec{m.transitions, m.checks, m.reconErrs} {
		fams = append(fams, promFamily{c.name, c.write})
	}
	for _, h := range []*histogramVec{m.checkTime, m.reconcile} {
		fams = append(fams, promFamily{h.name, h.write})
	}
	slices.SortFunc(fams, func(a, b promFamily) int { return strings.Compare(a.name, b.name) })
	w.Header().Set("Content-Type", promContentType)
	bw := bufio.NewWriterSize(w, 32<<10)
	p := &promWriter{w: bw}
	for _, f := range fams {
		f.fn(p)
	}
	_ = bw.Flush()
}

// statusSeries is one series of a family read from a Status snapshot.
type statusSeries struct {
	values []string
	v      float64
}

// statusFamily is a gauge or counter family of Status values, series in
// the order of their label values. names must be sorted.
func statusFamily(name, help, typ string, names []string, series []statusSeries) promFamily {
	slices.SortStableFunc(series, func(a, b statusSeries) int { return slices.Compare(a.values, b.values) })
	return promFamily{name, func(p *promWriter) {
		if len(series) == 0 {
			return
		}
		p.family(name, help, typ)
		for _, s := range series {
			p.sample(name, names, s.values, "", "", s.v)
		}
	}}
}

// statusFamilies turns a Status snapshot into metrics at each scrape.
func (m *metrics) statusFamilies() []promFamily {
	st := m.d.Status()
	var state, prio, base, rx, tx, drop, became, released, zeroRx, zeroTx, rsUp, rsWeight, quorum, stuck []statusSeries
	one := func(s string) []string { return []string{s} }
	for _, in := range st.Instances {
		n := in.Name
		state = append(state, statusSeries{one(n), float64(stateNumber(in.State))})
		prio = append(prio, statusSeries{one(n), float64(in.Priority)})
		base = append(base, statusSeries{one(n), float64(in.BasePriority)})
		s := in.Stats
		rx = append(rx, statusSeries{one(n), float64(s.AdvertsReceived)})
		tx = append(tx, statusSeries{one(n), float64(s.AdvertsSent)})
		became = append(became, statusSeries{one(n), float64(s.BecameMaster)})
		released = append(released, statusSeries{one(n), float64(s.ReleasedMaster)})
		zeroRx = append(zeroRx, statusSeries{one(n), float64(s.PriorityZeroRecv)})
		zeroTx = append(zeroTx, statusSeries{one(n), float64(s.PriorityZeroSent)})
		for _, r := range vrrp.DropReasons() {
			drop = append(drop, statusSeries{[]string{n, r.String()}, float64(s.Dropped[r.String()])})
		}
	}
	for _, vs := range st.VirtualServers {
		if vs.Quorum != "" {
			quorum = append(quorum, statusSeries{one(vs.Name), b2f(vs.Quorum == "up")})
		}
		for _, rs := range vs.RealServers {
			// Labels sorted by name: real_server, virtual_server.
			rsUp = append(rsUp, statusSeries{[]string{rs.Address, vs.Name}, b2f(rs.Up)})
			rsWeight = append(rsWeight, statusSeries{[]string{rs.Address, vs.Name}, float64(rs.Weight)})
		}
	}
	for _, l := range st.Loops {
		stuck = append(stuck, statusSeries{one(l.Name), b2f(l.Stuck)})
	}
	inst, rsvs := []string{"instance"}, []string{"real_server", "virtual_server"}
	const g, c = "gauge", "counter"
	return []promFamily{
		statusFamily("kt_vrrp_state", "VRRP instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 4 STOP.", g, inst, state),
		statusFamily("kt_vrrp_priority", "VRRP instance's effective priority.", g, inst, prio),
		statusFamily("kt_vrrp_base_priority", "VRRP instance's configured priority.", g, inst, base),
		statusFamily("kt_vrrp_adverts_received_total", "Adverts received by instance.", c, inst, rx),
		statusFamily("kt_vrrp_adverts_sent_total", "Adverts sent by instance.", c, inst, tx),
		statusFamily("kt_vrrp_adverts_dropped_total", "Adverts dropped by instance and reason.", c, []string{"instance", "reason"}, drop),
		statusFamily("kt_vrrp_became_master_total", "Times the instance became master.", c, inst, became),
		statusFamily("kt_vrrp_released_master_total", "Times the instance left master.", c, inst, released),
		statusFamily("kt_vrrp_priority_zero_received_total", "Priority-0 adverts received.", c, inst, zeroRx),
		statusFamily("kt_vrrp_priority_zero_sent_total", "Priority-0 adverts sent.", c, inst, zeroTx),
		statusFamily("kt_real_server_up", "1 when the real server passes its checks.", g, rsvs, rsUp),
		statusFamily("kt_real_server_weight", "Real server's effective weight.", g, rsvs, rsWeight),
		statusFamily("kt_virtual_server_quorum_up", "1 when the virtual server has quorum.", g, []string{"virtual_server"}, quorum),
		statusFamily("kt_watchdog_loop_stuck", "1 when the watchdog sees no progress in the engine loop.", g, []string{"loop"}, stuck),
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// stateNumber is the state's number in kt_vrrp_state.
func stateNumber(s string) int {
	for _, st := range []vrrp.State{vrrp.StateInit, vrrp.StateBackup, vrrp.StateMaster, vrrp.StateFault, vrrp.StateStop} {
		if st.String() == s {
			return int(st)
		}
	}
	return -1
}
