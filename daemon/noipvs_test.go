package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/lvs"

	"github.com/kt-project/kt/internal/testenv"
)

// TestChecksRunWithoutIPVS: when the IPVS table cannot be opened the VRRP
// half still runs, nothing is kept in IPVS, and the health checkers still
// run and log their transitions (against a real, closed TCP port).
func TestChecksRunWithoutIPVS(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now: the check fails
	text := fmt.Sprintf(`vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    virtual_ipaddress {
        192.0.2.100
    }
}
virtual_server 192.0.2.100 80 {
    delay_loop 1
    protocol TCP
    real_server 127.0.0.1 %d {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
`, port)
	cfg, diags, err := config.ParseKeepalivedBytes("t.conf", []byte(text), config.ParseOptions{})
	if err != nil || diags.HasErrors() {
		t.Fatal(err, diags)
	}
	var logs testenv.LockedBuffer
	d, err := New(cfg, Options{Log: slog.New(slog.NewTextHandler(&logs, nil)),
		OpenIPVS: func() (lvs.Handle, func() error, error) { return nil, nil, errors.New("no IPVS in this kernel") }})
	if err != nil {
		t.Fatal(err)
	}
	if d.VirtualServers() != 0 || d.Instances() != 1 {
		t.Fatalf("virtual servers in IPVS %d, instances %d; want 0 and 1", d.VirtualServers(), d.Instances())
	}
	if !strings.Contains(logs.String(), "no IPVS in this kernel") {
		t.Errorf("the missing IPVS is not logged:\n%s", logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.lvs.sched.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	want := fmt.Sprintf("real server 127.0.0.1:%d DOWN", port)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q logged after 30s:\n%s", want, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
