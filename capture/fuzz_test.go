package capture

import (
	"bufio"
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/kt-project/kt/internal/pcapfile"
	"github.com/kt-project/kt/vrrp/wire"
)

// FuzzDecode feeds arbitrary frames through the whole decode path: the
// decoder for each link type, the election, and the text and JSON
// printers. Nothing may panic. Seeds: every frame of the keepalived
// captures and the hand-made frames; testdata/fuzz/FuzzDecode keeps the
// interesting inputs found.
func FuzzDecode(f *testing.F) {
	for _, pc := range keepalivedPcaps {
		frames, err := pcapfile.Read(pc.path)
		if err != nil {
			f.Fatal(err)
		}
		for _, fr := range frames {
			f.Add(fr.Data)
		}
	}
	f.Add(v2Frame(f, 100, wire.AuthAH, "k", wire.IPv4Options{AH: true}))
	f.Add(v3Frame6(f, 100, 255))
	f.Add(garpFrame(vip4, macR1))
	f.Add(naFrame(vip6, macR1))
	f.Fuzz(func(t *testing.T, frame []byte) {
		e := NewElection()
		var evs []Event
		for _, lt := range []LinkType{LinkTypeEthernet, LinkTypeLinuxSLL, LinkTypeRaw} {
			d := NewDecoder(lt, "secret")
			var r Record
			r.Time = time.Unix(1, 0)
			for i := 0; i < 2; i++ { // twice: a reused Record and decoder
				if !d.Decode(frame, &r) {
					continue
				}
				var line []byte
				switch r.Kind {
				case KindVRRP:
					evs = e.Advert(&r, evs[:0])
					line = appendPacket(line, &r, time.UTC)
				case KindBad:
					line = appendPacket(line, &r, time.UTC)
				case KindGARP, KindNA:
					evs = e.Announce(&r, evs[:0])
				}
				for i := range evs {
					line = appendEvent(line, &evs[i], time.UTC)
					_ = eventToJSON(&evs[i])
				}
				if err := writePacketJSON(discard{}, &r); err != nil {
					t.Fatal(err)
				}
				r.Time = r.Time.Add(time.Second)
			}
		}
		_ = summaryJSON(e, 1)
		if err := writeTable(discard{}, e, time.UTC, time.Unix(5, 0)); err != nil {
			t.Fatal(err)
		}
	})
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// FuzzReadFile feeds arbitrary bytes to the pcap and pcapng readers and
// decodes what they return: no panic, and no endless loop.
func FuzzReadFile(f *testing.F) {
	for _, pc := range keepalivedPcaps {
		b, err := os.ReadFile(pc.path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := newReader(bufio.NewReaderSize(bytes.NewReader(file), 1<<16))
		if err != nil {
			return
		}
		d := NewDecoder(r.LinkType(), "")
		var rec Record
		for i := 0; i < len(file); i++ {
			data, ci, err := r.ZeroCopyReadPacketData()
			if err != nil {
				return
			}
			rec.Time = ci.Timestamp
			d.Decode(data, &rec)
		}
	})
}
