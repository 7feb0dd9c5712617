package config

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/kt-project/kt/internal/testenv"
)

const (
	keywordListFile = "testdata/keywords/keepalived-2.2.7.txt"
	allKeywordsFile = "testdata/keywords/all-keywords.conf"
)

var updateKeywords = flag.Bool("update-keywords", false, "rewrite "+allKeywordsFile)

// modelBlock is one block type of the model and where it sits: its path as
// the keyword list spells it ("vrrp_instance/authentication") and the
// keywords, with their headers, that open it and its ancestors.
type modelBlock struct {
	path  string
	typ   reflect.Type
	opens []string // e.g. {"virtual_server 192.0.2.1 80", "real_server 192.0.2.2 80"}
}

// modelBlocks walks the schema from Config and returns every block type at
// every path it appears at, Config itself first (path "top").
func modelBlocks() []modelBlock {
	sc := schemas{}
	out := []modelBlock{{path: "top", typ: reflect.TypeOf(Config{})}}
	var walk func(b modelBlock)
	walk = func(b modelBlock) {
		s := sc.of(b.typ)
		for i := range s.fields {
			f := &s.fields[i]
			switch f.kind {
			case kindBlock, kindBlockList, kindNamed:
			default:
				continue
			}
			sub := modelBlock{path: f.kw, typ: f.elem}
			if b.path != "top" {
				sub.path = b.path + "/" + f.kw
			}
			sub.opens = append(append([]string(nil), b.opens...), strings.Join(append([]string{f.kw}, blockHeader(f)...), " "))
			out = append(out, sub)
			walk(sub)
		}
	}
	walk(out[0])
	return out
}

// modelKeywords returns every "BLOCK KEYWORD" pair the model knows.
func modelKeywords() map[string]bool {
	known := map[string]bool{}
	sc := schemas{}
	for _, b := range modelBlocks() {
		s := sc.of(b.typ)
		for i := range s.fields {
			if i != s.body {
				known[b.path+" "+s.fields[i].kw] = true
			}
		}
	}
	return known
}

