package kacompare

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kt-project/kt/config"
	"github.com/kt-project/kt/vrrp"
)

// Settings are the settings of one VRRP instance that keepalived's
// configuration dump shows (keepalived -d, dump_vrrp in vrrp_data.c), by
// the dump's own names: "Priority", "Wantstate", "Virtual IP"...; values are
// as the dump writes them.
type Settings map[string]string

// dumpFields are the dump lines compared, "   NAME = VALUE".
var dumpFields = map[string]bool{
	"VRRP Version": true, "Wantstate": true, "Virtual Router ID": true, "Priority": true,
	"Advert interval": true, "Accept": true, "Preempt": true, "Authentication type": true, "Password": true,
}

// dumpStamp is the time stamp keepalived -l puts before each line.
var dumpStamp = regexp.MustCompile(`^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: `)

// StripStamp is a line keepalived -l wrote without its time stamp.
func StripStamp(line string) string { return dumpStamp.ReplaceAllString(line, "") }

// foreignHeaders are the dump's section headers that keepalived's other
// processes write (the parent and the BFD child: global_data.c,
// bfd_data.c; the checker's, when it runs). Their lines may come between
// the VRRP process's lines, so they do not end an instance: the VRRP
// process writes none of them after its "VRRP Topology" (vrrp_data.c).
var foreignHeaders = map[string]bool{
	"------< Global definitions >------": true, "------< BFD Data >------": true,
	"------< BFD Topology >------": true, "------< Health checkers >------": true,
	"------< SSL definitions >------": true, "------< LVS Topology >------": true,
	"------< Checker track files >------": true, "------< Checker track BFDs >------": true,
}

// ParseDump reads the VRRP instances of keepalived's configuration dump
// (keepalived -l -d: logged at start) from its output. Lines of other
// processes may be interleaved; they are ignored.
func ParseDump(out []byte) map[string]Settings {
	all := map[string]Settings{}
	var cur Settings
	vips := false
	for _, l := range bytes.Split(out, []byte("\n")) {
		s := StripStamp(string(l))
		switch {
		case strings.HasPrefix(s, " VRRP Instance = "):
			cur = Settings{}
			all[strings.TrimPrefix(s, " VRRP Instance = ")] = cur
			vips = false
			continue
		case foreignHeaders[strings.TrimSpace(s)]:
			continue
		case strings.HasPrefix(s, "------<"):
			cur = nil
			continue
		case cur == nil:
			continue
		case strings.HasPrefix(s, "   Virtual IP ("):
			vips = true
			cur["Virtual IP"] = ""
			continue
		case vips && strings.HasPrefix(s, "     "):
			// "192.0.2.10/24 dev eth0 scope global": the address.
			if f := strings.Fields(s); len(f) > 0 {
				cur["Virtual IP"] = strings.TrimSpace(cur["Virtual IP"] + " " + f[0])
			}
			continue
		case strings.HasPrefix(s, "   ") && !strings.HasPrefix(s, "    "):
			vips = false
		}
		name, val, ok := strings.Cut(strings.TrimSpace(s), " = ")
		if ok && dumpFields[name] {
			cur[name] = val
		}
	}
	return all
}

// KTSettings gives the same settings for the instances kt runs from the
// effective configuration c (as vrrp.Instances builds them).
func KTSettings(c *config.Config) (map[string]Settings, error) {
	ics, err := vrrp.Instances(c)
	if err != nil {
		return nil, err
	}
	out := map[string]Settings{}
	for _, ic := range ics {
		m := ic.Machine
		s := Settings{
			"VRRP Version":      strconv.Itoa(m.Version),
			"Virtual Router ID": strconv.Itoa(int(m.VRID)),
			"Priority":          strconv.Itoa(int(m.Priority)),
			"Preempt":           enabled(!m.Nopreempt),
			"Accept":            enabled(!ic.NoAccept),
		}
		switch {
		case m.InitialMaster, !m.InitialBackup && m.Priority == config.OwnerPriority:
			s["Wantstate"] = "MASTER"
		default:
			s["Wantstate"] = "BACKUP"
		}
		if m.Version == 2 {
			s["Advert interval"] = fmt.Sprintf("%d sec", m.Interval.Milliseconds()/1000)
		} else {
			s["Advert interval"] = fmt.Sprintf("%d milli-sec", m.Interval.Milliseconds())
		}
		switch m.AuthType {
		case vrrp.AuthPass:
			s["Authentication type"] = "SIMPLE_PASSWORD"
			s["Password"] = string(bytes.TrimRight(m.AuthKey[:], "\x00"))
		case vrrp.AuthAH:
			s["Authentication type"] = "IPSEC_AH"
		default:
			if m.Version == 2 {
				s["Authentication type"] = "none"
			}
		}
		var vips []string
		if in := c.Instances[m.Name]; in != nil {
			for _, v := range config.KeptVIPs(in.VirtualIPAddress) {
				// keepalived leaves out a host prefix's length.
				a := v.Address.String()
				if v.Address.IsSingleIP() {
					a = v.Address.Addr().String()
				}
				vips = append(vips, a)
			}
		}
		if len(vips) > 0 {
			s["Virtual IP"] = strings.Join(vips, " ")
		}
		out[m.Name] = s
	}
	return out, nil
}

func enabled(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

// CompareSettings returns a KindEffective difference for each setting of an
// instance both run that differs, and one for an instance only one of them
// runs. at gives an instance's position (its vrrp_instance line).
func CompareSettings(file string, at func(name string) int, ka, kt map[string]Settings) []Difference {
	var out []Difference
	names := map[string]bool{}
	for n := range ka {
		names[n] = true
	}
	for n := range kt {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		k, okK := ka[n]
		t, okT := kt[n]
		switch {
		case !okK:
			out = append(out, Difference{File: file, Line: at(n), Kind: KindEffective, Unlocated: n + " instance", Detail: "kt runs the instance, keepalived does not"})
			continue
		case !okT:
			out = append(out, Difference{File: file, Line: at(n), Kind: KindEffective, Unlocated: n + " instance", Detail: "keepalived runs the instance, kt does not"})
			continue
		}
		fields := make([]string, 0, len(k))
		for f := range k {
			fields = append(fields, f)
		}
		for f := range t {
			if _, ok := k[f]; !ok {
				fields = append(fields, f)
			}
		}
		sort.Strings(fields)
		for _, f := range fields {
			if k[f] != t[f] {
				out = append(out, Difference{File: file, Line: at(n), Kind: KindEffective, Unlocated: n + " " + f,
					Detail: fmt.Sprintf("%s %s: keepalived %q, kt %q", n, f, k[f], t[f])})
			}
		}
	}
	return out
}
