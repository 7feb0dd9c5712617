package config

import (
	"reflect"
	"slices"
	"sort"
	"strings"
)

// notRunReasons are the keywords kt reads (and writes back on conversion)
// but does not act on, by block, with why. --check names each one a
// configuration sets, so that nothing keepalived would do is dropped
// without a word. Keywords with a message of their own elsewhere
// (vrrp_iptables, track_group) are not listed.
var notRunReasons = map[reflect.Type]map[string]string{
	reflect.TypeOf(Config{}): {
		"net_namespace":            "run kt under ip netns exec instead",
		"net_namespace_ipvs":       "not implemented",
		"namespace_with_ipsets":    "kt uses no ipsets",
		"use_pid_dir":              "kt's pid files are given on its command line",
		"child_wait_time":          "kt is one process",
		"linkbeat_use_polling":     "kt follows links through netlink",
		"linkbeat_interfaces":      "kt follows links through netlink",
		"interface_up_down_delays": "not implemented",
	},
	reflect.TypeOf(GlobalDefs{}): {
		"process_names":                       "kt is one process",
		"process_name":                        "kt is one process",
		"vrrp_process_name":                   "kt is one process",
		"checker_process_name":                "kt is one process",
		"lvs_process_name":                    "kt is one process",
		"bfd_process_name":                    "kt is one process",
		"max_auto_priority":                   "kt sets no real-time priority",
		"min_auto_priority_delay":             "kt sets no real-time priority",
		"checker_log_all_failures":            logAllFailuresReason,
		"dynamic_interfaces":                  "not implemented",
		"lvs_timeouts":                        "not implemented",
		"umask":                               "not implemented: kt makes its files with modes of its own",
		"lvs_flush":                           "not implemented: kt changes only its own IPVS entries",
		"lvs_flush_on_stop":                   "not implemented: kt removes its own IPVS entries on stop",
		"lvs_flush_onstop":                    "not implemented: kt removes its own IPVS entries on stop",
		"nftables_priority":                   "not implemented",
		"nftables_ifindex":                    "not implemented",
		"nftables_ipvs":                       "not implemented",
		"nftables_ipvs_priority":              "not implemented",
		"nftables_ipvs_start_fwmark":          "not implemented",
		"nftables_counters":                   "not implemented",
		"vrrp_rx_bufs_policy":                 "kt sizes its own buffers",
		"vrrp_rx_bufs_multiplier":             "kt sizes its own buffers",
		"log_unknown_vrids":                   "not implemented",
		"vrrp_priority":                       "kt sets no process priority",
		"vrrp_no_swap":                        "kt does not lock its memory",
		"vrrp_rt_priority":                    "kt sets no real-time priority",
		"vrrp_cpu_affinity":                   "kt sets no CPU affinity",
		"vrrp_rlimit_rttime":                  "kt sets no real-time priority",
		"vrrp_rlimit_rtime":                   "kt sets no real-time priority",
		"checker_priority":                    "kt sets no process priority",
		"checker_no_swap":                     "kt does not lock its memory",
		"checker_rt_priority":                 "kt sets no real-time priority",
		"checker_cpu_affinity":                "kt sets no CPU affinity",
		"checker_rlimit_rttime":               "kt sets no real-time priority",
		"checker_rlimit_rtime":                "kt sets no real-time priority",
		"bfd_priority":                        "kt sets no process priority",
		"bfd_no_swap":                         "kt does not lock its memory",
		"bfd_rt_priority":                     "kt sets no real-time priority",
		"bfd_cpu_affinity":                    "kt sets no CPU affinity",
		"bfd_rlimit_rttime":                   "kt sets no real-time priority",
		"bfd_rlimit_rtime":                    "kt sets no real-time priority",
		"snmp_socket":                         "no SNMP: kt status --json and the metrics listener",
		"enable_traps":                        "no SNMP: kt status --json and the metrics listener",
		"enable_snmp_vrrp":                    "no SNMP: kt status --json and the metrics listener",
		"enable_snmp_keepalived":              "no SNMP: kt status --json and the metrics listener",
		"enable_snmp_rfc":                     "no SNMP: kt status --json and the metrics listener",
		"enable_snmp_rfcv2":                   "no SNMP: kt status --json and the metrics listener",
		"enable_snmp_rfcv3":                   "no SNMP: kt status --json and the metrics listener",
		"enable_snmp_checker":                 "no SNMP: kt status --json and the metrics listener",
		"enable_dbus":                         "no D-Bus: the control socket and kt status",
		"dbus_service_name":                   "no D-Bus: the control socket and kt status",
		"vrrp_netlink_cmd_rcv_bufs":           "kt sizes its own buffers",
		"vrrp_netlink_cmd_rcv_bufs_force":     "kt sizes its own buffers",
		"vrrp_netlink_monitor_rcv_bufs":       "kt sizes its own buffers",
		"vrrp_netlink_monitor_rcv_bufs_force": "kt sizes its own buffers",
		"process_monitor_rcv_bufs":            "kt sizes its own buffers",
		"process_monitor_rcv_bufs_force":      "kt sizes its own buffers",
		"lvs_netlink_cmd_rcv_bufs":            "kt sizes its own buffers",
		"lvs_netlink_cmd_rcv_bufs_force":      "kt sizes its own buffers",
		"lvs_netlink_monitor_rcv_bufs":        "kt sizes its own buffers",
		"lvs_netlink_monitor_rcv_bufs_force":  "kt sizes its own buffers",
		"random_seed":                         "not implemented",
		"reload_check_config":                 "kt always checks a configuration before a reload uses it",
		"reload_time_file":                    "not implemented",
		"reload_repeat":                       "not implemented",
		"include_check":                       "not implemented",
		"config_save_dir":                     "not implemented",
		"tmp_config_directory":                "not implemented",
		"data_use_instance":                   "not implemented",
	},
	reflect.TypeOf(Instance{}): {
		"vrf":                  "not implemented",
		"use_ipvlan":           "not implemented",
		"native_ipv6":          "not implemented",
		"linkbeat_use_polling": "kt follows links through netlink",
		"mcast_dst_ip":         "not implemented",
		"track_src_ip":         "not implemented",
		"old_unicast_checksum": "not implemented",
		"kernel_rx_buf_size":   "kt sizes its own buffers",
	},
	reflect.TypeOf(VirtualServer{}): {
		"ha_suspend": "not implemented",
		"snmp_name":  "no SNMP",
	},
	reflect.TypeOf(RealServer{}): {
		"snmp_name": "no SNMP",
	},
	reflect.TypeOf(URLCheck{}): {
		"regex_stack": "kt's regex matcher has no PCRE2 JIT stack to size",
	},
}

