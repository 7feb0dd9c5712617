package commands

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kt-project/kt/lvs"
)

// iaNames turns addresses and ports into names and back, as ipvsadm does
// through the resolver (gethostbyname, gethostbyaddr) and the services
// file (getservbyname, getservbyport).
type iaNames interface {
	hostName(a netip.Addr) (string, bool)
	lookupHost4(name string) (netip.Addr, bool)
	serviceName(port uint16, proto uint16) (string, bool)
	servicePort(name string, proto uint16) (uint16, bool)
}

// systemNames is iaNames on this host: the resolver and /etc/services,
// read on first use (a -R of numeric lines, or -Sn, never reads it).
type systemNames struct {
	services []iaServEnt
	loaded   bool
}

type iaServEnt struct {
	names []string
	port  uint16
	proto string
}

func newSystemNames() *systemNames { return &systemNames{} }

// servs is /etc/services, read the first time it is asked for.
func (n *systemNames) servs() []iaServEnt {
	if !n.loaded {
		n.loaded = true
		if f, err := os.Open("/etc/services"); err == nil {
			n.services = parseServices(bufio.NewScanner(f))
			f.Close()
		}
	}
	return n.services
}

// parseServices reads the services file: "name port/proto aliases... #".
func parseServices(sc *bufio.Scanner) []iaServEnt {
	var out []iaServEnt
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ps, proto, ok := strings.Cut(f[1], "/")
		p, err := strconv.ParseUint(ps, 10, 16)
		if !ok || err != nil {
			continue
		}
		out = append(out, iaServEnt{names: append([]string{f[0]}, f[2:]...), port: uint16(p), proto: proto})
	}
	return out
}

func protoLower(p uint16) string {
	switch p {
	case lvs.ProtoTCP:
		return "tcp"
	case lvs.ProtoUDP:
		return "udp"
	case lvs.ProtoSCTP:
		return "sctp"
	}
	return ""
}

func (n *systemNames) serviceName(port, proto uint16) (string, bool) {
	pn := protoLower(proto)
	if pn == "" {
		return "", false
	}
	for _, s := range n.servs() {
		if s.port == port && s.proto == pn {
			return s.names[0], true
		}
	}
	return "", false
}

func (n *systemNames) servicePort(name string, proto uint16) (uint16, bool) {
	pn := protoLower(proto)
	if pn == "" {
		return 0, false
	}
	for _, s := range n.servs() {
		if s.proto != pn {
			continue
		}
		for _, x := range s.names {
			if x == name {
				return s.port, true
			}
		}
	}
	return 0, false
}

const iaResolveTimeout = 5 * time.Second

func (n *systemNames) hostName(a netip.Addr) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), iaResolveTimeout)
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(ctx, a.String())
	if err != nil || len(names) == 0 {
		return "", false
	}
	return strings.TrimSuffix(names[0], "."), true
}

