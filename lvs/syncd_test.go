package lvs

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// attrHex builds netlink attributes from (type, value) pairs, the way the
// kernel lays them out, for the tables below.
func attrHex(t *testing.T, pairs ...any) []byte {
	t.Helper()
	var b []byte
	for i := 0; i < len(pairs); i += 2 {
		typ := pairs[i].(int)
		switch v := pairs[i+1].(type) {
		case []byte:
			b = appendAttr(b, uint16(typ), v)
		case string:
			raw, err := hex.DecodeString(v)
			if err != nil {
				t.Fatalf("bad hex %q", v)
			}
			b = appendAttr(b, uint16(typ), raw)
		}
	}
	return b
}

func TestSyncDaemonStartEncoding(t *testing.T) {
	tests := []struct {
		name string
		d    SyncDaemon
		// want is the nested daemon attribute's body.
		want    func(t *testing.T) []byte
		wantErr string
	}{
		{
			name: "defaults left to the kernel",
			d:    SyncDaemon{State: SyncMaster, Interface: "eth0"},
			want: func(t *testing.T) []byte {
				return attrHex(t, ipvsDaemonAttrState, u32(1), ipvsDaemonAttrMcastIfn, []byte("eth0\x00"),
					ipvsDaemonAttrSyncID, u32(0))
			},
		},
		{
			name: "every field, IPv4 group",
			d: SyncDaemon{State: SyncBackup, Interface: "bond0.100", SyncID: 7, MaxLen: 1400, Port: 9000, TTL: 3,
				Group: netip.MustParseAddr("239.1.2.3")},
			want: func(t *testing.T) []byte {
				return attrHex(t, ipvsDaemonAttrState, u32(2), ipvsDaemonAttrMcastIfn, []byte("bond0.100\x00"),
					ipvsDaemonAttrSyncID, u32(7), ipvsDaemonAttrSyncMaxLen, u16(1400),
					ipvsDaemonAttrMcastPort, u16(9000), ipvsDaemonAttrMcastTTL, []byte{3},
					ipvsDaemonAttrMcastGroup, "ef010203")
			},
		},
		{
			name: "IPv6 group",
			d:    SyncDaemon{State: SyncMaster, Interface: "eth1", SyncID: 255, Group: netip.MustParseAddr("ff02::81")},
			want: func(t *testing.T) []byte {
				return attrHex(t, ipvsDaemonAttrState, u32(1), ipvsDaemonAttrMcastIfn, []byte("eth1\x00"),
					ipvsDaemonAttrSyncID, u32(255), ipvsDaemonAttrMcastGroup6, "ff020000000000000000000000000081")
			},
		},
		{
			name: "v4-mapped group sent as IPv4",
			d:    SyncDaemon{State: SyncMaster, Interface: "eth0", Group: netip.MustParseAddr("::ffff:224.0.0.81")},
			want: func(t *testing.T) []byte {
				return attrHex(t, ipvsDaemonAttrState, u32(1), ipvsDaemonAttrMcastIfn, []byte("eth0\x00"),
					ipvsDaemonAttrSyncID, u32(0), ipvsDaemonAttrMcastGroup, "e0000051")
			},
		},
		{name: "no state", d: SyncDaemon{Interface: "eth0"}, wantErr: "state"},
		{name: "bad state", d: SyncDaemon{State: "both", Interface: "eth0"}, wantErr: "state"},
		{name: "no interface", d: SyncDaemon{State: SyncMaster}, wantErr: "interface"},
		{name: "interface too long", d: SyncDaemon{State: SyncMaster, Interface: "0123456789abcdef"}, wantErr: "interface"},
		{name: "interface with NUL", d: SyncDaemon{State: SyncMaster, Interface: "eth\x000"}, wantErr: "interface"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendSyncDaemonStart(nil, tc.d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one about %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := nest(nil, ipvsCmdAttrDaemon, func(b []byte) []byte { return append(b, tc.want(t)...) })
			if !bytes.Equal(got, want) {
				t.Fatalf("encoded\n%x\nwant\n%x", got, want)
			}
			// What the kernel would echo back decodes to the same values.
			back, err := ParseSyncDaemon(got)
			if err != nil {
				t.Fatal(err)
			}
			wantBack := tc.d
			wantBack.Group = tc.d.Group.Unmap()
			if back != wantBack {
				t.Fatalf("round trip: %+v, want %+v", back, wantBack)
			}
		})
	}
}

func TestSyncDaemonStopEncoding(t *testing.T) {
	got, err := AppendSyncDaemonStop(nil, SyncBackup)
	if err != nil {
		t.Fatal(err)
	}
	want := nest(nil, ipvsCmdAttrDaemon, func(b []byte) []byte { return appendAttr(b, ipvsDaemonAttrState, u32(2)) })
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x want %x", got, want)
	}
	if _, err := AppendSyncDaemonStop(nil, ""); err == nil {
		t.Fatal("empty state accepted")
	}
}

