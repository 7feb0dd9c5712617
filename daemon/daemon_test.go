package daemon

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
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
	if d.Instances() != 2 {
		t.Errorf("Instances() = %d", d.Instances())
	}
}
