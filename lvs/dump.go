package lvs

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Stats are a service's or destination's counters and rates.
type Stats struct {
	Conns    uint64 `json:"conns"`
	InPkts   uint64 `json:"inpkts"`
	OutPkts  uint64 `json:"outpkts"`
	InBytes  uint64 `json:"inbytes"`
	OutBytes uint64 `json:"outbytes"`
	CPS      uint64 `json:"cps"`
	InPPS    uint64 `json:"inpps"`
	OutPPS   uint64 `json:"outpps"`
	InBPS    uint64 `json:"inbps"`
	OutBPS   uint64 `json:"outbps"`
}

// DumpDest is a destination as the kernel shows it.
type DumpDest struct {
	Dest
	ActiveConns   int   `json:"active_conns"`
	InactiveConns int   `json:"inactive_conns"`
	PersistConns  int   `json:"persist_conns"`
	Stats         Stats `json:"stats"`
}

// DumpService is a service as the kernel shows it.
type DumpService struct {
	Service
	Dests []DumpDest `json:"dests"`
	Stats Stats      `json:"stats"`
}

// Dump reads the whole kernel table through h, sorted the way ipvsadm
// sorts it.
func Dump(h Handle) ([]DumpService, error) {
	svcs, err := h.GetServices()
	if err != nil {
		return nil, fmt.Errorf("lvs: list services: %w", err)
	}
	var out []DumpService
	for _, s := range svcs {
		svc, ok := fromIPVSService(s)
		if !ok {
			continue
		}
		ds := DumpService{Service: svc, Stats: Stats{
			Conns: uint64(s.Stats.Connections), InPkts: uint64(s.Stats.PacketsIn), OutPkts: uint64(s.Stats.PacketsOut),
			InBytes: s.Stats.BytesIn, OutBytes: s.Stats.BytesOut, CPS: uint64(s.Stats.CPS),
			InPPS: uint64(s.Stats.PPSIn), OutPPS: uint64(s.Stats.PPSOut), InBPS: uint64(s.Stats.BPSIn), OutBPS: uint64(s.Stats.BPSOut)}}
		dests, err := h.GetDestinations(s)
		if err != nil {
			return nil, fmt.Errorf("lvs: list real servers of %s: %w", svc.Key, err)
		}
		for _, d := range dests {
			dd, ok := fromIPVSDest(d)
			if !ok {
				continue
			}
			st := d.Stats
			ds.Dests = append(ds.Dests, DumpDest{Dest: dd, ActiveConns: d.ActiveConnections, InactiveConns: d.InactiveConnections,
				Stats: Stats{Conns: uint64(st.Connections), InPkts: uint64(st.PacketsIn), OutPkts: uint64(st.PacketsOut),
					InBytes: st.BytesIn, OutBytes: st.BytesOut, CPS: uint64(st.CPS), InPPS: uint64(st.PPSIn),
					OutPPS: uint64(st.PPSOut), InBPS: uint64(st.BPSIn), OutBPS: uint64(st.BPSOut)}})
		}
		out = append(out, ds)
	}
	idx := map[ServiceKey]int{}
	for i, s := range out {
		idx[s.Key] = i
	}
	if err := fillPENames(h, func(k ServiceKey, pe string) {
		if i, ok := idx[k]; ok {
			out[i].PEName = pe
		}
	}); err != nil {
		return nil, err
	}
	SortDump(out)
	return out, nil
}

// SortDump sorts services and their destinations as ipvsadm does.
func SortDump(svcs []DumpService) {
	sort.Slice(svcs, func(i, j int) bool { return keyLess(svcs[i].Key, svcs[j].Key) })
	for _, s := range svcs {
		sort.Slice(s.Dests, func(i, j int) bool { return destLess(s.Dests[i].Key, s.Dests[j].Key) })
	}
}

// FromTable lists a Table the way Dump lists the kernel (no counters).
func FromTable(t Table) []DumpService {
	var out []DumpService
	for _, k := range t.Keys() {
		e := t[k]
		s := DumpService{Service: e.Service}
		for _, d := range e.SortedDests() {
			s.Dests = append(s.Dests, DumpDest{Dest: d})
		}
		out = append(out, s)
	}
	return out
}

// ListFormat chooses WriteList's columns.
type ListFormat int

// The layouts of ipvsadm -Ln, -Ln --stats and -Ln --rate.
const (
	ListPlain ListFormat = iota
	ListStats
	ListRate
)

// DefaultVersionLine is the first line of the listing when the kernel's
// is unknown.
const DefaultVersionLine = "IP Virtual Server version 1.2.1 (size=4096)"

