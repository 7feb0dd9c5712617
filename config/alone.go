package config

import (
	"reflect"
	"strings"
	"unsafe"
)

// A keyword that takes a value, written without one, is read by
// keepalived's handler for it, and the handlers differ: most read the
// missing word and keepalived exits (null_strvec in lib/parser.c; kt
// refuses the file: parser.missingParam); many count the words first, say
// so in words of their own and carry on without the line; a few say
// nothing. aloneRules lists the keywords that do not exit, and those that
// do where kt's reading of the value's type would not (a value type that
// cannot be empty returns errNoValue: Script, Endpoint), each as keepalived
// 2.2.7 -t was measured to read it (TestKeywordAlone, on every keyword of
// testdata/keywords/keepalived-2.2.7.txt) and as its handler reads it.

// aloneRule is keepalived's reading of one keyword written alone.
type aloneRule struct {
	// msgs are keepalived's messages, in order: %[1]s is the name of the
	// block the keyword is in (nameOf's, if set), %[2]s as many spaces as
	// that name is longer than two characters (keepalived pads a second
	// line under the first).
	msgs []string
	// fatal: keepalived exits after the messages (null_strvec).
	fatal bool
	// fatalIf: the keyword of the same block which, when it is already
	// set, makes the handler read the value, and keepalived exit.
	fatalIf string
	// bare is the value keepalived reads the line as; without one, the
	// line sets nothing.
	bare string
	// note is kt's word on a line keepalived reads without a message it
	// shows (a log message at a level keepalived -t does not print).
	note string
	// nameOf returns the name for msgs from the block, when it is not
	// the block's own name.
	nameOf func(block unsafe.Pointer) string
}

