package smtp

import (
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kt-project/kt/config"
)

func TestSubjects(t *testing.T) {
	at := eventTime
	tests := []struct {
		name string
		m    Message
		want string
		head string // the body's first line
	}{
		{"master", InstanceMessage("lb1", "VI_1", StateMaster, 150, at),
			"[lb1] VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="},
		{"backup", InstanceMessage("lb1", "VI_1", StateBackup, 100, at),
			"[lb1] VRRP Instance VI_1 - Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		{"fault", InstanceMessage("lb1", "VI_1", StateFault, 0, at),
			"[lb1] VRRP Instance VI_1 - Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		{"stop", InstanceMessage("lb1", "VI_1", StateStop, 0, at),
			"[lb1] VRRP Instance VI_1 - Stopping", "=> VRRP Instance stopping <="},
		{"deleted", InstanceMessage("lb1", "VI_1", StateDeleted, 100, at),
			"[lb1] VRRP Instance VI_1 - Deleted", "=> VRRP Deleted at reload <="},
		{"no router id", InstanceMessage("", "VI_1", StateMaster, 100, at),
			"VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="},
		{"group master", GroupMessage("lb1", "VG_1", StateMaster, []string{"VI_1"}, at),
			"[lb1] VRRP Group VG_1 - Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="},
		{"group backup", GroupMessage("lb1", "VG_1", StateBackup, nil, at),
			"[lb1] VRRP Group VG_1 - Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="},
		{"group fault", GroupMessage("lb1", "VG_1", StateFault, nil, at),
			"[lb1] VRRP Group VG_1 - Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="},
		{"group stop", GroupMessage("lb1", "VG_1", StateStop, nil, at),
			"[lb1] VRRP Group VG_1 - Stopping", "=> All VRRP group instances are now stopping <="},
		{"checker up", CheckerMessage("lb1", "[192.0.2.10]:tcp:80", "[192.0.2.1]:tcp:80", true, CheckerDetail(config.CheckHTTP, true), at),
			"[lb1] Realserver [192.0.2.10]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - UP", "=> CHECK succeed on service <="},
		{"checker down", CheckerMessage("lb1", "[192.0.2.10]:tcp:80", "[192.0.2.1]:tcp:80", false, CheckerDetail(config.CheckHTTP, false), at),
			"[lb1] Realserver [192.0.2.10]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN", "=> CHECK failed on service : HTTP request failed <="},
		{"removed", RealServerRemovedMessage("lb1", "[192.0.2.10]:tcp:80", "FWM 7", false, at),
			"[lb1] Realserver [192.0.2.10]:tcp:80 of virtual server FWM 7 - DOWN", "=> Removing <="},
		{"shut down", RealServerRemovedMessage("lb1", "[192.0.2.10]:tcp:80", "FWM 7", true, at),
			"[lb1] Realserver [192.0.2.10]:tcp:80 of virtual server FWM 7 - DOWN", "=> Shutting down <="},
		{"quorum gained", QuorumMessage("lb1", "[192.0.2.1]:tcp:80", Quorum{Up: true, Quorum: 2, Hysteresis: 1, Threshold: 3, WeightSum: 3}, at),
			"[lb1] Virtualserver [192.0.2.1]:tcp:80 - UP", "=> Gained quorum 2+1=3 <= 3 <="},
		{"quorum lost", QuorumMessage("lb1", "[192.0.2.1]:tcp:80", Quorum{Quorum: 2, Hysteresis: 1, Threshold: 1, WeightSum: 0}, at),
			"[lb1] Virtualserver [192.0.2.1]:tcp:80 - DOWN", "=> Lost quorum 2+1=1 <= 0 <="},
		{"starting up", QuorumMessage("lb1", "[192.0.2.1]:tcp:80", Quorum{Up: true, Starting: true, Quorum: 1, Threshold: 1, WeightSum: 2}, at),
			"[lb1] Virtualserver [192.0.2.1]:tcp:80 - UP", "=> Starting with quorum up 1+0=1 <= 2 <="},
		{"starting down", QuorumMessage("lb1", "[192.0.2.1]:tcp:80", Quorum{Starting: true, Quorum: 1, Threshold: 1}, at),
			"[lb1] Virtualserver [192.0.2.1]:tcp:80 - DOWN", "=> Starting with quorum down 1+0=1 <= 0 <="},
		{"vs stopping", QuorumMessage("lb1", "[192.0.2.1]:tcp:80", Quorum{Up: true, Stopping: true}, at),
			"[lb1] Virtualserver [192.0.2.1]:tcp:80 - DOWN", "=> Shutting down <="},
		{"test", TestMessage("lb1", "192.0.2.25:25", at),
			"[lb1] Test mail from kt", "=> This is a test of kt's alert mail set-up <="},
		{"injection", InstanceMessage("lb1\r\nBcc: evil@example.org", "VI_1\nX: y", StateMaster, 1, at),
			"[lb1  Bcc: evil@example.org] VRRP Instance VI_1 X: y - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.m.Subject != tt.want {
				t.Errorf("subject %q, want %q", tt.m.Subject, tt.want)
			}
			if first, _, _ := strings.Cut(tt.m.Body, "\n"); first != tt.head {
				t.Errorf("body starts %q, want %q", first, tt.head)
			}
			if !tt.m.Time.Equal(eventTime) {
				t.Errorf("time %v", tt.m.Time)
			}
			if !strings.Contains(tt.m.Body, "2026-11-26 02:30:05 +0000") {
				t.Errorf("body lacks the time:\n%s", tt.m.Body)
			}
		})
	}
}