func (n *systemNames) lookupHost4(name string) (netip.Addr, bool) {
	if name == "" {
		return netip.Addr{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), iaResolveTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
	if err != nil || len(ips) == 0 {
		return netip.Addr{}, false
	}
	return ips[0].Unmap(), true
}

// inetNtop is glibc's inet_ntop: Go's text, except that an IPv6 address
// whose first 96 bits are zero (and is neither :: nor ::1-like with more
// zeros) ends in dotted IPv4, as glibc prints it.
func inetNtop(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	zero := true
	for _, x := range b[:12] {
		if x != 0 {
			zero = false
		}
	}
	if zero && (b[12] != 0 || b[13] != 0) {
		return "::" + netip.AddrFrom4([4]byte(b[12:])).String()
	}
	return a.String()
}

// addrPort is ipvsadm's addrport_to_anyname.
func (a *ipvsadm) addrPort(fam uint16, addr netip.Addr, port uint16, proto uint16, format int) string {
	open, close := "[", "]"
	if fam == lvs.FamilyIPv4 {
		open, close = "", ""
	}
	if fam == lvs.FamilyIPv4 && addr.Is6() && !addr.Is4In6() {
		addr = netip.AddrFrom4([4]byte{})
	}
	host := inetNtop(addr)
	ps := strconv.Itoa(int(port))
	if format&iaFmtNumeric == 0 {
		if n, ok := a.names.hostName(addr); ok {
			host = n
		}
		if n, ok := a.names.serviceName(port, proto); ok {
			ps = n
		}
	}
	s := open + host + close + ":" + ps
	if len(s) > 59 {
		s = s[:59]
	}
	return s
}

func iaProtoName(p uint16) string {
	switch p {
	case lvs.ProtoTCP:
		return "TCP"
	case lvs.ProtoUDP:
		return "UDP"
	case lvs.ProtoSCTP:
		return "SCTP"
	}
	return "?"
}

func iaProtoOption(p uint16) string {
	switch p {
	case lvs.ProtoTCP:
		return "-t"
	case lvs.ProtoUDP:
		return "-u"
	case lvs.ProtoSCTP:
		return "--sctp-service"
	}
	return "--xxx-service"
}

// addrWords is an address as libipvs's comparisons read it: four
// host-order words, IPv4 in the first.
func addrWords(a netip.Addr) [4]uint32 {
	var w [4]uint32
	switch {
	case !a.IsValid():
	case a.Is4():
		b := a.As4()
		w[0] = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	default:
		b := a.As16()
		for i := range w {
			w[i] = uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
		}
	}
	return w
}

// cmpServices is libipvs's ipvs_cmp_services, with its C arithmetic: the
// differences of unsigned 32-bit values are taken as signed ints, so far
// apart addresses compare "wrongly" and the order is ipvsadm's own.
func cmpServices(a, b lvs.DumpService) int {
	if r := int32(a.Key.FWMark - b.Key.FWMark); r != 0 {
		return int(r)
	}
	if r := int(a.Key.Family) - int(b.Key.Family); r != 0 {
		return r
	}
	if r := int(a.Key.Protocol) - int(b.Key.Protocol); r != 0 {
		return r
	}
	wa, wb := addrWords(a.Key.Addr), addrWords(b.Key.Addr)
	n := 1
	if a.Key.Family == lvs.FamilyIPv6 {
		n = 4
	}
	for i := 0; i < n; i++ {
		if r := int32(wa[i] - wb[i]); r != 0 {
			return int(r)
		}
	}
	return int(a.Key.Port) - int(b.Key.Port)
}

// cmpDests is libipvs's ipvs_cmp_dests; fam is the first one's family.
func cmpDests(a, b lvs.DumpDest, fam uint16) int {
	wa, wb := addrWords(a.Key.Addr), addrWords(b.Key.Addr)
	n := 1
	if fam == lvs.FamilyIPv6 {
		n = 4
	}
	for i := 0; i < n; i++ {
		if r := int32(wa[i] - wb[i]); r != 0 {
			return int(r)
		}
	}
	return int(a.Key.Port) - int(b.Key.Port)
}

// glibcSort sorts s as glibc 2.36's qsort does (a top-down merge sort that
// takes from the left on ties), so that the order matches ipvsadm's even
// where its comparison is not a consistent order.
func glibcSort[T any](s []T, cmp func(a, b T) int) {
	tmp := make([]T, len(s))
	var msort func(b []T)
	msort = func(b []T) {
		n := len(b)
		if n <= 1 {
			return
		}
		n1 := n / 2
		b1, b2 := b[:n1], b[n1:]
		msort(b1)
		msort(b2)
		t := tmp[:0]
		i, j := 0, 0
		for i < len(b1) && j < len(b2) {
			if cmp(b1[i], b2[j]) <= 0 {
				t = append(t, b1[i])
				i++
			} else {
				t = append(t, b2[j])
				j++
			}
		}
		t = append(t, b1[i:]...)
		copy(b, t)
	}
	msort(s)
}

// dests reads a service's real servers, sorted unless --nosort.
func (a *ipvsadm) dests(s lvs.DumpService, format int) []lvs.DumpDest {
	ds, err := a.kernel.Dests(s.Key)
	if err != nil {
		a.out.Flush()
		fmt.Fprintln(a.errw, iaStrerror("get_dests", unix2errno(err)))
		panic(iaExit{iaExitListFailure})
	}
	if format&iaFmtNoSort == 0 {
		glibcSort(ds, func(x, y lvs.DumpDest) int {
			fam := s.Key.Family
			if x.Key.Addr.Is4() {
				fam = lvs.FamilyIPv4
			} else if x.Key.Addr.IsValid() {
				fam = lvs.FamilyIPv6
			}
			return cmpDests(x, y, fam)
		})
	}
	return ds
}

// listAll is ipvsadm's list_all (and, with iaFmtRule, -S).
func (a *ipvsadm) listAll(format int) {
	if format&iaFmtRule == 0 {
		info, err := a.kernel.Info()
		if err != nil {
			a.out.Flush()
			fmt.Fprintln(a.errw, iaStrerror("", unix2errno(err)))
			panic(iaExit{iaExitListFailure})
		}
		fmt.Fprintf(a.out, "IP Virtual Server version %s (size=%d)\n", info.VersionString(), info.ConnTabSize)
	}
	svcs, err := a.kernel.Services()
	if err != nil {
		a.out.Flush()
		fmt.Fprintln(a.errw, iaStrerror("get_services", unix2errno(err)))
		panic(iaExit{iaExitListFailure})
	}
	if format&iaFmtNoSort == 0 {
		glibcSort(svcs, cmpServices)
	}
	a.printTitle(format)
	for _, s := range svcs {
		a.printService(s, format)
	}
}

// listService is ipvsadm -L with a service.
func (a *ipvsadm) listService(k lvs.ServiceKey, format int) {
	s, err := a.kernel.Service(k)
	if err != nil {
		a.out.Flush()
		fmt.Fprintln(a.errw, iaStrerror("get_service", unix2errno(err)))
		panic(iaExit{iaExitListFailure})
	}
	a.printTitle(format)
	a.printService(s, format)
}

func (a *ipvsadm) listTimeout() {
	t, err := a.kernel.Timeouts()
	if err != nil {
		panic(iaExit{iaExitListFailure})
	}
	fmt.Fprintf(a.out, "Timeout (tcp tcpfin udp): %d %d %d\n", int32(t.TCP), int32(t.TCPFin), int32(t.UDP))
}

func (a *ipvsadm) listDaemon() {
	ds, err := a.kernel.ListSync()
	if err != nil {
		panic(iaExit{iaExitListFailure})
	}
	for _, d := range ds {
		fmt.Fprintln(a.out, d.String())
	}
}

// listConns is ipvsadm -c: the kernel's connection table file.
func (a *ipvsadm) listConns(format int) {
	f, err := os.Open(lvs.ConnFile)
	if err != nil {
		a.out.Flush()
		fmt.Fprintf(a.errw, "cannot open file %s\n", lvs.ConnFile)
		panic(iaExit{1})
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		a.out.Flush()
		fmt.Fprintf(a.errw, "unexpected input from %s\n", lvs.ConnFile)
		panic(iaExit{1})
	}
	fmt.Fprintln(a.out, "IPVS connection entries")
	if format&iaFmtPersistentConn != 0 {
		fmt.Fprintf(a.out, "pro expire %-11s %-18s %-18s %-18s %-16s %s\n", "state", "source", "virtual", "destination", "pe name", "pe_data")
	} else {
		fmt.Fprintf(a.out, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination")
	}
	for sc.Scan() {
		a.printConn(sc.Text(), format)
	}
}

// printConn is ipvsadm's print_conn for one line of the connection table.
func (a *ipvsadm) printConn(line string, format int) {
	f := strings.Fields(line)
	if len(f) < 9 {
		return
	}
	var proto uint16
	switch f[0] {
	case "TCP":
		proto = lvs.ProtoTCP
	case "UDP":
		proto = lvs.ProtoUDP
	case "SCTP":
		proto = lvs.ProtoSCTP
	}
	parse := func(s string) (uint16, netip.Addr) {
		if ip, err := netip.ParseAddr(s); err == nil {
			if ip.Is4() {
				return lvs.FamilyIPv4, ip
			}
			return lvs.FamilyIPv6, ip
		}
		n, _ := strconv.ParseUint(s, 16, 32)
		return lvs.FamilyIPv4, netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
	port := func(s string) uint16 {
		n, _ := strconv.ParseUint(s, 16, 16)
		return uint16(n)
	}
	af, caddr := parse(f[1])
	_, vaddr := parse(f[3])
	daf, daddr := parse(f[5])
	expires, _ := strconv.Atoi(f[8])
	cname := a.addrPort(af, caddr, port(f[2]), proto, format)
	vname := a.addrPort(af, vaddr, port(f[4]), proto, format)
	dname := a.addrPort(daf, daddr, port(f[6]), proto, format)
	exp := fmt.Sprintf("%02d:%02d", expires/60, expires%60)
	if format&iaFmtPersistentConn != 0 && len(f) >= 11 {
		fmt.Fprintf(a.out, "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n", f[0], exp, f[7], cname, vname, dname, f[9], f[10])
		return
	}
	fmt.Fprintf(a.out, "%-3s %-6s %-11s %-18s %-18s %s\n", f[0], exp, f[7], cname, vname, dname)
}

func (a *ipvsadm) printTitle(format int) {
	w := a.out
	switch {
	case format&iaFmtStats != 0:
		fmt.Fprintf(w, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	case format&iaFmtRate != 0:
		fmt.Fprintf(w, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
	case format&iaFmtThresholds != 0:
		fmt.Fprintf(w, "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
	case format&iaFmtPersistentConn != 0:
		fmt.Fprintf(w, "%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn")
	case format&iaFmtTunInfo != 0:
		fmt.Fprint(w, "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n")
	case format&iaFmtRule == 0:
		fmt.Fprint(w, "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	}
}

// largeNum is ipvsadm's print_largenum.
func largeNum(i uint64, format int) string {
	if format&iaFmtExact != 0 {
		s := strconv.FormatUint(i, 10)
		w := 9
		if len(s) > 8 {
			w = len(s) + 1
		}
		return fmt.Sprintf("%*d", w, i)
	}
	switch {
	case i < 100000000:
		return fmt.Sprintf("%9d", i)
	case i < 1000000000:
		return fmt.Sprintf("%8dK", i/1000)
	case i < 100000000000:
		return fmt.Sprintf("%8dM", i/1000000)
	case i < 100000000000000:
		return fmt.Sprintf("%8dG", i/1000000000)
	}
	return fmt.Sprintf("%8dT", i/1000000000000)
}

func schedFlagNames(s lvs.Service) string {
	var names []string
	switch s.Sched {
	case "sh", "mh":
		if s.Flags&lvs.FlagSched1 != 0 {
			names = append(names, s.Sched+"-fallback")
		}
		if s.Flags&lvs.FlagSched2 != 0 {
			names = append(names, s.Sched+"-port")
		}
	default:
		for i, f := range []uint32{lvs.FlagSched1, lvs.FlagSched2, lvs.FlagSched3} {
			if s.Flags&f != 0 {
				names = append(names, "flag-"+strconv.Itoa(i+1))
			}
		}
	}
	return strings.Join(names, ",")
}

func ipv4Mask(m uint32) string {
	return netip.AddrFrom4([4]byte{byte(m), byte(m >> 8), byte(m >> 16), byte(m >> 24)}).String()
}

func fwdSwitch(fwd uint32) string {
	switch fwd & 7 {
	case lvs.FwdMasq:
		return "-m"
	case lvs.FwdTunnel:
		return "-i"
	case lvs.FwdLocal, lvs.FwdRoute:
		return "-g"
	}
	return "(null)"
}

func fwdName(fwd uint32) string {
	switch fwd & 7 {
	case lvs.FwdMasq:
		return "Masq"
	case lvs.FwdLocal:
		return "Local"
	case lvs.FwdTunnel:
		return "Tunnel"
	case lvs.FwdRoute:
		return "Route"
	}
	return "(null)"
}

func tunInfo(d lvs.DumpDest) string {
	if d.Fwd&7 != lvs.FwdTunnel || int(d.TunFlags) >= len(iaTunFlagShort) {
		return "n/a"
	}
	switch d.TunType {
	case lvs.TunIPIP:
		return "ipip"
	case lvs.TunGUE:
		return truncate(fmt.Sprintf("gue:%d:%s", d.TunPort, iaTunFlagShort[d.TunFlags]), 15)
	case lvs.TunGRE:
		return "gre:" + iaTunFlagShort[d.TunFlags]
	}
	return "n/a"
}

// printService is ipvsadm's print_service_entry.
func (a *ipvsadm) printService(s lvs.DumpService, format int) {
	ds := a.dests(s, format)
	w := a.out
	var name string
	k := s.Key
	switch {
	case k.FWMark != 0 && format&iaFmtRule != 0:
		name = fmt.Sprintf("-f %d", int32(k.FWMark))
		if k.Family == lvs.FamilyIPv6 {
			name += " -6"
		}
	case k.FWMark != 0:
		name = fmt.Sprintf("FWM  %d", int32(k.FWMark))
		if k.Family == lvs.FamilyIPv6 {
			name += " IPv6"
		}
	default:
		v := a.addrPort(k.Family, k.Addr, k.Port, k.Protocol, format)
		if format&iaFmtRule != 0 {
			name = iaProtoOption(k.Protocol) + " " + v
		} else {
			name = fmt.Sprintf("%-4s %s", iaProtoName(k.Protocol), v)
			if k.Family != lvs.FamilyIPv6 {
				name = truncate(name, 33)
			}
		}
	}
	switch {
	case format&iaFmtRule != 0:
		fmt.Fprintf(w, "-A %s -s %s", name, s.Sched)
		if s.Flags&lvs.FlagPersistent != 0 {
			fmt.Fprintf(w, " -p %d", s.Timeout)
			if k.Family == lvs.FamilyIPv4 && s.Netmask != 0xffffffff {
				fmt.Fprintf(w, " -M %s", ipv4Mask(s.Netmask))
			}
			if k.Family == lvs.FamilyIPv6 && s.Netmask != 128 {
				fmt.Fprintf(w, " -M %d", int32(s.Netmask))
			}
		}
		if s.PEName != "" {
			fmt.Fprintf(w, " --pe %s", s.PEName)
		}
		if s.Flags&lvs.FlagOnePacket != 0 {
			fmt.Fprint(w, " -o")
		}
		if s.Flags&(lvs.FlagSched1|lvs.FlagSched2|lvs.FlagSched3) != 0 {
			fmt.Fprintf(w, " -b %s", schedFlagNames(s.Service))
		}
	case format&iaFmtStats != 0:
		fmt.Fprintf(w, "%-33s%s%s%s%s%s", name, largeNum(s.Stats.Conns, format), largeNum(s.Stats.InPkts, format),
			largeNum(s.Stats.OutPkts, format), largeNum(s.Stats.InBytes, format), largeNum(s.Stats.OutBytes, format))
	case format&iaFmtRate != 0:
		fmt.Fprintf(w, "%-33s%s%s%s%s%s", name, largeNum(s.Stats.CPS, format), largeNum(s.Stats.InPPS, format),
			largeNum(s.Stats.OutPPS, format), largeNum(s.Stats.InBPS, format), largeNum(s.Stats.OutBPS, format))
	default:
		fmt.Fprintf(w, "%s %s", name, s.Sched)
		if s.Flags&(lvs.FlagSched1|lvs.FlagSched2|lvs.FlagSched3) != 0 {
			fmt.Fprintf(w, " (%s)", schedFlagNames(s.Service))
		}
		if s.Flags&lvs.FlagPersistent != 0 {
			fmt.Fprintf(w, " persistent %d", s.Timeout)
			if k.Family == lvs.FamilyIPv4 && s.Netmask != 0xffffffff {
				fmt.Fprintf(w, " mask %s", ipv4Mask(s.Netmask))
			}
			if k.Family == lvs.FamilyIPv6 && s.Netmask != 128 {
				fmt.Fprintf(w, " mask %d", int32(s.Netmask))
			}
			if s.PEName != "" {
				fmt.Fprintf(w, " pe %s", s.PEName)
			}
		}
		if s.Flags&lvs.FlagOnePacket != 0 {
			fmt.Fprint(w, " ops")
		}
	}
	fmt.Fprintln(w)
	for _, d := range ds {
		fam := lvs.FamilyIPv6
		if d.Key.Addr.Is4() {
			fam = lvs.FamilyIPv4
		}
		dname := a.addrPort(uint16(fam), d.Key.Addr, d.Key.Port, k.Protocol, format)
		if format&iaFmtRule == 0 && fam != lvs.FamilyIPv6 {
			dname = truncate(dname, 28)
		}
		switch {
		case format&iaFmtRule != 0:
			fmt.Fprintf(w, "-a %s -r %s %s -w %d", name, dname, fwdSwitch(d.Fwd), d.Weight)
			if d.Fwd&7 == lvs.FwdTunnel {
				switch d.TunType {
				case lvs.TunGRE:
					fmt.Fprintf(w, " --tun-type gre %s", tunFlagOpt(d.TunFlags))
				case lvs.TunGUE:
					fmt.Fprintf(w, " --tun-type gue --tun-port %d %s", d.TunPort, tunFlagOpt(d.TunFlags))
				case lvs.TunIPIP:
					fmt.Fprint(w, " --tun-type ipip")
				}
			}
			fmt.Fprintln(w)
		case format&iaFmtStats != 0:
			fmt.Fprintf(w, "  -> %-28s%s%s%s%s%s\n", dname, largeNum(d.Stats.Conns, format), largeNum(d.Stats.InPkts, format),
				largeNum(d.Stats.OutPkts, format), largeNum(d.Stats.InBytes, format), largeNum(d.Stats.OutBytes, format))
		case format&iaFmtRate != 0:
			fmt.Fprintf(w, "  -> %-28s %8d %8d %8d%s%s\n", dname, d.Stats.CPS, d.Stats.InPPS, d.Stats.OutPPS,
				largeNum(d.Stats.InBPS, format), largeNum(d.Stats.OutBPS, format))
		case format&iaFmtThresholds != 0:
			fmt.Fprintf(w, "  -> %-28s %-10d %-10d %-10d %-10d\n", dname, d.UThreshold, d.LThreshold, uint32(d.ActiveConns), uint32(d.InactiveConns))
		case format&iaFmtPersistentConn != 0:
			fmt.Fprintf(w, "  -> %-28s %-9d %-11d %-10d %-10d\n", dname, uint32(d.Weight), uint32(d.PersistConns), uint32(d.ActiveConns), uint32(d.InactiveConns))
		case format&iaFmtTunInfo != 0:
			fmt.Fprintf(w, "  -> %-28s %-7s %-13s %-6d %-10d %-10d\n", dname, fwdName(d.Fwd), tunInfo(d), d.Weight, uint32(d.ActiveConns), uint32(d.InactiveConns))
		default:
			fmt.Fprintf(w, "  -> %-28s %-7s %-6d %-10d %-10d\n", dname, fwdName(d.Fwd), d.Weight, uint32(d.ActiveConns), uint32(d.InactiveConns))
		}
	}
}

func tunFlagOpt(f uint16) string {
	if int(f) < len(iaTunFlagOpts) {
		return iaTunFlagOpts[f]
	}
	return "(null)"
}