// aloneRules are keyed by the model type of the block and the keyword.
var aloneRules = map[string]*aloneRule{
	"Config.net_namespace": {msgs: []string{"net_namespace name missing - ignoring"}},
	"Config.instance":      {msgs: []string{"instance name missing - ignoring"}},

	"GlobalDefs.router_id":                     {msgs: []string{"routerid name missing - ignoring"}},
	"GlobalDefs.notification_email_from":       {msgs: []string{"emailfrom missing - ignoring"}},
	"GlobalDefs.smtp_helo_name":                {note: "smtp_helo_name without a name is ignored (keepalived says nothing)"},
	"GlobalDefs.startup_script":                {msgs: []string{"startup script missing"}},
	"GlobalDefs.startup_script_timeout":        {msgs: []string{"startup_script_timeout requires value"}},
	"GlobalDefs.shutdown_script":               {msgs: []string{"shutdown script missing"}},
	"GlobalDefs.shutdown_script_timeout":       {msgs: []string{"shutdown_script_timeout requires value"}},
	"GlobalDefs.min_auto_priority_delay":       {msgs: []string{"min_auto_priority_delay requires delay time"}},
	"GlobalDefs.default_interface":             {msgs: []string{"default_interface requires interface name"}},
	"GlobalDefs.lvs_timeouts":                  {msgs: []string{"lvs_timeouts requires at least one option"}},
	"GlobalDefs.vrrp_garp_extra_if":            {msgs: []string{"vrrp_garp_extra_if specified without time - ignoring"}},
	"GlobalDefs.vrrp_vmac_garp_intvl":          {msgs: []string{`Keyword "vrrp_vmac_garp_intvl" is deprecated - please use "vrrp_garp_extra_if"`, "vrrp_vmac_garp_intvl specified without time - ignoring"}},
	"GlobalDefs.vrrp_priority":                 {msgs: []string{"No vrrp process priority specified"}},
	"GlobalDefs.vrrp_rt_priority":              {msgs: []string{"No vrrp process real-time priority specified"}},
	"GlobalDefs.vrrp_cpu_affinity":             {msgs: []string{"No vrrp cpu_id set specified"}},
	"GlobalDefs.checker_priority":              {msgs: []string{"No checker process priority specified"}},
	"GlobalDefs.checker_rt_priority":           {msgs: []string{"No checker process real-time priority specified"}},
	"GlobalDefs.checker_cpu_affinity":          {msgs: []string{"No checker cpu_id set specified"}},
	"GlobalDefs.bfd_priority":                  {msgs: []string{"No bfd process priority specified"}},
	"GlobalDefs.bfd_rt_priority":               {msgs: []string{"No bfd process real-time priority specified"}},
	"GlobalDefs.bfd_cpu_affinity":              {msgs: []string{"No bfd cpu_id set specified"}},
	"GlobalDefs.notify_fifo":                   {msgs: []string{"No notify_fifo name specified"}},
	"GlobalDefs.notify_fifo_script":            {msgs: []string{"No notify_fifo_script specified"}},
	"GlobalDefs.vrrp_notify_fifo":              {msgs: []string{"No vrrp_notify_fifo name specified"}},
	"GlobalDefs.vrrp_notify_fifo_script":       {msgs: []string{"No vrrp_notify_fifo_script specified"}},
	"GlobalDefs.lvs_notify_fifo":               {msgs: []string{"No lvs_notify_fifo name specified"}},
	"GlobalDefs.lvs_notify_fifo_script":        {msgs: []string{"No lvs_notify_fifo_script specified"}},
	"GlobalDefs.snmp_socket":                   {msgs: []string{"SNMP error : snmp socket name missing"}},
	"GlobalDefs.dbus_service_name":             {msgs: []string{"dbus_service_name missing - ignoring"}},
	"GlobalDefs.script_user":                   {msgs: []string{"No script username specified"}},
	"GlobalDefs.vrrp_netlink_cmd_rcv_bufs":     {msgs: []string{"vrrp_netlink_cmd_rcv_bufs size missing"}},
	"GlobalDefs.vrrp_netlink_monitor_rcv_bufs": {msgs: []string{"vrrp_netlink_monitor_rcv_bufs size missing"}},
	"GlobalDefs.process_monitor_rcv_bufs":      {msgs: []string{"process_monitor_rcv_bufs size missing"}},
	"GlobalDefs.lvs_netlink_cmd_rcv_bufs":      {msgs: []string{"lvs_netlink_cmd_rcv_bufs size missing"}},
	"GlobalDefs.lvs_netlink_monitor_rcv_bufs":  {msgs: []string{"lvs_netlink_monitor_rcv_bufs size missing"}},
	"GlobalDefs.vrrp_rx_bufs_policy":           {msgs: []string{"vrrp_rx_bufs_policy missing"}},
	"GlobalDefs.vrrp_rx_bufs_multiplier":       {msgs: []string{"Invalid vrrp_rx_bufs_multiplier"}},
	"GlobalDefs.reload_time_file":              {msgs: []string{"reload_time_file invalid"}},
	"GlobalDefs.tmp_config_directory":          {msgs: []string{"tmp_config_directory missing directory name"}},

	"Instance.garp_extra_if":             {msgs: []string{"(%[1]s): garp_extra_if specified without time - ignoring"}},
	"Instance.vmac_garp_intvl":           {msgs: []string{`Keyword "vmac_garp_intvl" is deprecated - please use "garp_extra_if"`, "(%[1]s): vmac_garp_intvl specified without time - ignoring"}},
	"Instance.kernel_rx_buf_size":        {msgs: []string{"(%[1]s) invalid kernel_rx_buf_size specified"}},
	"Instance.lvs_sync_daemon_interface": {msgs: []string{"(%[1]s) Specifying lvs_sync_daemon_interface against a vrrp is deprecated.", "      %[2]sPlease use global lvs_sync_daemon"}, fatal: true},
	"VRRPScript.script":                  {note: "script without a command: the script is not set (keepalived says nothing)"},
	"VRRPScript.user":                    {fatal: true},
	"TrackProcess.process":               {fatal: true},
	"TrackProcess.weight":                {msgs: []string{"No weight specified for track process %[1]s - ignoring"}},
	"TrackFile.file":                     {msgs: []string{"track file file name missing"}},
	"TrackFile.weight":                   {msgs: []string{"No weight specified for track file %[1]s - ignoring"}},

	"SSLDefs.password":    {msgs: []string{"SSL password missing"}},
	"SSLDefs.ca":          {msgs: []string{"SSL cafile missing"}},
	"SSLDefs.certificate": {msgs: []string{"SSL certfile missing"}},
	"SSLDefs.key":         {msgs: []string{"SSL keyfile missing"}},

	"VirtualServer.virtualhost":             {msgs: []string{"virtual server virtualhost missing"}},
	"VirtualServer.snmp_name":               {msgs: []string{"virtual server snmp_name missing or extra parameters"}},
	"VirtualServer.sorry_server_lvs_method": {msgs: []string{"sorry_server forwarding used without sorry_server"}, fatalIf: "sorry_server"},
	"RealServer.virtualhost":                {msgs: []string{"real server virtualhost missing"}},
	"RealServer.snmp_name":                  {msgs: []string{"real server snmp_name missing or extra parameters"}},
	"MiscCheck.misc_path":                   {note: "misc_path without a command: the script is not set (keepalived says nothing)"},
	"MiscCheck.user": {msgs: []string{"No user specified for misc checker script %[1]s"}, nameOf: func(b unsafe.Pointer) string {
		return (*MiscCheck)(b).MiscPath.Cmd
	}},
	"SMTPCheck.helo_name":     {msgs: []string{"SMTP_CHECK helo name missing"}},
	"UDPCheck.payload":        {msgs: []string{"UDP_CHECK payload requires a payload"}},
	"HTTPCheck.nb_get_retry":  {msgs: []string{"nb_get_retry is deprecated - please use 'retry'"}, fatal: true},
	"HTTPCheck.virtualhost":   {msgs: []string{"HTTP_GET virtualhost name missing"}},
	"HTTPCheck.http_protocol": {msgs: []string{"Missing http_protocol version"}},
	"URLCheck.virtualhost":    {msgs: []string{"Missing HTTP_GET virtualhost name"}},
	"URLCheck.regex":          {note: "regex missing or too many fields (the url has no regex, as in keepalived)"},
	// regex_offset_handler returns 0 for a missing value, and the max
	// handler adds its one.
	"URLCheck.regex_min_offset": {bare: "0", note: "Missing or too may options for regex_min_offset (read as 0, as keepalived reads it)"},
	"URLCheck.regex_max_offset": {bare: "0", note: "Missing or too may options for regex_max_offset (read as 0, as keepalived reads it)"},
	"FileCheck.weight":          {msgs: []string{"track file weight missing"}},
}

