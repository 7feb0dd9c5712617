package daemon

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/vrrp"
)

// statusHTML is the status page: one file, its CSS and script inline, no
// external assets. It polls /page.json.
//
//go:embed statuspage.html
var statusHTML []byte

// maxPageEvents is how many recent events the status page keeps.
const maxPageEvents = 100

// PageEvent is one line of the status page's event list.
type PageEvent struct {
	Time time.Time `json:"time"`
	// Kind is "vrrp" (a state change) or "check" (a real server's check
	// result changed).
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// CheckResult is a real server's last check attempt.
type CheckResult struct {
	Time     time.Time `json:"time"`
	OK       bool      `json:"ok"`
	Reason   string    `json:"reason,omitempty"`
	Duration float64   `json:"duration_s"`
}

// RealServerIPVS is a real server's counters in the kernel's IPVS table.
type RealServerIPVS struct {
	ActiveConns   int    `json:"active_conns"`
	InactiveConns int    `json:"inactive_conns"`
	Conns         uint64 `json:"conns"`
	CPS           uint64 `json:"cps"`
	InPPS         uint64 `json:"in_pps"`
	OutPPS        uint64 `json:"out_pps"`
	InBPS         uint64 `json:"in_bps"`
	OutBPS        uint64 `json:"out_bps"`
}

// Page is what the status page shows: the Status (as kt status --json
// prints it) plus the recent events, each real server's last check and
// its IPVS counters (keyed "virtual server|real server").
type Page struct {
	Status    Status                    `json:"status"`
	Events    []PageEvent               `json:"events"`
	Checks    map[string]CheckResult    `json:"checks"`
	IPVS      map[string]RealServerIPVS `json:"ipvs"`
	IPVSError string                    `json:"ipvs_error,omitempty"`
}

// pageState collects what the status page shows beyond Status; it is fed
// by the same hooks as the metrics.
type pageState struct {
	mu     sync.Mutex
	events []PageEvent // ring, oldest first once full
	next   int
	checks map[string]CheckResult
}

func newPageState() *pageState { return &pageState{checks: map[string]CheckResult{}} }

func (p *pageState) add(ev PageEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.events) < maxPageEvents {
		p.events = append(p.events, ev)
		return
	}
	p.events[p.next] = ev
	p.next = (p.next + 1) % maxPageEvents
}

// recent returns the events, newest first.
func (p *pageState) recent() []PageEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PageEvent, 0, len(p.events))
	for i := range p.events {
		j := (p.next - 1 - i + 2*len(p.events)) % len(p.events)
		out = append(out, p.events[j])
	}
	return out
}

func (p *pageState) transition(tr vrrp.Transition) {
	text := tr.From.String() + " → " + tr.To.String()
	if tr.Reason != "" {
		text += " (" + tr.Reason + ")"
	}
	at := tr.At
	if at.IsZero() {
		at = time.Now()
	}
	p.add(PageEvent{Time: at, Kind: "vrrp", Subject: tr.Instance, Text: text})
}

func rsKey(vs, rs string) string { return vs + "|" + rs }

func (p *pageState) checkResult(j *check.Job, r check.Result) {
	if j.Server.VirtualServer == nil || j.Server.RealServer == nil {
		return
	}
	k := lvs.KeyOf(j.Server.VirtualServer, j.Server.RealServer)
	key := rsKey(k.VS, k.RS)
	now := time.Now()
	p.mu.Lock()
	prev, seen := p.checks[key]
	p.checks[key] = CheckResult{Time: now, OK: r.OK, Reason: r.Reason, Duration: r.Duration.Seconds()}
	p.mu.Unlock()
	if !seen || prev.OK != r.OK {
		res := "check failed"
		if r.OK {
			res = "check ok"
		}
		if r.Reason != "" {
			res += ": " + r.Reason
		}
		p.add(PageEvent{Time: now, Kind: "check", Subject: k.RS + " of " + k.VS, Text: res})
	}
}

func (p *pageState) lastChecks() map[string]CheckResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]CheckResult, len(p.checks))
	for k, v := range p.checks {
		out[k] = v
	}
	return out
}

// page builds the status page's data.
func (d *Daemon) page() Page {
	pg := Page{Status: d.Status(), Checks: map[string]CheckResult{}, IPVS: map[string]RealServerIPVS{}}
	if d.metrics != nil && d.metrics.page != nil {
		pg.Events = d.metrics.page.recent()
		pg.Checks = d.metrics.page.lastChecks()
	}
	if pg.Events == nil {
		pg.Events = []PageEvent{}
	}
	d.cfgMu.RLock()
	cfg, p := d.cfg, d.lvs
	d.cfgMu.RUnlock()
	if p == nil || p.mgr == nil || p.open == nil || cfg == nil {
		return pg
	}
	h, closeH, err := p.open()
	if err != nil {
		pg.IPVSError = err.Error()
		return pg
	}
	svcs, err := lvs.Dump(h)
	if closeH != nil {
		_ = closeH()
	}
	if err != nil {
		pg.IPVSError = err.Error()
		return pg
	}
	for _, vs := range cfg.VirtualServers {
		if vs == nil {
			continue
		}
		for _, s := range svcs {
			if !sameService(vs, s.Key) {
				continue
			}
			for _, dd := range s.Dests {
				key := rsKey(lvs.VSName(vs), dd.Key.String())
				pg.IPVS[key] = RealServerIPVS{ActiveConns: dd.ActiveConns, InactiveConns: dd.InactiveConns,
					Conns: dd.Stats.Conns, CPS: dd.Stats.CPS, InPPS: dd.Stats.InPPS, OutPPS: dd.Stats.OutPPS,
					InBPS: dd.Stats.InBPS, OutBPS: dd.Stats.OutBPS}
			}
		}
	}
	return pg
}

// sameService says whether the kernel service k is the one of the
// address or fwmark virtual server vs (group members are not matched).
func sameService(vs *config.VirtualServer, k lvs.ServiceKey) bool {
	switch {
	case vs.FWMark != nil:
		return k.FWMark != 0 && int(k.FWMark) == *vs.FWMark
	case vs.Address != nil:
		a, ok := vs.Address.Addr()
		return ok && k.FWMark == 0 && a == k.Addr && int(k.Port) == vs.Address.Port &&
			strings.EqualFold(lvs.ProtoName(k.Protocol), vs.Protocol)
	}
	return false
}

// handlePage serves the status page, its data and the status JSON; only
// GET and HEAD, nothing changes anything.
func (d *Daemon) statusHandlers(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		// Nothing is loaded from elsewhere; the inline script and style
		// are the page's own.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
		_, _ = w.Write(statusHTML)
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, d.Status())
	})
	mux.HandleFunc("GET /page.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, d.page())
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
