package wire

import (
	"math/rand/v2"
	"testing"
)

// refChecksum is the straightforward 16-bit-word Internet checksum, the
// oracle for the word-at-a-time checksum.
func refChecksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// TestChecksumWords: the 32-bit-word checksum equals the 16-bit one on
// random data, all-ones data and any partial sum.
func TestChecksumWords(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.IntN(300))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if r.IntN(4) == 0 {
			for j := range b {
				b[j] = 0xff
			}
		}
		sum := r.Uint32() >> r.IntN(32)
		if got, want := checksum(b, sum), refChecksum(b, sum); got != want {
			t.Fatalf("len %d sum %#x: %#x, want %#x", len(b), sum, got, want)
		}
	}
}