// aloneRuleOf returns the rule for the keyword kw of blocks of type t.
func aloneRuleOf(t reflect.Type, kw string) *aloneRule {
	if t.Name() == "" {
		return nil
	}
	return aloneRules[t.Name()+"."+kw]
}

// alone reads the keyword kw of the block b, written without a value, by
// its rule, and reports whether it did (false: the keyword's own reading
// goes on, with bare's value when the rule has one).
func (p *parser) alone(b blockRef, f *fieldInfo, kw string, pos Pos, where string) (done bool, args []string) {
	r := f.alone
	if r.fatalIf != "" {
		if g := p.sc.of(b.t).field(r.fatalIf); g != nil && !reflect.NewAt(b.t, b.at).Elem().FieldByIndex(g.index).IsZero() {
			p.missingParam(pos, kw)
			return true, nil
		}
	}
	name := blockName(where)
	if r.nameOf != nil {
		name = r.nameOf(b.at)
	}
	pad := strings.Repeat(" ", max(len(name)-2, 0))
	for _, m := range r.msgs {
		p.carryMsg(pos, m, name, pad)
	}
	if r.note != "" {
		p.sink.warnf(pos, "%s", r.note)
	}
	switch {
	case r.fatal:
		p.missingParam(pos, kw)
	case r.bare != "":
		return false, []string{r.bare}
	}
	return true, nil
}

// blockName is the name in a block's where ("vrrp_instance VI_1": VI_1),
// or where itself for a block without one.
func blockName(where string) string {
	if _, n, ok := strings.Cut(where, " "); ok {
		return n
	}
	return where
}

// carryMsg reports one of keepalived's messages from a table: a format
// with %[1]s and %[2]s for a and b, or a fixed text.
func (p *parser) carryMsg(pos Pos, m, a, b string) {
	if strings.Contains(m, "%[") {
		p.sink.carryf(pos, m, a, b)
	} else {
		p.sink.carryf(pos, "%s", m)
	}
}
