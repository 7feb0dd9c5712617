package bfd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnmarshal decodes packets as FRR and keepalived send them (the
// first two are from a capture of FRR 8.4's bfdd) and rejects what RFC
// 5880 §6.8.6 and keepalived's bfd_check_packet reject.
func TestUnmarshal(t *testing.T) {
	cases := []struct {
		name string
		hex  string
		want *Packet
		err  error
	}{
		{name: "down, no discr yet", hex: "20 40 03 18 00000001 00000000 000f4240 000f4240 00000000",
			want: &Packet{Version: 1, State: Down, DetectMult: 3, MyDiscr: 1, DesiredMinTx: 1000000, RequiredMinRx: 1000000}},
		{name: "up with poll", hex: "20 e0 03 18 00000001 00000002 0000c350 0000c350 00000000",
			want: &Packet{Version: 1, State: Up, Poll: true, DetectMult: 3, MyDiscr: 1, YourDiscr: 2, DesiredMinTx: 50000, RequiredMinRx: 50000}},
		{name: "expired diag, final", hex: "21 50 05 18 0000000a 0000000b 000f4240 000186a0 00000000",
			want: &Packet{Version: 1, Diag: DiagExpired, State: Down, Final: true, DetectMult: 5, MyDiscr: 10, YourDiscr: 11, DesiredMinTx: 1000000, RequiredMinRx: 100000}},
		{name: "trailing bytes ignored", hex: "20 40 03 18 00000001 00000000 000f4240 000f4240 00000000 dead",
			want: &Packet{Version: 1, State: Down, DetectMult: 3, MyDiscr: 1, DesiredMinTx: 1000000, RequiredMinRx: 1000000}},
		{name: "simple password", hex: "20 44 03 1d 00000001 00000000 000f4240 000f4240 00000000 01 05 07 6b 74",
			want: &Packet{Version: 1, State: Down, DetectMult: 3, MyDiscr: 1, DesiredMinTx: 1000000, RequiredMinRx: 1000000,
				Auth: &Auth{Type: AuthSimplePassword, KeyID: 7, Password: []byte("kt")}}},
		{name: "short", hex: "20 40 03 18 00000001", err: ErrShort},
		{name: "version 0", hex: "00 40 03 18 00000001 00000000 000f4240 000f4240 00000000", err: ErrVersion},
		{name: "length beyond payload", hex: "20 40 03 1c 00000001 00000000 000f4240 000f4240 00000000", err: ErrLength},
		{name: "length below 24", hex: "20 40 03 14 00000001 00000000 000f4240 000f4240 00000000", err: ErrLength},
		{name: "length 25 no auth", hex: "20 40 03 19 00000001 00000000 000f4240 000f4240 00000000 00", err: ErrLength},
		{name: "mult 0", hex: "20 40 00 18 00000001 00000000 000f4240 000f4240 00000000", err: ErrDetectMult},
		{name: "multipoint", hex: "20 41 03 18 00000001 00000000 000f4240 000f4240 00000000", err: ErrMultipoint},
		{name: "my discr 0", hex: "20 40 03 18 00000000 00000000 000f4240 000f4240 00000000", err: ErrMyDiscr},
		{name: "your discr 0 in Up", hex: "20 c0 03 18 00000001 00000000 000f4240 000f4240 00000000", err: ErrYourDiscr},
		{name: "poll and final", hex: "20 70 03 18 00000001 00000000 000f4240 000f4240 00000000", err: ErrPollFinal},
		{name: "auth len mismatch", hex: "20 44 03 1d 00000001 00000000 000f4240 000f4240 00000000 01 06 07 6b 74", err: ErrAuthLen},
		{name: "auth type 9", hex: "20 44 03 1d 00000001 00000000 000f4240 000f4240 00000000 09 05 07 6b 74", err: ErrAuthType},
		{name: "md5 wrong length", hex: "20 44 03 1d 00000001 00000000 000f4240 000f4240 00000000 02 05 07 6b 74", err: ErrAuthLen},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := mustHex(t, tc.hex)
			p, err := Unmarshal(b)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if Reason(err) == "other" {
					t.Fatalf("Reason(%v) = other", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tc.want.String() || (p.Auth == nil) != (tc.want.Auth == nil) {
				t.Fatalf("got  %v\nwant %v", p, tc.want)
			}
			out, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b[:b[3]]) {
				t.Fatalf("Marshal = % x, want % x", out, b[:b[3]])
			}
		})
	}
}

