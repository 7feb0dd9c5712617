package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/vrrp"
)

// metrics are kt's Prometheus metrics, in a registry of their own. The
// per-instance and per-server values are read from Status at each scrape;
// the event counters are kept here.
type metrics struct {
	reg         *prometheus.Registry
	transitions *prometheus.CounterVec
	checks      *prometheus.CounterVec
	checkTime   *prometheus.HistogramVec
	reconcile   prometheus.Histogram
	reconErrs   prometheus.Counter
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
	m := &metrics{
		d:    d,
		page: newPageState(),
		reg:  prometheus.NewRegistry(),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kt_vrrp_transitions_total",
			Help: "VRRP state changes by instance, old and new state."}, []string{"instance", "from", "to"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kt_check_results_total",
			Help: "Health check attempts by virtual server, real server and result (ok, fail)."},
			[]string{"virtual_server", "real_server", "result"}),
		checkTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kt_check_duration_seconds",
			Help:    "How long health check attempts took, by virtual server.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"virtual_server"}),
		reconcile: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kt_ipvs_reconcile_duration_seconds",
			Help:    "How long each pass that brings the kernel's IPVS table to the desired state took.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}),
		reconErrs: prometheus.NewCounter(prometheus.CounterOpts{Name: "kt_ipvs_reconcile_errors_total",
			Help: "IPVS reconcile passes that failed to apply every change."}),
	}
	m.reg.MustRegister(m.transitions, m.checks, m.checkTime, m.reconcile, m.reconErrs,
		&statusCollector{d: d}, &bgpCollector{d: d}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) transition(tr vrrp.Transition) {
	m.transitions.WithLabelValues(tr.Instance, tr.From.String(), tr.To.String()).Inc()
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
	m.checks.WithLabelValues(vs, rs, res).Inc()
	m.checkTime.WithLabelValues(vs).Observe(r.Duration.Seconds())
	m.page.checkResult(j, r)
}

func (m *metrics) reconciled(d time.Duration, err error) {
	m.reconcile.Observe(d.Seconds())
	if err != nil {
		m.reconErrs.Inc()
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
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
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

// statusCollector turns a Status snapshot into metrics at each scrape.
type statusCollector struct{ d *Daemon }

var (
	descState    = prometheus.NewDesc("kt_vrrp_state", "VRRP instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 4 STOP.", []string{"instance"}, nil)
	descPrio     = prometheus.NewDesc("kt_vrrp_priority", "VRRP instance's effective priority.", []string{"instance"}, nil)
	descBasePrio = prometheus.NewDesc("kt_vrrp_base_priority", "VRRP instance's configured priority.", []string{"instance"}, nil)
	descRx       = prometheus.NewDesc("kt_vrrp_adverts_received_total", "Adverts received by instance.", []string{"instance"}, nil)
	descTx       = prometheus.NewDesc("kt_vrrp_adverts_sent_total", "Adverts sent by instance.", []string{"instance"}, nil)
	descDrop     = prometheus.NewDesc("kt_vrrp_adverts_dropped_total", "Adverts dropped by instance and reason.", []string{"instance", "reason"}, nil)
	descBecame   = prometheus.NewDesc("kt_vrrp_became_master_total", "Times the instance became master.", []string{"instance"}, nil)
	descReleased = prometheus.NewDesc("kt_vrrp_released_master_total", "Times the instance left master.", []string{"instance"}, nil)
	descZeroRx   = prometheus.NewDesc("kt_vrrp_priority_zero_received_total", "Priority-0 adverts received.", []string{"instance"}, nil)
	descZeroTx   = prometheus.NewDesc("kt_vrrp_priority_zero_sent_total", "Priority-0 adverts sent.", []string{"instance"}, nil)
	descRSUp     = prometheus.NewDesc("kt_real_server_up", "1 when the real server passes its checks.", []string{"virtual_server", "real_server"}, nil)
	descRSWeight = prometheus.NewDesc("kt_real_server_weight", "Real server's effective weight.", []string{"virtual_server", "real_server"}, nil)
	descQuorum   = prometheus.NewDesc("kt_virtual_server_quorum_up", "1 when the virtual server has quorum.", []string{"virtual_server"}, nil)
	descStuck    = prometheus.NewDesc("kt_watchdog_loop_stuck", "1 when the watchdog sees no progress in the engine loop.", []string{"loop"}, nil)
)

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descPrio, descBasePrio, descRx, descTx, descDrop, descBecame,
		descReleased, descZeroRx, descZeroTx, descRSUp, descRSWeight, descQuorum, descStuck} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.Status()
	g, ctr := prometheus.GaugeValue, prometheus.CounterValue
	for _, in := range st.Instances {
		n := in.Name
		ch <- prometheus.MustNewConstMetric(descState, g, float64(stateNumber(in.State)), n)
		ch <- prometheus.MustNewConstMetric(descPrio, g, float64(in.Priority), n)
		ch <- prometheus.MustNewConstMetric(descBasePrio, g, float64(in.BasePriority), n)
		s := in.Stats
		ch <- prometheus.MustNewConstMetric(descRx, ctr, float64(s.AdvertsReceived), n)
		ch <- prometheus.MustNewConstMetric(descTx, ctr, float64(s.AdvertsSent), n)
		ch <- prometheus.MustNewConstMetric(descBecame, ctr, float64(s.BecameMaster), n)
		ch <- prometheus.MustNewConstMetric(descReleased, ctr, float64(s.ReleasedMaster), n)
		ch <- prometheus.MustNewConstMetric(descZeroRx, ctr, float64(s.PriorityZeroRecv), n)
		ch <- prometheus.MustNewConstMetric(descZeroTx, ctr, float64(s.PriorityZeroSent), n)
		for _, r := range vrrp.DropReasons() {
			ch <- prometheus.MustNewConstMetric(descDrop, ctr, float64(s.Dropped[r.String()]), n, r.String())
		}
	}
	for _, vs := range st.VirtualServers {
		if vs.Quorum != "" {
			ch <- prometheus.MustNewConstMetric(descQuorum, g, b2f(vs.Quorum == "up"), vs.Name)
		}
		for _, rs := range vs.RealServers {
			ch <- prometheus.MustNewConstMetric(descRSUp, g, b2f(rs.Up), vs.Name, rs.Address)
			ch <- prometheus.MustNewConstMetric(descRSWeight, g, float64(rs.Weight), vs.Name, rs.Address)
		}
	}
	for _, l := range st.Loops {
		ch <- prometheus.MustNewConstMetric(descStuck, g, b2f(l.Stuck), l.Name)
	}
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
