package bfd

import (
	"bytes"
	"testing"
	"time"
)

// FuzzUnmarshal: no input panics; every error has a Reason; whatever
// decodes re-encodes to the bytes up to its Length field, and Verify and
// a session's Receive never panic on it.
func FuzzUnmarshal(f *testing.F) {
	f.Add(mustHex(&testing.T{}, "20400318000000010000000000 0f4240000f424000000000"))
	f.Add(mustHex(&testing.T{}, "20c00318000000010000000200 00c3500000c35000000000"))
	f.Add(mustHex(&testing.T{}, "2044031d00000001000000000 00f4240000f42400000000001050 76b74"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Unmarshal(b)
		if err != nil {
			if Reason(err) == "other" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("Marshal(Unmarshal(b)): %v", err)
		}
		if !bytes.Equal(out, b[:b[3]]) {
			t.Fatalf("re-encoded differently:\n in % x\nout % x", b[:b[3]], out)
		}
		for _, k := range []*Key{nil, {Type: AuthSimplePassword, ID: 1, Secret: []byte("x")},
			{Type: AuthKeyedMD5, ID: 1, Secret: []byte("x")}, {Type: AuthMeticulousKeyedSHA1, ID: 1, Secret: []byte("x")}} {
			_ = Verify(b, p, k)
			s, err := NewSession(Config{Name: "f", LocalDiscr: 1, DesiredMinTx: time.Millisecond, RequiredMinRx: time.Millisecond,
				IdleTx: time.Second, DetectMult: 3, Key: k}, time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = s.Receive(time.Unix(0, 0), p, b)
			_ = s.Tick(time.Unix(1, 0))
		}
	})
}