func TestCheckerDetail(t *testing.T) {
	tests := []struct {
		kind     config.CheckKind
		up, down string
	}{
		{config.CheckTCP, "=> TCP CHECK succeed on service <=", "=> TCP CHECK failed on service <="},
		{config.CheckSMTP, "=> CHECK succeed on service <=", "=> CHECK failed on service <="},
		{config.CheckDNS, "=> DNS_CHECK: succeed on service <=", "=> DNS_CHECK: failed on service <="},
		{config.CheckMisc, "=> MISC CHECK succeeded on service <=", "=> MISC CHECK failed on service <="},
		{config.CheckUDP, "=> UDP CHECK succeed on service <=", "=> UDP CHECK failed on service <="},
		{config.CheckPing, "=> ICMP CHECK succeed on service <=", "=> ICMP CHECK failed on service <="},
	}
	for _, tt := range tests {
		if got := CheckerDetail(tt.kind, true); got != tt.up {
			t.Errorf("kind %d up: %q", tt.kind, got)
		}
		if got := CheckerDetail(tt.kind, false); got != tt.down {
			t.Errorf("kind %d down: %q", tt.kind, got)
		}
	}
}

func TestDescribeRealServer(t *testing.T) {
	vs := &config.VirtualServer{Address: &config.Endpoint{Host: "192.0.2.1", Port: 53}, Protocol: "UDP"}
	rs := &config.RealServer{Address: config.Endpoint{Host: "2001:db8::10", Port: 53}}
	if got := DescribeRealServer(vs, rs); got != "[2001:db8::10]:udp:53" {
		t.Errorf("got %q", got)
	}
}

func TestWant(t *testing.T) {
	yes, no := new(bool), new(bool)
	*yes = true
	g := func(alert, vrrp, checker *bool) *config.GlobalDefs {
		return &config.GlobalDefs{SMTPAlert: alert, SMTPAlertVRRP: vrrp, SMTPAlertChecker: checker}
	}
	tests := []struct {
		name                  string
		global                *config.GlobalDefs
		own                   *bool
		wantVRRP, wantVS, wRS bool
	}{
		{"nothing set", nil, nil, false, false, true},
		{"empty global_defs", g(nil, nil, nil), nil, false, false, true},
		{"smtp_alert on", g(yes, nil, nil), nil, true, true, true},
		{"smtp_alert off", g(no, nil, nil), nil, false, false, false},
		{"vrrp on over smtp_alert off", g(no, yes, nil), nil, true, false, false},
		{"checker off over smtp_alert on", g(yes, nil, no), nil, true, false, false},
		{"checker on, vrrp off", g(nil, no, yes), nil, false, true, true},
		{"own on beats all off", g(no, no, no), yes, true, true, true},
		{"own off beats all on", g(yes, yes, yes), no, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WantVRRP(tt.global, tt.own); got != tt.wantVRRP {
				t.Errorf("WantVRRP = %v", got)
			}
			if got := WantVirtualServer(tt.global, tt.own); got != tt.wantVS {
				t.Errorf("WantVirtualServer = %v", got)
			}
			if got := WantRealServer(tt.global, tt.own); got != tt.wRS {
				t.Errorf("WantRealServer = %v", got)
			}
		})
	}

	noFaults := &config.GlobalDefs{SMTPAlert: yes, NoEmailFaults: true}
	if WantVRRPState(noFaults, nil, StateFault) || !WantVRRPState(noFaults, nil, StateMaster) {
		t.Error("no_email_faults: FAULT must not be mailed, MASTER must")
	}
	if !WantVRRPState(g(yes, nil, nil), nil, StateFault) {
		t.Error("FAULT not mailed without no_email_faults")
	}
	noChecker := &config.GlobalDefs{NoCheckerEmails: yes}
	if WantChecker(noChecker, nil, false) || !WantChecker(noChecker, nil, true) {
		t.Error("no_checker_emails: only a change of the real server's state is mailed")
	}
	if !WantChecker(nil, nil, false) || WantChecker(nil, no, true) {
		t.Error("WantChecker without global_defs")
	}
}

