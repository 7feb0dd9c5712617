package lvs

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Conn is one entry of the kernel's IPVS connection table
// (/proc/net/ip_vs_conn).
type Conn struct {
	Proto   string         `json:"protocol"`
	Client  netip.AddrPort `json:"client"`
	Virtual netip.AddrPort `json:"virtual"`
	Dest    netip.AddrPort `json:"destination"`
	State   string         `json:"state"`
	Expires int            `json:"expires"` // seconds
	PEName  string         `json:"pe,omitempty"`
	PEData  string         `json:"pe_data,omitempty"`
}

// ConnFile is where the kernel lists the connection table.
const ConnFile = "/proc/net/ip_vs_conn"

// ReadConnections reads the connection table from the kernel's
// ConnFile.
func ReadConnections() ([]Conn, error) {
	f, err := os.Open(ConnFile)
	if err != nil {
		return nil, fmt.Errorf("lvs: connections: %w", err)
	}
	defer f.Close()
	return ParseConnections(f)
}

// ParseConnections parses /proc/net/ip_vs_conn's text: a header line,
// then "PRO FROMIP FPRT TOIP TPRT DESTIP DPRT STATE EXPIRES [PENAME
// PEDATA]" in hex (IPv4) or colon notation (IPv6, in brackets or not).
func ParseConnections(r io.Reader) ([]Conn, error) {
	sc := bufio.NewScanner(r)
	var out []Conn
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if line == 1 || len(f) == 0 {
			continue
		}
		if len(f) < 9 {
			return nil, fmt.Errorf("lvs: connections line %d: %d fields, want 9 or more", line, len(f))
		}
		var c Conn
		var err error
		c.Proto, c.State = f[0], f[7]
		if c.Client, err = procAddrPort(f[1], f[2]); err == nil {
			if c.Virtual, err = procAddrPort(f[3], f[4]); err == nil {
				c.Dest, err = procAddrPort(f[5], f[6])
			}
		}
		if err != nil {
			return nil, fmt.Errorf("lvs: connections line %d: %w", line, err)
		}
		if c.Expires, err = strconv.Atoi(f[8]); err != nil {
			return nil, fmt.Errorf("lvs: connections line %d: expires %q", line, f[8])
		}
		if len(f) > 9 {
			c.PEName = f[9]
		}
		if len(f) > 10 {
			c.PEData = f[10]
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lvs: connections: %w", err)
	}
	return out, nil
}

func procAddrPort(addr, port string) (netip.AddrPort, error) {
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q", port)
	}
	var a netip.Addr
	if strings.Contains(addr, ":") {
		a, err = netip.ParseAddr(strings.Trim(addr, "[]"))
	} else {
		var b []byte
		if b, err = hex.DecodeString(addr); err == nil && len(b) == 4 {
			a = netip.AddrFrom4([4]byte(b))
		} else if err == nil {
			err = fmt.Errorf("address %q", addr)
		}
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", addr, err)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// WriteConnections writes conns in ipvsadm -Lnc's layout.
func WriteConnections(w io.Writer, conns []Conn) error {
	bw := bufio.NewWriter(w)
	fmt.Fprint(bw, "IPVS connection entries\npro expire state       source             virtual            destination\n")
	for _, c := range conns {
		fmt.Fprintf(bw, "%-3s %02d:%02d  %-11s %-18s %-18s %s", c.Proto, c.Expires/60, c.Expires%60, c.State,
			c.Client, c.Virtual, c.Dest)
		if c.PEName != "" {
			fmt.Fprintf(bw, " %s %s", c.PEName, c.PEData)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
