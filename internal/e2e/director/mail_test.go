package director

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/kt-project/kt/internal/netlab"
	"github.com/kt-project/kt/internal/testnet"
)

// listenIn opens a TCP listener inside h's network namespace: the socket
// stays there while this process serves it from any goroutine.
func listenIn(t *testing.T, h *netlab.Host, addr string) net.Listener {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(h.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	l, lerr := net.Listen("tcp", addr)
	if err := netns.Set(orig); err != nil {
		t.Fatalf("cannot return to the test's namespace: %v", err)
	}
	if lerr != nil {
		t.Fatal(lerr)
	}
	return l
}

// TestFailoverMail: a kt router fails over and the alert mail for it
// reaches a real SMTP server on the LAN.
func TestFailoverMail(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2", "mail"}})
	r1h, r2h, mh := lab.Host("r1"), lab.Host("r2"), lab.Host("mail")
	box := testnet.ServeSMTP(t, listenIn(t, mh, mh.IPv4.String()+":2525"), nil)

	conf := func(id string, prio int) string {
		return fmt.Sprintf(`global_defs {
    router_id %s
    notification_email {
        ops@example.com
    }
    notification_email_from kt-%s@example.com
    smtp_server %s 2525
    smtp_connect_timeout 5
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 80
    priority %d
    version 3
    advert_int 0.1
    smtp_alert
    virtual_ipaddress {
        192.0.2.100
    }
}
`, id, id, mh.IPv4, prio)
	}
	r1 := startRouter(t, lab, "kt", r1h, conf("lb1", 150))
	r2 := startRouter(t, lab, "kt", r2h, conf("lb2", 100))
	waitHolder(t, []*netlab.Host{r1h, r2h}, mustAddr("192.0.2.100"), r1h, 10*time.Second, r1, r2)
	waitMail(t, box, "Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state", r1, r2)
	r1.Kill()
	waitHolder(t, []*netlab.Host{r2h}, mustAddr("192.0.2.100"), r2h, 10*time.Second, r1, r2)
	m := waitMail(t, box, "Subject: [lb2] VRRP Instance VI_1 - Entering MASTER state", r1, r2)
	for _, want := range []string{"From: <kt-lb2@example.com>", "To: <ops@example.com>", "Message-ID: <"} {
		if !strings.Contains(m, want) {
			t.Errorf("failover mail lacks %q:\n%s", want, m)
		}
	}
}

func waitMail(t *testing.T, box *testnet.MailSink, subject string, logs ...*router) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var seen []string
	for {
		select {
		case m := <-box.Mails:
			if strings.Contains(m, subject) {
				return m
			}
			for _, line := range strings.Split(m, "\r\n") {
				if strings.HasPrefix(line, "Subject:") {
					seen = append(seen, line)
				}
			}
		case <-deadline:
			var b strings.Builder
			for _, r := range logs {
				fmt.Fprintf(&b, "\n--- %s:\n%s", r.H.Name, tail(r.Proc.Log(), 15))
			}
			t.Fatalf("no mail %q; got %q%s", subject, seen, b.String())
		}
	}
}

// TestSilentMailServerDelaysNothing: the mail server accepts connections
// and never answers; failover still happens in VRRP's time, and kt stops
// within its bounded mail flush.
func TestSilentMailServerDelaysNothing(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{Hosts: []string{"r1", "r2", "mail"}})
	r1h, r2h, mh := lab.Host("r1"), lab.Host("r2"), lab.Host("mail")
	l := listenIn(t, mh, mh.IPv4.String()+":2525")
	t.Cleanup(func() { l.Close() })
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // accept, never answer
		}
	}()
	conf := func(prio int) string {
		return fmt.Sprintf(`global_defs {
    notification_email {
        ops@example.com
    }
    notification_email_from kt@example.com
    smtp_server %s 2525
    smtp_connect_timeout 30
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 81
    priority %d
    version 3
    advert_int 0.1
    smtp_alert
    virtual_ipaddress {
        192.0.2.100
    }
}
`, mh.IPv4, prio)
	}
	hosts := []*netlab.Host{r1h, r2h}
	r1 := startRouter(t, lab, "kt", r1h, conf(150))
	r2 := startRouter(t, lab, "kt", r2h, conf(100))
	waitHolder(t, hosts, mustAddr("192.0.2.100"), r1h, 10*time.Second, r1, r2)
	// Mail for both routers' transitions is now stuck on the silent
	// server. Stop the master: the backup must take over after Skew_Time
	// (about 40 ms here), not after any mail timeout.
	stopAt := time.Now()
	if err := r1.Proc.Signal(interruptSignal); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, []*netlab.Host{r2h}, mustAddr("192.0.2.100"), r2h, 2*time.Second, r1, r2)
	t.Logf("takeover %v after SIGTERM with the mail server silent", time.Since(stopAt).Round(time.Millisecond))
	if err := r1.Proc.Wait(15 * time.Second); err != nil {
		t.Fatalf("kt did not stop within its mail flush bound: %v\n%s", err, r1.Proc.Log())
	}
	if r1h.HasAddr(mustAddr("192.0.2.100")) {
		t.Error("r1 kept the VIP")
	}
}