// The rendered mail: CRLF throughout, headers that cannot be split by a
// name from the configuration, non-ASCII subjects encoded.
func TestRender(t *testing.T) {
	a, _ := newAlerter(t, Options{Server: "127.0.0.1:25", Clock: &fakeClock{now: eventTime}})
	m := InstanceMessage("lb1\r\nBcc: evil@example.org", "VI_ü", StateMaster, 100, time.Time{})
	raw := string(a.render(m))
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Error("a router_id with CRLF made a Bcc header")
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subj != "[lb1  Bcc: evil@example.org] VRRP Instance VI_ü - Entering MASTER state" {
		t.Errorf("subject %q (%v), raw %q", subj, err, msg.Header.Get("Subject"))
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(eventTime) {
		t.Errorf("zero Time: Date %v, want the clock's %v", d, eventTime)
	}
	if strings.Contains(strings.ReplaceAll(raw, "\r\n", ""), "\n") || !strings.HasSuffix(raw, "\r\n") {
		t.Errorf("line ends: %q", raw)
	}
}

func TestOptionsFromConfig(t *testing.T) {
	tests := []struct {
		name, file, text string
		want             Options
		wantErr          string
	}{
		{
			name: "full", file: "keepalived.conf",
			text: `global_defs {
	router_id lb1
	notification_email {
		ops@example.org
		oncall@example.org
	}
	notification_email_from kt@lb1.example.org
	smtp_server 192.0.2.25 2525
	smtp_helo_name lb1.example.org
	smtp_connect_timeout 7
}
`,
			want: Options{Server: "192.0.2.25:2525", HeloName: "lb1.example.org", From: "kt@lb1.example.org",
				To: []string{"ops@example.org", "oncall@example.org"}, ConnectTimeout: 7 * time.Second, RouterID: "lb1"},
		},
		{
			name: "defaults", file: "keepalived.conf",
			text: "global_defs {\n notification_email {\n ops@example.org\n }\n smtp_server 2001:db8::25\n}\n",
			want: Options{Server: "[2001:db8::25]:25", HeloName: "host1", From: "root@host1",
				To: []string{"ops@example.org"}, ConnectTimeout: 30 * time.Second, RouterID: "host1"},
		},
		{
			name: "no smtp_server: off", file: "keepalived.conf",
			text: "global_defs {\n router_id r\n notification_email {\n ops@example.org\n }\n}\n",
			want: Options{HeloName: "host1", From: "root@host1", To: []string{"ops@example.org"},
				ConnectTimeout: 30 * time.Second, RouterID: "r"},
		},
		{
			name: "kt's own keys", file: "kt.toml",
			text: `[global_defs]
smtp_server = "192.0.2.25"
notification_email = ["ops@example.org"]
smtp_user = "kt"
smtp_password = "pw"
smtp_no_starttls = true
`,
			want: Options{Server: "192.0.2.25:25", HeloName: "host1", From: "root@host1", To: []string{"ops@example.org"},
				User: "kt", Password: "pw", NoStartTLS: true, ConnectTimeout: 30 * time.Second, RouterID: "host1"},
		},
		{
			name: "bad recipient", file: "keepalived.conf",
			text:    "global_defs {\n notification_email {\n <broken\n }\n smtp_server 192.0.2.25\n}\n",
			wantErr: "notification_email",
		},
		{
			name: "bad sender", file: "keepalived.conf",
			text:    "global_defs {\n notification_email_from <broken\n smtp_server 192.0.2.25\n}\n",
			wantErr: "notification_email_from",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, _, err := config.Load(path, config.FormatAuto, config.ParseOptions{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got, err := optionsFromConfig(cfg, "host1", "root")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Server != tt.want.Server || got.HeloName != tt.want.HeloName || got.From != tt.want.From ||
				strings.Join(got.To, ",") != strings.Join(tt.want.To, ",") || got.ConnectTimeout != tt.want.ConnectTimeout ||
				got.RouterID != tt.want.RouterID || got.User != tt.want.User || got.Password != tt.want.Password ||
				got.NoStartTLS != tt.want.NoStartTLS {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if _, err := New(got); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}

// TestOptionsFromConfigOddHostname: a host name that makes no mail address
// ("(none)" in a VM) is no error while mail is off, and a clear one when on.
func TestOptionsFromConfigOddHostname(t *testing.T) {
	off, _, err := config.ParseKeepalivedBytes("t.conf", []byte("global_defs {\n    router_id x\n}\n"), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := optionsFromConfig(off, "(none)", "root"); err != nil {
		t.Fatalf("mail off: %v", err)
	}
	on, _, err := config.ParseKeepalivedBytes("t.conf", []byte("global_defs {\n    smtp_server 192.0.2.1\n    notification_email {\n        a@example.com\n    }\n}\n"), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := optionsFromConfig(on, "(none)", "root"); err == nil || !strings.Contains(err.Error(), "notification_email_from") {
		t.Fatalf("mail on: %v, want an error naming notification_email_from", err)
	}
}