func readKeywordList(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(keywordListFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

// TestKnowsEveryKeepalivedKeyword checks that the model has a field for every
// keyword keepalived 2.2.7 accepts, in every block it accepts it in.
func TestKnowsEveryKeepalivedKeyword(t *testing.T) {
	known := modelKeywords()
	var missing []string
	for _, pair := range readKeywordList(t) {
		if !known[pair] {
			missing = append(missing, pair)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d keepalived 2.2.7 keywords the model does not know:\n%s", len(missing), strings.Join(missing, "\n"))
	}
}

// modelOnlyKeywords are the keywords the model accepts where keepalived
// 2.2.7 does not: CheckCommon gives every checker nb_get_retry (keepalived:
// HTTP_GET and SSL_GET only) and MISC_CHECK the connection keywords.
var modelOnlyKeywords = map[string]bool{}

func init() {
	for _, c := range []string{"TCP_CHECK", "SMTP_CHECK", "SMTP_CHECK/host", "DNS_CHECK", "MISC_CHECK", "UDP_CHECK", "PING_CHECK"} {
		modelOnlyKeywords["virtual_server/real_server/"+c+" nb_get_retry"] = true
	}
	for _, kw := range []string{"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout", "fwmark"} {
		modelOnlyKeywords["virtual_server/real_server/MISC_CHECK "+kw] = true
	}
}

// TestKnowsNoOtherKeyword checks the converse: every keyword the model reads
// from keepalived.conf is one keepalived 2.2.7 accepts there, but for the
// known exceptions above.
func TestKnowsNoOtherKeyword(t *testing.T) {
	ka := map[string]bool{}
	for _, pair := range readKeywordList(t) {
		ka[pair] = true
	}
	var extra []string
	for pair := range modelKeywords() {
		if !ka[pair] && !modelOnlyKeywords[pair] {
			extra = append(extra, pair)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("%d keywords the model knows that keepalived 2.2.7 does not:\n%s", len(extra), strings.Join(extra, "\n"))
	}
}

// Plausible values for the round-trip snippets, keyed "BLOCK KEYWORD" or,
// failing that, "KEYWORD". A keyword with none gets a value made from its Go
// type. "" stands for the keyword written alone.
var keywordValues = map[string]string{
	// top level
	"top net_namespace":        "kt_test",
	"top net_namespace_ipvs":   "",
	"top instance":             "kt1",
	"linkbeat_interfaces":      "eth0 MII",
	"interface_up_down_delays": "eth0 1 2.5",
	"static_ipaddress":         "192.0.2.200/24 dev eth0 scope global label eth0:kt",
	"static_routes":            "198.51.100.0/24 via 192.0.2.1 dev eth0 table 100",
	"static_rules":             "from 192.0.2.200 table 100 preference 100",

	// global_defs
	"process_name":                  "kt",
	"vrrp_process_name":             "kt_vrrp",
	"checker_process_name":          "kt_checker",
	"lvs_process_name":              "kt_lvs",
	"bfd_process_name":              "kt_bfd",
	"router_id":                     "kt-test",
	"notification_email_from":       "kt@example.com",
	"smtp_server":                   "192.0.2.25 25",
	"smtp_helo_name":                "kt.example.com",
	"smtp_connect_timeout":          "30",
	"notification_email":            "admin@example.com",
	"startup_script_timeout":        "10",
	"shutdown_script_timeout":       "10",
	"max_auto_priority":             "10",
	"min_auto_priority_delay":       "1000000",
	"dynamic_interfaces":            "allow_if_changes",
	"default_interface":             "eth0",
	"lvs_timeouts":                  "tcp 7200 tcpfin 120 udp 300",
	"lvs_flush_on_stop":             "VS",
	"lvs_sync_daemon":               "eth0 inst VI_1 id 5 maxlen 1400 port 8848 ttl 1 group 224.0.0.81",
	"vrrp_mcast_group4":             "224.0.0.18",
	"vrrp_mcast_group6":             "ff02::12",
	"vrrp_garp_interval":            "0.002",
	"vrrp_gna_interval":             "0.002",
	"vrrp_garp_extra_if":            "all 60",
	"vrrp_vmac_garp_intvl":          "60",
	"vrrp_down_timer_adverts":       "3",
	"vrrp_version":                  "3",
	"vrrp_iptables":                 "KT_IN KT_OUT",
	"vrrp_ipsets":                   "kt kt6 kt_if6 kt_igmp kt_mld",
	"nftables":                      "kt",
	"nftables_priority":             "-1",
	"nftables_ipvs":                 "kt_ipvs",
	"nftables_ipvs_priority":        "-2",
	"nftables_ipvs_start_fwmark":    "1000",
	"vrrp_startup_delay":            "5.5",
	"vrrp_rx_bufs_policy":           "MTU",
	"vmac_prefix":                   "vrt",
	"vmac_addr_prefix":              "vma",
	"vrrp_priority":                 "-10",
	"checker_priority":              "-10",
	"bfd_priority":                  "-10",
	"vrrp_rt_priority":              "50",
	"checker_rt_priority":           "50",
	"bfd_rt_priority":               "50",
	"vrrp_cpu_affinity":             "0",
	"checker_cpu_affinity":          "0",
	"bfd_cpu_affinity":              "0",
	"vrrp_rlimit_rttime":            "10000",
	"vrrp_rlimit_rtime":             "10000",
	"checker_rlimit_rttime":         "10000",
	"checker_rlimit_rtime":          "10000",
	"bfd_rlimit_rttime":             "10000",
	"bfd_rlimit_rtime":              "10000",
	"notify_fifo":                   "/run/kt.fifo",
	"vrrp_notify_fifo":              "/run/kt_vrrp.fifo root",
	"lvs_notify_fifo":               "/run/kt_lvs.fifo root root",
	"snmp_socket":                   "tcp:localhost:705",
	"dbus_service_name":             "org.keepalived.Vrrp1",
	"script_user":                   "root root",
	"vrrp_netlink_cmd_rcv_bufs":     "1048576",
	"vrrp_netlink_monitor_rcv_bufs": "1048576",
	"process_monitor_rcv_bufs":      "1048576",
	"lvs_netlink_cmd_rcv_bufs":      "1048576",
	"lvs_netlink_monitor_rcv_bufs":  "1048576",
	"umask":                         "IWGRP | IWOTH",
	"random_seed":                   "42",
	"reload_check_config":           "/tmp/kt-reload-check.log",
	"reload_time_file":              "/tmp/kt-reload-time",
	"reload_file":                   "",
	"include_check":                 "+match -wildcard_match",
	"config_save_dir":               "/tmp",
	"tmp_config_directory":          "/tmp",

	// VRRP trackers and groups
	"group":                     "VI_1",
	"vrrp_script script":        "/bin/true",
	"vrrp_script interval":      "2",
	"vrrp_script weight":        "-20 reverse",
	"vrrp_script user":          "root",
	"track_file file":           "/tmp/kt-track-file",
	"vrrp_track_file file":      "/tmp/kt-vrrp-track-file",
	"track_file weight":         "2 reverse",
	"vrrp_track_file weight":    "-2",
	"init_file":                 "0 overwrite",
	"process":                   "keepalived --dont-fork",
	"param_match":               "initial",
	"vrrp_track_process weight": "5 reverse",
	"quorum_max":                "2",
	"vrrp_track_process delay":  "0.5",
	"neighbor_ip":               "192.0.2.3",
	"neighbour_ip":              "192.0.2.3",
	"source_ip":                 "192.0.2.200",
	"min_rx":                    "10",
	"min_tx":                    "12.5",
	"idle_tx":                   "1000",
	"multiplier":                "5",
	"ttl":                       "255",
	"hoplimit":                  "64",
	"max_hops":                  "0",
	"bfd_instance weight":       "10 reverse",
	"track_interface":           "eth0 weight 5",
	"track_script":              "chk_script weight 10",
	"track_file":                "tf1 weight 2 reverse",
	"track_process":             "proc1",
	"track_bfd":                 "bfd1 weight -5",
	"garp_interval":             "0.002",
	"gna_interval":              "0.003",
	"garp_group interface":      "ifb0",
	"interfaces":                "ifb1",

	// vrrp_instance: native_ipv6 makes it IPv6, so its addresses are IPv6
	"state":                      "MASTER",
	"vrrp_instance interface":    "eth0",
	"vrf":                        "kt_vrf",
	"virtual_router_id":          "51",
	"vrrp_instance priority":     "100",
	"advert_int":                 "1.5",
	"version":                    "3",
	"use_vmac":                   "vrrp.51",
	"use_ipvlan":                 "ipvl51 bridge",
	"mcast_src_ip":               "fe80::200",
	"unicast_src_ip":             "fe80::200",
	"mcast_dst_ip":               "ff02::12",
	"unicast_peer":               "fe80::2 min_ttl 1 max_ttl 255",
	"unicast_ttl":                "255",
	"old_unicast_checksum":       "never",
	"auth_type":                  "PASS",
	"auth_pass":                  "secret",
	"virtual_ipaddress":          "2001:db8::100/64 dev eth0 preferred_lft 0",
	"virtual_ipaddress_excluded": "192.0.2.100/24 dev eth0 label eth0:1",
	"virtual_routes":             "2001:db8:1::/64 via 2001:db8::1 dev eth0",
	"virtual_rules":              "from 2001:db8::100 table 200 preference 200",
	"preempt_delay":              "5",
	"debug":                      "1",
	"lvs_sync_daemon_interface":  "eth0",
	"garp_master_delay":          "5",
	"garp_master_refresh":        "60",
	"garp_lower_prio_delay":      "5",
	"down_timer_adverts":         "3",
	"garp_extra_if":              "all 60",
	"vmac_garp_intvl":            "60",
	"kernel_rx_buf_size":         "65536",

	// SSL
	"password":    "secret",
	"ca":          "/etc/keepalived/ca.pem",
	"certificate": "/etc/keepalived/client.pem",
	"key":         "/etc/keepalived/client.key",

	// virtual servers
	"virtual_server_group -":                "192.0.2.1 80",
	"ip_family":                             "inet",
	"virtual_server retry":                  "3",
	"lb_algo":                               "sh",
	"lvs_sched":                             "sh",
	"lb_kind":                               "NAT",
	"virtual_server lvs_method":             "TUN type gue port 6080 csum",
	"persistence_engine":                    "sip",
	"persistence_timeout":                   "300",
	"persistence_granularity":               "255.255.255.0",
	"protocol":                              "TCP",
	"virtualhost":                           "www.example.com",
	"virtual_server snmp_name":              "vs1",
	"quorum":                                "1",
	"hysteresis":                            "0",
	"virtual_server weight":                 "1",
	"sorry_server":                          "192.0.2.30 80",
	"sorry_server_lvs_method":               "DR",
	"virtual_server/real_server weight":     "2",
	"virtual_server/real_server lvs_method": "NAT",
	"virtual_server/real_server snmp_name":  "rs1",
	"uthreshold":                            "100",
	"lthreshold":                            "10",

	// checkers
	"connect_ip":            "192.0.2.2",
	"connect_port":          "80",
	"bindto":                "192.0.2.200",
	"bind_port":             "10000",
	"bind_if":               "eth0",
	"fwmark":                "7",
	"http_protocol":         "1.1",
	"path":                  "/health",
	"digest":                "9b3a0c85a887a256d6939da88aabd8cd",
	"status_code":           "200 301-303",
	"regex":                 `"^up and running$"`,
	"regex_options":         "caseless multiline",
	"regex_min_offset":      "1",
	"regex_max_offset":      "100",
	"regex_stack":           "32768 65536",
	"helo_name":             "kt.example.com",
	"type":                  "A",
	"DNS_CHECK name":        "www.example.com",
	"misc_path":             "/bin/true",
	"misc_timeout":          "5",
	"MISC_CHECK user":       "root",
	"payload":               "01 02 03 04",
	"require_reply":         "0102 xx",
	"min_reply_length":      "1",
	"max_reply_length":      "100",
	"FILE_CHECK track_file": "tf1",
	"FILE_CHECK weight":     "10 noreverse",
	"BFD_CHECK name":        "bfd1",
}

// Names for named blocks and headers of header blocks.
var blockNames = map[string]string{
	"track_group":          "TG1",
	"vrrp_script":          "chk_script",
	"track_file":           "tf1",
	"vrrp_track_file":      "vtf1",
	"vrrp_track_process":   "proc1",
	"bfd_instance":         "bfd1",
	"vrrp_sync_group":      "SG1",
	"vrrp_instance":        "VI_1",
	"virtual_server_group": "VSG1",
	"virtual_server":       "192.0.2.1 80",
	"real_server":          "192.0.2.2 80",
}

func blockHeader(f *fieldInfo) []string {
	if n, ok := blockNames[f.kw]; ok && f.kind != kindBlock {
		return strings.Fields(n)
	}
	return nil
}

// kwGen writes keepalived.conf text that sets every field of a block.
type kwGen struct {
	sc    schemas
	b     strings.Builder
	flips int
	omit  map[string]bool // "BLOCK KEYWORD" pairs to leave out
}

// value returns the words for field f of the block at path, and whether the
// keyword is written alone.
func (g *kwGen) value(path string, f *fieldInfo, ft reflect.Type) string {
	last := path[strings.LastIndexByte(path, '/')+1:]
	for _, k := range []string{path + " " + f.kw, last + " " + f.kw, f.kw} {
		if v, ok := keywordValues[k]; ok {
			return v
		}
	}
	switch {
	case ft.Kind() == reflect.Bool:
		return ""
	case ft == reflect.TypeOf((*bool)(nil)):
		// Alternate on (kt writes it back alone) and off (kt writes false).
		g.flips++
		if g.flips%2 == 0 {
			return "on"
		}
		return "off"
	case ft == reflect.TypeOf((*Duration)(nil)):
		switch f.unit {
		case "ms":
			return "20"
		case "us":
			return "2000"
		}
		return "3"
	case ft.Kind() == reflect.Pointer && ft.Elem().Kind() >= reflect.Int && ft.Elem().Kind() <= reflect.Int64:
		return "3"
	case ft == reflect.TypeOf(Script{}), ft == reflect.TypeOf(OptScript{}), ft == reflect.TypeOf(ScriptRef{}):
		return "/bin/true"
	case ft == reflect.TypeOf(Weight{}):
		return "10"
	case ft == reflect.TypeOf(Args{}), ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.String:
		return ""
	}
	return "value1"
}

func (g *kwGen) line(depth int, s string) {
	g.b.WriteString(strings.Repeat("    ", depth))
	g.b.WriteString(s)
	g.b.WriteByte('\n')
}

// block writes the body of a block of type t at path; deep also fills its
// sub-blocks.
func (g *kwGen) block(t reflect.Type, path string, depth int, deep bool) {
	s := g.sc.of(t)
	for i := range s.fields {
		f := &s.fields[i]
		ft := t.FieldByIndex(f.index).Type
		if g.omit[path+" "+f.kw] {
			continue
		}
		sub := f.kw
		if path != "top" {
			sub = path + "/" + f.kw
		}
		kwv := func(v string) string {
			if v == "" {
				return f.kw
			}
			return f.kw + " " + v
		}
		switch f.kind {
		case kindScalar, kindWords:
			g.line(depth, kwv(g.value(path, f, ft)))
		case kindLines:
			if i == s.body {
				g.line(depth, g.value(path, f, ft))
				continue
			}
			g.line(depth, f.kw+" {")
			g.line(depth+1, g.value(path, f, ft))
			g.line(depth, "}")
		case kindBlock, kindBlockList, kindNamed:
			if !deep {
				continue
			}
			g.line(depth, strings.Join(append([]string{f.kw}, blockHeader(f)...), " ")+" {")
			g.block(f.elem, sub, depth+1, deep)
			g.line(depth, "}")
		}
	}
}

// snippet returns keepalived.conf text that opens the block's ancestors and
// sets every field of the block itself (deep: and of every block below it).
func (b modelBlock) snippet(deep bool, omit map[string]bool) string {
	g := &kwGen{sc: schemas{}, omit: omit}
	for i, o := range b.opens {
		g.line(i, o+" {")
	}
	g.block(b.typ, b.path, len(b.opens), deep)
	for i := len(b.opens) - 1; i >= 0; i-- {
		g.line(i, "}")
	}
	return g.b.String()
}

// allKeywordsConf is the keepalived.conf that sets every keyword of every
// block but the model-only ones and net_namespace: with it (and no such
// namespace) keepalived -t checks only what its parent process reads.
func allKeywordsConf() string {
	omit := map[string]bool{"top net_namespace": true}
	for k := range modelOnlyKeywords {
		omit[k] = true
	}
	return "# Generated by TestAllKeywordsFile (go test ./config -run TestAllKeywordsFile -update-keywords).\n" +
		"# It sets every keepalived 2.2.7 keyword kt knows but net_namespace, with plausible values;\n" +
		"# it is not a working configuration.\n" +
		modelBlocks()[0].snippet(true, omit)
}

// unsetFields lists the fields of the block v (not of the blocks below it)
// that a parse left unset.
func unsetFields(sc schemas, v reflect.Value) []string {
	s := sc.of(v.Type())
	var out []string
	for i := range s.fields {
		f := &s.fields[i]
		if f.kind == kindBlock || f.kind == kindBlockList || f.kind == kindNamed {
			continue
		}
		fv := v.FieldByIndex(f.index)
		if fv.IsZero() || (fv.Kind() == reflect.Slice && fv.Len() == 0) {
			out = append(out, f.kw)
		}
	}
	return out
}

// findBlock returns the (first) block at path in c.
func findBlock(sc schemas, c *Config, path string) (reflect.Value, bool) {
	v := reflect.ValueOf(c).Elem()
	if path == "top" {
		return v, true
	}
	for _, kw := range strings.Split(path, "/") {
		f := sc.of(v.Type()).byKW[kw]
		if f == nil {
			return reflect.Value{}, false
		}
		fv := v.FieldByIndex(f.index)
		switch f.kind {
		case kindBlock:
			if fv.IsNil() {
				return reflect.Value{}, false
			}
			v = fv.Elem()
		case kindBlockList:
			if fv.Len() == 0 {
				return reflect.Value{}, false
			}
			v = fv.Index(0).Elem()
		case kindNamed:
			if fv.Len() == 0 {
				return reflect.Value{}, false
			}
			v = fv.MapIndex(fv.MapKeys()[0]).Elem()
		}
	}
	return v, true
}

// TestEveryKeywordRoundTrips sets every field of every block, one block at a
// time, and checks that keepalived.conf and TOML both read it, write it and
// read it back the same.
func TestEveryKeywordRoundTrips(t *testing.T) {
	blocks := modelBlocks()
	blocks = append(blocks, blocks[0]) // the last: every block at once
	for i, b := range blocks {
		all := i == len(blocks)-1
		name := b.path
		if all {
			name = "all"
		}
		t.Run(name, func(t *testing.T) {
			src := b.snippet(all, nil)
			c, diags, err := ParseKeepalivedBytes("in.conf", []byte(src), ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(diags) > 0 {
				t.Fatalf("diagnostics:\n%v\ninput:\n%s", diags, src)
			}
			sc := schemas{}
			if !all {
				v, ok := findBlock(sc, c, b.path)
				if !ok {
					t.Fatalf("block %s not found after parsing:\n%s", b.path, src)
				}
				if unset := unsetFields(sc, v); len(unset) > 0 {
					t.Errorf("fields left unset: %s\ninput:\n%s", strings.Join(unset, " "), src)
				}
			}

			var ka bytes.Buffer
			if err := WriteKeepalived(&ka, c); err != nil {
				t.Fatal(err)
			}
			c2, diags, err := ParseKeepalivedBytes("out.conf", ka.Bytes(), ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(diags) > 0 || !Equal(c, c2) {
				t.Errorf("keepalived.conf written by kt does not read back the same (diagnostics: %v)\ninput:\n%s\noutput:\n%s", diags, src, ka.String())
			}

			var tm bytes.Buffer
			if err := WriteTOML(&tm, c); err != nil {
				t.Fatal(err)
			}
			c3, diags := ParseTOML("out.toml", tm.Bytes())
			if len(diags) > 0 || c3 == nil || !Equal(c, c3) {
				t.Errorf("TOML written by kt does not read back the same (diagnostics: %v)\ninput:\n%s\nTOML:\n%s", diags, src, tm.String())
			}
		})
	}
}

// TestAllKeywordsFile keeps testdata/keywords/all-keywords.conf in step with
// the model and the plausible values above.
func TestAllKeywordsFile(t *testing.T) {
	want := allKeywordsConf()
	if *updateKeywords {
		if err := os.WriteFile(allKeywordsFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(allKeywordsFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date; run go test ./config -run TestAllKeywordsFile -update-keywords", allKeywordsFile)
	}
}

// kaTestMessages runs `keepalived -t -f path` and returns its messages with
// file names and line numbers taken out, sorted, and its exit status last.
func kaTestMessages(t *testing.T, ka, path string) []string {
	t.Helper()
	code, msgs := keepalivedCheck(t, ka, path)
	return append(msgs, fmt.Sprintf("exit status %d", code))
}

// TestKeepalivedReadsWrittenFormAlike runs keepalived -t, when it is
// installed, on all-keywords.conf and on kt's rewrite of it: keepalived must
// say the same about both.
func TestKeepalivedReadsWrittenFormAlike(t *testing.T) {
	ka := testenv.LookPath(t, "keepalived", "apt-get install keepalived")
	c, diags, err := ParseKeepalived(allKeywordsFile, ParseOptions{})
	if err != nil || len(diags) > 0 {
		t.Fatalf("parse %s: %v %v", allKeywordsFile, err, diags)
	}
	var out bytes.Buffer
	if err := WriteKeepalived(&out, c); err != nil {
		t.Fatal(err)
	}
	written := filepath.Join(t.TempDir(), "written.conf")
	if err := os.WriteFile(written, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(allKeywordsFile)
	if err != nil {
		t.Fatal(err)
	}
	orig := kaTestMessages(t, ka, abs)
	got := kaTestMessages(t, ka, written)
	if !reflect.DeepEqual(orig, got) {
		t.Errorf("keepalived -t says different things about kt's rewrite:\noriginal:\n%s\nrewrite:\n%s", strings.Join(orig, "\n"), strings.Join(got, "\n"))
	}
	t.Logf("keepalived -t on %s:\n%s", allKeywordsFile, strings.Join(orig, "\n"))
}

// TestKeywordsWrittenAlone checks the keywords whose value may be left out:
// what the model holds for them and that both formats keep that.
func TestKeywordsWrittenAlone(t *testing.T) {
	src := `net_namespace_ipvs
global_defs {
    max_auto_priority
    reload_file
    dynamic_interfaces
}
vrrp_track_process p {
    param_match
}
vrrp_instance VI_1 {
    notify_deleted
    use_vmac
}
virtual_server 192.0.2.1 80 {
    persistence_timeout
    real_server 192.0.2.2 80 {
        inhibit_on_failure
        UDP_CHECK {
            require_reply
        }
    }
}
`
	c, diags, err := ParseKeepalivedBytes("alone.conf", []byte(src), ParseOptions{})
	if err != nil || len(diags) > 0 {
		t.Fatalf("parse: %v %v", err, diags)
	}
	g, in, vs := c.Global, c.Instances["VI_1"], c.VirtualServers[0]
	rs := vs.RealServers[0]
	for _, x := range []struct {
		kw string
		ok bool
	}{
		{"net_namespace_ipvs", c.NetNamespaceIPVS != nil && *c.NetNamespaceIPVS == ""},
		{"max_auto_priority", g.MaxAutoPriority != nil && *g.MaxAutoPriority == 99},
		{"reload_file", g.ReloadFile != nil && *g.ReloadFile == ""},
		{"dynamic_interfaces", g.DynamicInterfaces.Set && len(g.DynamicInterfaces.Args) == 0},
		{"param_match", c.TrackProcesses["p"].ParamMatch != nil && *c.TrackProcesses["p"].ParamMatch == ""},
		{"notify_deleted", in.NotifyDeleted.Set && in.NotifyDeleted.Script.Cmd == ""},
		{"use_vmac", in.UseVMAC.Set && len(in.UseVMAC.Args) == 0},
		{"persistence_timeout", vs.PersistenceTimeout != nil && vs.PersistenceTimeout.D().Seconds() == 360},
		{"inhibit_on_failure", rs.InhibitOnFailure != nil && *rs.InhibitOnFailure},
		{"require_reply", rs.UDPCheck()[0].RequireReply.Set && len(rs.UDPCheck()[0].RequireReply.Args) == 0},
	} {
		if !x.ok {
			t.Errorf("%s written alone: wrong value in the model", x.kw)
		}
	}
	var ka, tm bytes.Buffer
	if err := WriteKeepalived(&ka, c); err != nil {
		t.Fatal(err)
	}
	if c2, diags, err := ParseKeepalivedBytes("out.conf", ka.Bytes(), ParseOptions{}); err != nil || len(diags) > 0 || !Equal(c, c2) {
		t.Errorf("keepalived.conf does not read back the same (%v %v):\n%s", err, diags, ka.String())
	}
	if err := WriteTOML(&tm, c); err != nil {
		t.Fatal(err)
	}
	if c3, diags := ParseTOML("out.toml", tm.Bytes()); len(diags) > 0 || c3 == nil || !Equal(c, c3) {
		t.Errorf("TOML does not read back the same (%v):\n%s", diags, tm.String())
	}
	for _, want := range []string{"notify_deleted\n", "param_match\n", "reload_file\n", "use_vmac\n", "require_reply\n"} {
		if !strings.Contains(ka.String(), want) {
			t.Errorf("written keepalived.conf lacks %q:\n%s", want, ka.String())
		}
	}
}
