package daemon

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/moby/ipvs"

	"github.com/kt-project/kt/check"
	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"
	"github.com/kt-project/kt/smtp"
	"github.com/kt-project/kt/vrrp"
)

func TestMailTransitions(t *testing.T) {
	text := `global_defs {
    router_id lb1
    notification_email {
        ops@example.com
    }
    smtp_server 127.0.0.1 2525
    no_email_faults
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    smtp_alert
    virtual_ipaddress {
        192.0.2.100
    }
}
vrrp_instance VI_2 {
    interface lo
    virtual_router_id 2
    virtual_ipaddress {
        192.0.2.101
    }
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
    smtp_alert
}
`
	cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	d, err := New(cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	steps := []struct {
		inst    string
		to      vrrp.State
		wantLen int
	}{
		{"VI_1", vrrp.StateBackup, 1},
		{"VI_1", vrrp.StateMaster, 2},
		{"VI_1", vrrp.StateMaster, 2}, // the same state twice: one mail
		{"VI_1", vrrp.StateFault, 2},  // no_email_faults
		{"VI_2", vrrp.StateMaster, 2}, // no smtp_alert on VI_2
		{"VI_1", vrrp.StateStop, 3},
		{"VI_1", vrrp.StateInit, 3},
	}
	for i, s := range steps {
		d.mailTransition(vrrp.Transition{Instance: s.inst, To: s.to, Priority: 100, At: now})
		if got := d.mail.Len(); got != s.wantLen {
			t.Fatalf("step %d (%s -> %v): %d mails queued, want %d", i, s.inst, s.to, got, s.wantLen)
		}
	}
	// A reload removes the instance: FAULT without notify_deleted (none
	// when it was in FAULT), Deleted with it.
	for i, s := range []struct {
		tr   vrrp.Transition
		want smtp.State
		ok   bool
	}{
		{vrrp.Transition{From: vrrp.StateMaster, To: vrrp.StateStop, Deleted: true}, smtp.StateFault, true},
		{vrrp.Transition{From: vrrp.StateFault, To: vrrp.StateStop, Deleted: true}, 0, false},
		{vrrp.Transition{From: vrrp.StateFault, To: vrrp.StateStop, Deleted: true, NotifyDeleted: true}, smtp.StateDeleted, true},
		{vrrp.Transition{From: vrrp.StateMaster, To: vrrp.StateStop}, smtp.StateStop, true},
	} {
		if got, ok := mailState(s.tr); got != s.want || ok != s.ok {
			t.Errorf("deleted %d: mailed as %v (%v), want %v (%v)", i, got, ok, s.want, s.ok)
		}
	}
	// The sync group mails its own changes, once per state.
	for i, to := range []vrrp.State{vrrp.StateMaster, vrrp.StateMaster, vrrp.StateBackup} {
		d.mailGroupTransition(vrrp.GroupTransition{Group: "G1", To: to, Members: []string{"VI_1", "VI_2"}, At: now})
		if got, want := d.mail.Len(), []int{4, 4, 5}[i]; got != want {
			t.Fatalf("group step %d (%v): %d mails queued, want %d", i, to, got, want)
		}
	}
	if d.Instances() != 2 {
		t.Errorf("Instances() = %d", d.Instances())
	}
}

// nullIPVS is an IPVS table that is always empty and takes every change:
// enough to build the daemon's LVS half without a kernel.
type nullIPVS struct{}

func (nullIPVS) GetServices() ([]*ipvs.Service, error)                      { return nil, nil }
func (nullIPVS) GetDestinations(*ipvs.Service) ([]*ipvs.Destination, error) { return nil, nil }
func (nullIPVS) NewService(*ipvs.Service) error                             { return nil }
func (nullIPVS) UpdateService(*ipvs.Service) error                          { return nil }
func (nullIPVS) DelService(*ipvs.Service) error                             { return nil }
func (nullIPVS) NewDestination(*ipvs.Service, *ipvs.Destination) error      { return nil }
func (nullIPVS) UpdateDestination(*ipvs.Service, *ipvs.Destination) error   { return nil }
func (nullIPVS) DelDestination(*ipvs.Service, *ipvs.Destination) error      { return nil }

// TestCheckerMail: a real server going down or up is mailed once per
// change of its state, not for a weight change.
func TestCheckerMail(t *testing.T) {
	text := `global_defs {
    router_id lb1
    notification_email {
        ops@example.com
    }
    smtp_server 127.0.0.1 2525
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 192.0.2.10 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`
	cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	d, err := New(cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenIPVS: func() (lvs.Handle, func() error, error) { return nullIPVS{}, nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if d.VirtualServers() != 1 || d.Instances() != 0 {
		t.Fatalf("virtual servers %d, instances %d", d.VirtualServers(), d.Instances())
	}
	st := d.lvs.sched.States()
	if len(st) != 1 {
		t.Fatalf("%d servers scheduled", len(st))
	}
	srv := st[0].Server
	for i, tr := range []check.Transition{
		{Server: srv, Up: false, WasUp: true, Reason: "connection refused", Check: "TCP_CHECK 192.0.2.10:80"},
		{Server: srv, Up: true, WasUp: false, Weight: 1, Reason: "connected", Check: "TCP_CHECK 192.0.2.10:80"},
		{Server: srv, Up: true, WasUp: true, Weight: 3, Reason: "weight", Check: "MISC_CHECK"},
	} {
		d.checkerTransition(tr)
		want := []int{1, 2, 2}[i]
		if got := d.mail.Len(); got != want {
			t.Fatalf("after transition %d: %d mails queued, want %d", i, got, want)
		}
	}
}