// TestAuth signs and verifies every type, and refuses a wrong key, a
// changed byte and a missing or unexpected section.
func TestAuth(t *testing.T) {
	keys := []Key{
		{Type: AuthSimplePassword, ID: 1, Secret: []byte("secret")},
		{Type: AuthKeyedMD5, ID: 2, Secret: []byte("md5key")},
		{Type: AuthMeticulousKeyedMD5, ID: 3, Secret: []byte("md5key")},
		{Type: AuthKeyedSHA1, ID: 4, Secret: []byte("sha1key")},
		{Type: AuthMeticulousKeyedSHA1, ID: 5, Secret: []byte("a 20 byte sha1 key!!")},
	}
	for _, k := range keys {
		t.Run(k.Type.String(), func(t *testing.T) {
			p := &Packet{State: Up, DetectMult: 3, MyDiscr: 1, YourDiscr: 2, DesiredMinTx: 50000, RequiredMinRx: 50000,
				Auth: &Auth{Type: k.Type, KeyID: k.ID, Seq: 42}}
			if k.Type == AuthSimplePassword {
				p.Auth.Password = k.Secret
			}
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if err := Sign(b, k); err != nil {
				t.Fatal(err)
			}
			q, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if q.Auth.Type != k.Type || q.Auth.KeyID != k.ID || (k.Type != AuthSimplePassword && q.Auth.Seq != 42) {
				t.Fatalf("auth decoded as %+v", q.Auth)
			}
			if err := Verify(b, q, &k); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wrong := k
			wrong.Secret = []byte("other")
			if err := Verify(b, q, &wrong); !errors.Is(err, ErrAuthMismatch) {
				t.Fatalf("wrong key: %v", err)
			}
			wrongID := k
			wrongID.ID++
			if err := Verify(b, q, &wrongID); !errors.Is(err, ErrAuthMismatch) {
				t.Fatalf("wrong key ID: %v", err)
			}
			if k.Type != AuthSimplePassword {
				c := append([]byte(nil), b...)
				c[12] ^= 1 // DesiredMinTx changed in flight
				cq, _ := Unmarshal(c)
				if err := Verify(c, cq, &k); !errors.Is(err, ErrAuthMismatch) {
					t.Fatalf("tampered: %v", err)
				}
			}
			if err := Verify(b, q, nil); !errors.Is(err, ErrAuthUnexpected) {
				t.Fatalf("unexpected: %v", err)
			}
			plain := &Packet{State: Down, DetectMult: 3, MyDiscr: 1}
			pb, _ := plain.Marshal()
			if err := Verify(pb, plain, &k); !errors.Is(err, ErrAuthMissing) {
				t.Fatalf("missing: %v", err)
			}
		})
	}
}

// TestMD5Vector checks the digest against one computed independently
// (python3 hashlib over the packet with the key in the digest field).
func TestMD5Vector(t *testing.T) {
	p := &Packet{State: Down, DetectMult: 3, MyDiscr: 1, DesiredMinTx: 1000000, RequiredMinRx: 1000000,
		Auth: &Auth{Type: AuthKeyedMD5, KeyID: 1, Seq: 1}}
	b, _ := p.Marshal()
	if err := Sign(b, Key{Type: AuthKeyedMD5, ID: 1, Secret: []byte("kt")}); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b[32:]); got != md5Vector {
		t.Fatalf("digest %s, want %s", got, md5Vector)
	}
}

const md5Vector = "1cfe3a87ec73cc139e26c0b068e1221a"
