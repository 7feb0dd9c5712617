package daemon

import (
	"io"
	"log/slog"
	"testing"

	"github.com/kt-project/kt/bfd"
	"github.com/kt-project/kt/lvs"
)

// TestBFDCheckRouting: a bfd_instance's events reach the real servers
// whose BFD_CHECK names it, with the VRRP half (kt run) and without it
// (-C: keepalived's BFD process runs for the checkers then too); an
// instance for VRRP only (`vrrp`) does not move them. The events are
// handed in as the engine hands them (no sockets).
func TestBFDCheckRouting(t *testing.T) {
	text := `bfd_instance both {
    neighbor_ip 192.0.2.2
}
bfd_instance vonly {
    neighbor_ip 192.0.2.3
    vrrp
}
virtual_server 192.0.2.100 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 192.0.2.10 80 {
        BFD_CHECK {
            name both
        }
    }
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.200
    }
    track_bfd {
        vonly
    }
}
`
	for _, checkOnly := range []bool{false, true} {
		name := "kt run"
		if checkOnly {
			name = "-C"
		}
		t.Run(name, func(t *testing.T) {
			cfg := parseBGPConf(t, text)
			d, err := New(cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), CheckOnly: checkOnly,
				OpenIPVS: func() (lvs.Handle, func() error, error) { return nullIPVS{}, nil, nil }})
			if err != nil {
				t.Fatal(err)
			}
			if d.bfd == nil || d.lvs == nil {
				t.Fatalf("no BFD engine (%v) or checkers (%v)", d.bfd != nil, d.lvs != nil)
			}
			up := func() bool { return d.scheduler().States()[0].Up }
			steps := []struct {
				ev   bfd.Event
				want bool
			}{
				{bfd.Event{Name: "both", Up: false}, false},
				{bfd.Event{Name: "vonly", Up: true}, false},
				{bfd.Event{Name: "both", Up: true}, true},
				{bfd.Event{Name: "vonly", Up: false}, true},
			}
			for i, st := range steps {
				d.bfdEvent(d.bfd, st.ev)
				if got := up(); got != st.want {
					t.Fatalf("step %d (%s up=%v): real server up %v, want %v", i, st.ev.Name, st.ev.Up, got, st.want)
				}
			}
		})
	}
}