// VersionLine is the first line of /proc/net/ip_vs ("IP Virtual Server
// version 1.2.1 (size=4096)"), or DefaultVersionLine when it cannot be
// read.
func VersionLine() string {
	f, err := os.Open("/proc/net/ip_vs")
	if err != nil {
		return DefaultVersionLine
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if sc.Scan() && strings.HasPrefix(sc.Text(), "IP Virtual Server") {
		return sc.Text()
	}
	return DefaultVersionLine
}

// WriteList writes svcs in ipvsadm -Ln's layout (numeric addresses).
func WriteList(w io.Writer, version string, svcs []DumpService, f ListFormat) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, version)
	switch f {
	case ListStats:
		fmt.Fprint(bw, "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\n")
	case ListRate:
		fmt.Fprint(bw, "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  -> RemoteAddress:Port\n")
	default:
		fmt.Fprint(bw, "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	}
	for _, s := range svcs {
		name := serviceName(s.Key)
		switch f {
		case ListStats, ListRate:
			fmt.Fprintf(bw, "%-33s%s\n", name, numbers(s.Stats, f))
			for _, d := range s.Dests {
				fmt.Fprintf(bw, "%-33s%s\n", "  -> "+d.Key.String(), numbers(d.Stats, f))
			}
		default:
			fmt.Fprintf(bw, "%s %s%s\n", name, s.Sched, serviceFlags(s.Service))
			for _, d := range s.Dests {
				fmt.Fprintf(bw, "  -> %-28s %-7s %-6d %-10d %-10d\n", d.Key, FwdName(d.Fwd), d.Weight, d.ActiveConns, d.InactiveConns)
			}
		}
	}
	return bw.Flush()
}

func serviceName(k ServiceKey) string {
	if k.FWMark != 0 {
		s := fmt.Sprintf("%-4s %d", "FWM", k.FWMark)
		if k.Family == FamilyIPv6 {
			s += " IPv6"
		}
		return s
	}
	return fmt.Sprintf("%-4s %s", ProtoName(k.Protocol), hostPort(k.Addr, k.Port))
}

// serviceFlags is what ipvsadm prints after the scheduler: scheduler
// flags, persistence, mask, persistence engine, one-packet scheduling.
func serviceFlags(s Service) string {
	var b strings.Builder
	var names []string
	for i, bit := range []uint32{FlagSched1, FlagSched2, FlagSched3} {
		if s.Flags&bit == 0 {
			continue
		}
		n := "flag-" + strconv.Itoa(i+1)
		switch {
		case s.Sched == "sh" && i == 0:
			n = "sh-fallback"
		case s.Sched == "sh" && i == 1:
			n = "sh-port"
		case s.Sched == "mh" && i == 0:
			n = "mh-fallback"
		case s.Sched == "mh" && i == 1:
			n = "mh-port"
		}
		names = append(names, n)
	}
	if len(names) > 0 {
		b.WriteString(" (" + strings.Join(names, ",") + ")")
	}
	if s.Flags&FlagPersistent != 0 {
		fmt.Fprintf(&b, " persistent %d", s.Timeout)
		if s.Key.Family == FamilyIPv6 {
			if s.Netmask != 128 {
				fmt.Fprintf(&b, " mask %d", s.Netmask)
			}
		} else if s.Netmask != 0xffffffff {
			var m [4]byte
			binary.NativeEndian.PutUint32(m[:], s.Netmask)
			fmt.Fprintf(&b, " mask %s", netip.AddrFrom4(m))
		}
	}
	if s.PEName != "" {
		fmt.Fprintf(&b, " pe %s", s.PEName)
	}
	if s.Flags&FlagOnePacket != 0 {
		b.WriteString(" ops")
	}
	return b.String()
}

func numbers(s Stats, f ListFormat) string {
	v := []uint64{s.Conns, s.InPkts, s.OutPkts, s.InBytes, s.OutBytes}
	if f == ListRate {
		v = []uint64{s.CPS, s.InPPS, s.OutPPS, s.InBPS, s.OutBPS}
	}
	var b strings.Builder
	for _, n := range v {
		b.WriteByte(' ')
		b.WriteString(largeNum(n))
	}
	return b.String()
}

// largeNum prints n in 8 columns as ipvsadm's print_largenum does without
// --exact: below 100 million as is, then in thousands (K) below a billion,
// millions (M) below 100 billion, billions (G) below 100 trillion, else
// trillions (T).
func largeNum(n uint64) string {
	switch {
	case n < 100000000:
		return fmt.Sprintf("%8d", n)
	case n < 1000000000:
		return fmt.Sprintf("%7dK", n/1000)
	case n < 100000000000:
		return fmt.Sprintf("%7dM", n/1000000)
	case n < 100000000000000:
		return fmt.Sprintf("%7dG", n/1000000000)
	}
	return fmt.Sprintf("%7dT", n/1000000000000)
}

// jsonService is the --json form of a service.
type jsonService struct {
	Protocol   string     `json:"protocol,omitempty"`
	Address    string     `json:"address,omitempty"`
	Port       uint16     `json:"port,omitempty"`
	FWMark     uint32     `json:"fwmark,omitempty"`
	Family     string     `json:"family"`
	Scheduler  string     `json:"scheduler"`
	Flags      uint32     `json:"flags"`
	Persistent uint32     `json:"persistence_timeout,omitempty"`
	Netmask    uint32     `json:"netmask,omitempty"`
	PE         string     `json:"pe,omitempty"`
	Stats      Stats      `json:"stats"`
	Dests      []jsonDest `json:"real_servers"`
}

type jsonDest struct {
	Address       string `json:"address"`
	Port          uint16 `json:"port"`
	Forward       string `json:"forward"`
	Weight        int    `json:"weight"`
	UThreshold    uint32 `json:"upper_threshold,omitempty"`
	LThreshold    uint32 `json:"lower_threshold,omitempty"`
	ActiveConns   int    `json:"active_conns"`
	InactiveConns int    `json:"inactive_conns"`
	Stats         Stats  `json:"stats"`
}

// WriteJSON writes svcs as a JSON array (ReadJSON reads it back).
func WriteJSON(w io.Writer, svcs []DumpService) error {
	out := make([]jsonService, 0, len(svcs))
	for _, s := range svcs {
		j := jsonService{Family: "inet", Scheduler: s.Sched, Flags: s.Flags, Persistent: s.Timeout, Netmask: s.Netmask,
			PE: s.PEName, Stats: s.Stats, Dests: []jsonDest{}}
		if s.Key.Family == FamilyIPv6 {
			j.Family = "inet6"
		}
		if s.Key.FWMark != 0 {
			j.FWMark = s.Key.FWMark
		} else {
			j.Protocol, j.Address, j.Port = ProtoName(s.Key.Protocol), s.Key.Addr.String(), s.Key.Port
		}
		for _, d := range s.Dests {
			j.Dests = append(j.Dests, jsonDest{Address: d.Key.Addr.String(), Port: d.Key.Port, Forward: FwdName(d.Fwd),
				Weight: d.Weight, UThreshold: d.UThreshold, LThreshold: d.LThreshold, ActiveConns: d.ActiveConns,
				InactiveConns: d.InactiveConns, Stats: d.Stats})
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ReadJSON reads what WriteJSON wrote.
func ReadJSON(r io.Reader) ([]DumpService, error) {
	var in []jsonService
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		return nil, fmt.Errorf("lvs: read json: %w", err)
	}
	out := make([]DumpService, 0, len(in))
	for i, j := range in {
		s := DumpService{Service: Service{Sched: j.Scheduler, Flags: j.Flags, Timeout: j.Persistent, Netmask: j.Netmask, PEName: j.PE},
			Stats: j.Stats}
		s.Key.Family = FamilyIPv4
		if j.Family == "inet6" {
			s.Key.Family = FamilyIPv6
		}
		if j.FWMark != 0 {
			s.Key.FWMark = j.FWMark
		} else {
			p, err := parseProto(j.Protocol)
			if err != nil {
				return nil, fmt.Errorf("lvs: read json: service %d: %w", i, err)
			}
			a, err := netip.ParseAddr(j.Address)
			if err != nil {
				return nil, fmt.Errorf("lvs: read json: service %d: %w", i, err)
			}
			s.Key.Protocol, s.Key.Addr, s.Key.Port = p, a, j.Port
		}
		for _, d := range j.Dests {
			a, err := netip.ParseAddr(d.Address)
			if err != nil {
				return nil, fmt.Errorf("lvs: read json: service %d: %w", i, err)
			}
			fwd := map[string]uint32{"Masq": FwdMasq, "Local": FwdLocal, "Tunnel": FwdTunnel, "Route": FwdRoute}[d.Forward]
			s.Dests = append(s.Dests, DumpDest{Dest: Dest{Key: DestKey{Addr: a, Port: d.Port}, Weight: d.Weight, Fwd: fwd,
				UThreshold: d.UThreshold, LThreshold: d.LThreshold}, ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns,
				Stats: d.Stats})
		}
		out = append(out, s)
	}
	return out, nil
}