func TestParseSyncDaemon(t *testing.T) {
	// A daemon as Linux 6.x dumps it: every attribute, in its order.
	kernel := func(t *testing.T, inner []byte) []byte {
		return nest(nil, ipvsCmdAttrDaemon, func(b []byte) []byte { return append(b, inner...) })
	}
	tests := []struct {
		name    string
		in      func(t *testing.T) []byte
		want    SyncDaemon
		wantErr string
	}{
		{
			name: "master as the kernel reports it",
			in: func(t *testing.T) []byte {
				return kernel(t, attrHex(t, ipvsDaemonAttrState, u32(1), ipvsDaemonAttrMcastIfn, []byte("eth0\x00"),
					ipvsDaemonAttrSyncID, u32(1), ipvsDaemonAttrSyncMaxLen, u16(1472),
					ipvsDaemonAttrMcastPort, u16(8848), ipvsDaemonAttrMcastTTL, []byte{1},
					ipvsDaemonAttrMcastGroup, "e0000051"))
			},
			want: SyncDaemon{State: SyncMaster, Interface: "eth0", SyncID: 1, MaxLen: 1472, Port: 8848, TTL: 1,
				Group: netip.MustParseAddr("224.0.0.81")},
		},
		{
			name: "old kernel: state, interface and id only; unknown attributes skipped",
			in: func(t *testing.T) []byte {
				return append(attrHex(t, 9, "01020304"), kernel(t, attrHex(t, ipvsDaemonAttrState, u32(2),
					ipvsDaemonAttrMcastIfn, []byte("eth0\x00"), ipvsDaemonAttrSyncID, u32(9), 42, "00"))...)
			},
			want: SyncDaemon{State: SyncBackup, Interface: "eth0", SyncID: 9},
		},
		{name: "empty", in: func(t *testing.T) []byte { return nil }, wantErr: "no daemon"},
		{name: "no state", in: func(t *testing.T) []byte {
			return kernel(t, attrHex(t, ipvsDaemonAttrMcastIfn, []byte("eth0\x00")))
		}, wantErr: "no state"},
		{name: "unknown state", in: func(t *testing.T) []byte { return kernel(t, attrHex(t, ipvsDaemonAttrState, u32(3))) }, wantErr: "state 3"},
		{name: "short state", in: func(t *testing.T) []byte { return kernel(t, attrHex(t, ipvsDaemonAttrState, "01")) }, wantErr: "attribute 1"},
		{name: "short group", in: func(t *testing.T) []byte {
			return kernel(t, attrHex(t, ipvsDaemonAttrState, u32(1), ipvsDaemonAttrMcastGroup, "e000"))
		}, wantErr: "attribute 5"},
		{name: "short group6", in: func(t *testing.T) []byte {
			return kernel(t, attrHex(t, ipvsDaemonAttrState, u32(1), ipvsDaemonAttrMcastGroup6, "e0000051"))
		}, wantErr: "attribute 6"},
		{name: "length past the end", in: func(t *testing.T) []byte { return []byte{0x20, 0, 3, 0, 1, 2} }, wantErr: "truncated"},
		{name: "length below header", in: func(t *testing.T) []byte { return []byte{2, 0, 3, 0} }, wantErr: "truncated"},
		{name: "trailing bytes", in: func(t *testing.T) []byte {
			return append(kernel(t, attrHex(t, ipvsDaemonAttrState, u32(1))), 1, 2)
		}, wantErr: "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSyncDaemon(tc.in(t))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSyncDaemonString(t *testing.T) {
	d := SyncDaemon{State: SyncMaster, Interface: "eth0", SyncID: 1, MaxLen: 1472, Port: 8848, TTL: 1,
		Group: netip.MustParseAddr("224.0.0.81")}
	want := "master sync daemon (mcast=eth0, syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)"
	if got := d.String(); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if got := (SyncDaemon{State: SyncBackup, Interface: "eth0"}).String(); got != "backup sync daemon (mcast=eth0, syncid=0)" {
		t.Fatalf("got %q", got)
	}
}

func TestSortSyncDaemons(t *testing.T) {
	ds := []SyncDaemon{{State: SyncBackup}, {State: SyncMaster}}
	sortSyncDaemons(ds)
	if ds[0].State != SyncMaster || ds[1].State != SyncBackup {
		t.Fatalf("order %v", ds)
	}
}

// FuzzParseSyncDaemon: any bytes decode or fail without panicking, and a
// decoded daemon encodes to attributes that decode to itself.
func FuzzParseSyncDaemon(f *testing.F) {
	for _, d := range []SyncDaemon{
		{State: SyncMaster, Interface: "eth0"},
		{State: SyncBackup, Interface: "eth1", SyncID: 3, MaxLen: 1200, Port: 8849, TTL: 2, Group: netip.MustParseAddr("239.0.0.1")},
		{State: SyncMaster, Interface: "eth1", Group: netip.MustParseAddr("ff05::81")},
	} {
		b, err := AppendSyncDaemonStart(nil, d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-3])
	}
	f.Add([]byte{0x08, 0, 3, 0x80, 0x04, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseSyncDaemon(b)
		if err != nil {
			return
		}
		if d.Interface == "" || len(d.Interface) >= ipvsIfnameMax || strings.IndexByte(d.Interface, 0) >= 0 {
			return // the kernel never reports these; Start refuses them
		}
		enc, err := AppendSyncDaemonStart(nil, d)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", d, err)
		}
		back, err := ParseSyncDaemon(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		want := d
		want.Group = d.Group.Unmap()
		if back != want {
			t.Fatalf("round trip %+v -> %+v", d, back)
		}
	})
}