// logAllFailuresReason is why kt does not run checker_log_all_failures,
// nor a checker's log_all_failures (checkCommon).
const logAllFailuresReason = "not implemented: kt logs state changes"

// notRunMsg is the warning for a keyword kt reads and does not act on.
func notRunMsg(key, reason string) string {
	return key + ": kt does not do this (" + reason + "); it is ignored"
}

// notRun warns about every keyword set in the configuration that kt does
// not act on (notRunReasons), at its line.
func (v *validator) notRun() {
	// The listed fields of each type are found once per check, not once
	// per block: reading struct tags for each of 40,000 real servers was a
	// third of a large check's CPU time.
	nr := notRunFields{}
	nr.warn(v, reflect.ValueOf(v.c).Elem(), v.c.Pos)
	if g := v.c.Global; g != nil {
		nr.warn(v, reflect.ValueOf(g).Elem(), g.Pos)
	}
	for _, name := range sortedKeys(v.c.Instances) {
		in := v.c.Instances[name]
		nr.warn(v, reflect.ValueOf(in).Elem(), in.Pos)
	}
	// The fields of the three types met 70,000 times on bench/convert.sh's
	// file are looked up once, not for each block.
	vsFields := nr.of(reflect.TypeFor[VirtualServer]())
	rsFields := nr.of(reflect.TypeFor[RealServer]())
	urlFields := nr.of(reflect.TypeFor[URLCheck]())
	// A real server's listed fields that are out of line (RealServerExtra)
	// are all unset when it has none: no reflection for it.
	rsInline := slices.ContainsFunc(rsFields, func(f notRunField) bool { return len(f.index) == 1 })
	for _, vs := range v.c.VirtualServers {
		warnFields(v, vsFields, reflect.ValueOf(vs).Elem(), vs.Pos)
		for _, rs := range vs.RealServers {
			if rsInline || rs.RealServerExtra != nil {
				warnFields(v, rsFields, reflect.ValueOf(rs).Elem(), rs.Pos)
			}
			for _, hs := range [2][]*HTTPCheck{rs.HTTPGet, rs.SSLGet()} {
				for _, h := range hs {
					for _, u := range h.URLs {
						warnFields(v, urlFields, reflect.ValueOf(u).Elem(), u.Pos)
					}
				}
			}
		}
	}
}

// notRunField is a field of a struct type that notRunReasons lists.
type notRunField struct {
	index       []int
	typ         reflect.Type
	key, reason string
}

// notRunFields holds, by struct type, its listed fields sorted by keyword.
type notRunFields map[reflect.Type][]notRunField

// of returns t's listed fields, finding them on first use.
func (nr notRunFields) of(t reflect.Type) []notRunField {
	if fs, ok := nr[t]; ok {
		return fs
	}
	reasons := notRunReasons[t]
	var fs []notRunField
	if len(reasons) > 0 {
		for _, f := range reflect.VisibleFields(t) {
			key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			// Its own fields, and those out of line (RealServerExtra).
			own := len(f.Index) == 1 || t.Field(f.Index[0]).Type.Kind() == reflect.Pointer
			if r, ok := reasons[key]; ok && own && !f.Anonymous {
				fs = append(fs, notRunField{f.Index, f.Type, key, r})
			}
		}
		sort.Slice(fs, func(a, b int) bool { return fs[a].key < fs[b].key })
	}
	nr[t] = fs
	return fs
}

// warn warns about the fields of the struct sv that are set and listed for
// its type, in keyword order.
func (nr notRunFields) warn(v *validator, sv reflect.Value, p Pos) {
	warnFields(v, nr.of(sv.Type()), sv, p)
}

// warnFields warns about the fields fs (listed for sv's type) of the
// struct sv that are set, in keyword order.
func warnFields(v *validator, fs []notRunField, sv reflect.Value, p Pos) {
	for _, f := range fs {
		if !fieldOf(sv, f.index, f.typ).IsZero() {
			v.warnf(p.Of(f.key), "%s", notRunMsg(f.key, f.reason))
		}
	}
}
