package capture

import (
	"encoding/json"
	"fmt"

	"github.com/google/gopacket"
)

// bfdSniff is kt sniff's BFD side: frames the VRRP decoder does not take
// are offered to it.
type bfdSniff struct {
	dec     *BFDDecoder
	table   *BFDTable
	rec     BFDRecord
	packets int
}

// bfdHandle decodes, counts, prints and saves one frame if it is BFD.
func (s *session) bfdHandle(data []byte, ci gopacket.CaptureInfo, pw *pcapWriter) (bool, error) {
	b := s.bfd
	if b == nil {
		return false, nil
	}
	rec := &b.rec
	if !b.dec.Decode(data, rec) {
		return false, nil
	}
	rec.Time = ci.Timestamp
	b.packets++
	ev := b.table.Add(rec)
	if pw != nil {
		if err := pw.write(ci, data); err != nil {
			return true, fmt.Errorf("capture: %s: %w", s.o.Write, err)
		}
	}
	if !s.o.Summary {
		if s.o.JSON {
			if err := json.NewEncoder(s.out).Encode(bfdToJSON(rec)); err != nil {
				return true, err
			}
		} else if err := s.emit(appendBFD(s.line[:0], rec, s.o.Location)); err != nil {
			return true, err
		}
	}
	if ev != "" && !s.o.JSON {
		line := rec.Time.In(s.o.Location).AppendFormat(s.line[:0], "15:04:05.000000")
		line = append(append(append(line, " event "...), ev...), '\n')
		if err := s.emit(line); err != nil {
			return true, err
		}
	}
	if s.live {
		if err := s.out.Flush(); err != nil {
			return true, err
		}
	}
	return true, nil
}

// bfdSummary prints the BFD table after the VRRP one.
func (s *session) bfdSummary() error {
	if s.bfd == nil || s.bfd.packets == 0 {
		return nil
	}
	if s.o.JSON {
		return json.NewEncoder(s.out).Encode(map[string]any{"type": "bfd_summary", "packets": s.bfd.packets, "sessions": s.bfd.table.Sessions()})
	}
	fmt.Fprintf(s.out, "\n%d BFD packets\n", s.bfd.packets)
	return WriteBFDTable(s.out, s.bfd.table)
}
