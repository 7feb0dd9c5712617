package config

import (
	"strconv"
	"strings"
)

// VSGroup is a virtual_server_group block: addresses, address ranges and
// fwmarks (GroupMember), each read once and kept with its words.
type VSGroup struct {
	Pos      Pos           `toml:"-"`
	Name     string        `toml:"-"`
	Members  []GroupMember `toml:"members,omitempty" ka:"-,body"`
	Unparsed Unparsed      `toml:"unparsed,omitempty" ka:",unparsed"`
}

// VirtualServer is a virtual_server block, addressed in one of three ways:
// ADDR PORT, fwmark N, or group NAME.
type VirtualServer struct {
	Pos Pos `toml:"-"`

	Address *Endpoint `toml:"address,omitempty" ka:"-"`
	FWMark  *int      `toml:"fwmark,omitempty" ka:"-"`
	Group   string    `toml:"group,omitempty" ka:"-"`

	IPFamily               string    `toml:"ip_family,omitempty"`
	Retry                  *int      `toml:"retry,omitempty"`
	DelayBeforeRetry       *Duration `toml:"delay_before_retry,omitempty"`
	Warmup                 *Duration `toml:"warmup,omitempty"`
	ConnectTimeout         *Duration `toml:"connect_timeout,omitempty"`
	DelayLoop              *Duration `toml:"delay_loop,omitempty"`
	InhibitOnFailure       bool      `toml:"inhibit_on_failure,omitempty"`
	LBAlgo                 string    `toml:"lb_algo,omitempty"`
	LVSSched               string    `toml:"lvs_sched,omitempty"` // synonym of lb_algo
	Hashed                 bool      `toml:"hashed,omitempty"`
	OPS                    bool      `toml:"ops,omitempty"`
	Flag1                  bool      `toml:"flag-1,omitempty"`
	Flag2                  bool      `toml:"flag-2,omitempty"`
	Flag3                  bool      `toml:"flag-3,omitempty"`
	SHPort                 bool      `toml:"sh-port,omitempty"`
	SHFallback             bool      `toml:"sh-fallback,omitempty"`
	MHPort                 bool      `toml:"mh-port,omitempty"`
	MHFallback             bool      `toml:"mh-fallback,omitempty"`
	LBKind                 Text      `toml:"lb_kind,omitempty"`    // NAT|DR|TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]
	LVSMethod              Text      `toml:"lvs_method,omitempty"` // synonym of lb_kind
	PersistenceEngine      string    `toml:"persistence_engine,omitempty"`
	PersistenceTimeout     *Duration `toml:"persistence_timeout,omitempty" ka:",bare=360"` // whole seconds
	PersistenceGranularity string    `toml:"persistence_granularity,omitempty"`
	Protocol               string    `toml:"protocol,omitempty"`
	HASuspend              bool      `toml:"ha_suspend,omitempty"`
	SMTPAlert              *bool     `toml:"smtp_alert,omitempty"`
	Virtualhost            string    `toml:"virtualhost,omitempty"`
	SNMPName               string    `toml:"snmp_name,omitempty"`
	Alpha                  bool      `toml:"alpha,omitempty"`
	Omega                  bool      `toml:"omega,omitempty"`
	QuorumUp               ScriptRef `toml:"quorum_up,omitempty"`
	QuorumDown             ScriptRef `toml:"quorum_down,omitempty"`
	Quorum                 *int      `toml:"quorum,omitempty" ka:",lenient=u:1:4294967295,badas=1"`
	Hysteresis             *int      `toml:"hysteresis,omitempty" ka:",lenient=u:0:4294967295"`
	Weight                 *int      `toml:"weight,omitempty" ka:",lenient=u:1:2147483647"`
	SorryServer            Endpoint  `toml:"sorry_server,omitempty"`
	SorryServerInhibit     bool      `toml:"sorry_server_inhibit,omitempty"`
	SorryServerLVSMethod   Text      `toml:"sorry_server_lvs_method,omitempty"` // as lb_kind

	RealServers []*RealServer `toml:"real_server,omitempty"`

	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

func (vs *VirtualServer) parseHeader(w []string) error {
	// keepalived reads the first two words (alloc_vs) and ignores the
	// rest; the port may be left out (port 0, as keepalived has allowed
	// since 2.0.7).
	var extra error
	if len(w) > 2 {
		extra, w = extraWords(w[2:]), w[:2]
	}
	switch {
	case len(w) == 0:
		return errNoValue // vs_handler reads the address (null_strvec)
	case len(w) == 1 && (w[0] == "fwmark" || w[0] == "group"):
		return errorf("want ADDRESS [PORT], fwmark N or group NAME")
	case w[0] == "fwmark":
		n, err := strconv.Atoi(w[1])
		if err != nil {
			return errorf("invalid fwmark %q", w[1])
		}
		vs.FWMark = &n
	case w[0] == "group":
		vs.Group = w[1]
	default:
		ep := &Endpoint{}
		if err := ep.parseWords(w); err != nil {
			return err
		}
		vs.Address = ep
	}
	return extra
}

func (vs *VirtualServer) formatHeader() []string {
	switch {
	case vs.FWMark != nil:
		return []string{"fwmark", strconv.Itoa(*vs.FWMark)}
	case vs.Group != "":
		return []string{"group", vs.Group}
	case vs.Address != nil:
		return []string{vs.Address.Host, strconv.Itoa(vs.Address.Port)}
	}
	return nil
}

// Describe names the virtual server the way keepalived's messages do:
// "[192.0.2.1]:tcp:80", "FWM 1" or "group NAME".
func (vs *VirtualServer) Describe() string {
	switch {
	case vs.FWMark != nil:
		return "FWM " + strconv.Itoa(*vs.FWMark)
	case vs.Group != "":
		return "group " + vs.Group
	case vs.Address != nil:
		var buf [96]byte
		b := append(buf[:0], '[')
		b = append(b, vs.Address.Host...)
		b = append(b, "]:"...)
		switch p := vs.EffectiveProtocol(); p {
		case "TCP":
			b = append(b, "tcp"...)
		case "UDP":
			b = append(b, "udp"...)
		default:
			b = append(b, strings.ToLower(p)...)
		}
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(vs.Address.Port), 10)
		return string(b)
	}
	return "virtual_server"
}

// RealServer is a real_server block inside a virtual server.
//
// The keywords most real servers are written with are fields of their own;
// the others (RealServerExtra) are out of line, allocated when one of them
// is written: bench/convert.sh's file has 40,000 real servers, and the
// fields a real server rarely sets cost 256 bytes each inline. Read them
// with the methods of the same names (rs.SSLGet()), which give the zero
// value when none is set, and set them through Extra.
type RealServer struct {
	Pos     Pos      `toml:"-"`
	Address Endpoint `toml:"address" ka:"-"`

	Weight           *int      `toml:"weight,omitempty" ka:",lenient=u:0:2147483647"`
	LVSMethod        Text      `toml:"lvs_method,omitempty"` // as the virtual server's lb_kind
	InhibitOnFailure *bool     `toml:"inhibit_on_failure,omitempty"`
	Alpha            *bool     `toml:"alpha,omitempty"`
	UThreshold       *int      `toml:"uthreshold,omitempty" ka:",lenient=u:0:4294967295"`
	LThreshold       *int      `toml:"lthreshold,omitempty" ka:",lenient=u:0:4294967295"`
	Retry            *int      `toml:"retry,omitempty"`
	DelayBeforeRetry *Duration `toml:"delay_before_retry,omitempty"`
	ConnectTimeout   *Duration `toml:"connect_timeout,omitempty"`
	DelayLoop        *Duration `toml:"delay_loop,omitempty"`

	HTTPGet  []*HTTPCheck `toml:"http_get,omitempty" ka:"HTTP_GET"`
	TCPCheck []*TCPCheck  `toml:"tcp_check,omitempty" ka:"TCP_CHECK"`

	*RealServerExtra

	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// RealServerExtra holds a real server's rarely written keywords, out of
// line (see RealServer); nil when none is written.
type RealServerExtra struct {
	NotifyUp    ScriptRef `toml:"notify_up,omitempty"`
	NotifyDown  ScriptRef `toml:"notify_down,omitempty"`
	Warmup      *Duration `toml:"warmup,omitempty"`
	SMTPAlert   *bool     `toml:"smtp_alert,omitempty"`
	Virtualhost string    `toml:"virtualhost,omitempty"`
	SNMPName    string    `toml:"snmp_name,omitempty"`

	SSLGet    []*HTTPCheck `toml:"ssl_get,omitempty" ka:"SSL_GET"`
	SMTPCheck []*SMTPCheck `toml:"smtp_check,omitempty" ka:"SMTP_CHECK"`
	DNSCheck  []*DNSCheck  `toml:"dns_check,omitempty" ka:"DNS_CHECK"`
	MiscCheck []*MiscCheck `toml:"misc_check,omitempty" ka:"MISC_CHECK"`
	UDPCheck  []*UDPCheck  `toml:"udp_check,omitempty" ka:"UDP_CHECK"`
	PingCheck []*PingCheck `toml:"ping_check,omitempty" ka:"PING_CHECK"`
	FileCheck []*FileCheck `toml:"file_check,omitempty" ka:"FILE_CHECK"`
	BFDCheck  []*BFDCheck  `toml:"bfd_check,omitempty" ka:"BFD_CHECK"`
}

// keyOrder lists a real server's keys in the order its keywords are
// written out (keepalived.conf and TOML), as they were before the rare ones
// went out of line: the schema sorts the fields by it.
func (*RealServer) keyOrder() []string {
	return []string{
		"weight", "lvs_method", "uthreshold", "lthreshold", "inhibit_on_failure",
		"notify_up", "notify_down", "alpha", "retry", "delay_before_retry", "warmup",
		"connect_timeout", "delay_loop", "smtp_alert", "virtualhost", "snmp_name",
		"http_get", "ssl_get", "tcp_check", "smtp_check", "dns_check", "misc_check",
		"udp_check", "ping_check", "file_check", "bfd_check",
	}
}

// Extra returns the real server's rarely written keywords for setting them,
// allocating them on first use.
func (rs *RealServer) Extra() *RealServerExtra { return allocated(&rs.RealServerExtra) }

// allocated returns *p, allocating a zero T there first if it is nil: the
// setter of a block's keywords out of line (RealServer.Extra and the like).
func allocated[T any](p **T) *T {
	if *p == nil {
		*p = new(T)
	}
	return *p
}

// valueOrZero returns *p, or the zero T when p is nil: the reader of a
// block's keywords out of line.
func valueOrZero[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// HasCheckers reports whether the real server has a checker block of any
// kind.
func (rs *RealServer) HasCheckers() bool {
	if len(rs.HTTPGet)+len(rs.TCPCheck) > 0 {
		return true
	}
	x := rs.RealServerExtra
	return x != nil && len(x.SSLGet)+len(x.SMTPCheck)+len(x.DNSCheck)+len(x.MiscCheck)+
		len(x.UDPCheck)+len(x.PingCheck)+len(x.FileCheck)+len(x.BFDCheck) > 0
}

// extra returns the rarely written keywords for reading (zero when none).
func (rs *RealServer) extra() RealServerExtra { return valueOrZero(rs.RealServerExtra) }

// NotifyUp is the real server's notify_up script (none when not written).
func (rs *RealServer) NotifyUp() ScriptRef { return rs.extra().NotifyUp }

// NotifyDown is the real server's notify_down script (none when not written).
func (rs *RealServer) NotifyDown() ScriptRef { return rs.extra().NotifyDown }

// Warmup is the real server's warmup (nil when not written).
func (rs *RealServer) Warmup() *Duration { return rs.extra().Warmup }

// SMTPAlert is the real server's smtp_alert (nil when not written).
func (rs *RealServer) SMTPAlert() *bool { return rs.extra().SMTPAlert }

// Virtualhost is the real server's virtualhost ("" when not written).
func (rs *RealServer) Virtualhost() string { return rs.extra().Virtualhost }

// SNMPName is the real server's snmp_name ("" when not written).
func (rs *RealServer) SNMPName() string { return rs.extra().SNMPName }

// SSLGet lists the real server's SSL_GET checkers.
func (rs *RealServer) SSLGet() []*HTTPCheck { return rs.extra().SSLGet }

// SMTPCheck lists the real server's SMTP_CHECK checkers.
func (rs *RealServer) SMTPCheck() []*SMTPCheck { return rs.extra().SMTPCheck }

// DNSCheck lists the real server's DNS_CHECK checkers.
func (rs *RealServer) DNSCheck() []*DNSCheck { return rs.extra().DNSCheck }

// MiscCheck lists the real server's MISC_CHECK checkers.
func (rs *RealServer) MiscCheck() []*MiscCheck { return rs.extra().MiscCheck }

// UDPCheck lists the real server's UDP_CHECK checkers.
func (rs *RealServer) UDPCheck() []*UDPCheck { return rs.extra().UDPCheck }

// PingCheck lists the real server's PING_CHECK checkers.
func (rs *RealServer) PingCheck() []*PingCheck { return rs.extra().PingCheck }

// FileCheck lists the real server's FILE_CHECK checkers.
func (rs *RealServer) FileCheck() []*FileCheck { return rs.extra().FileCheck }

// BFDCheck lists the real server's BFD_CHECK checkers.
func (rs *RealServer) BFDCheck() []*BFDCheck { return rs.extra().BFDCheck }

func (rs *RealServer) parseHeader(w []string) error {
	return rs.Address.parseWords(w)
}

func (rs *RealServer) formatHeader() []string { return rs.Address.formatWords() }

// CheckCommon holds the keywords the checkers share. keepalived 2.2.7
// accepts the connection keywords (connect_ip to fwmark) in every checker but
// MISC_CHECK, and nb_get_retry only in HTTP_GET and SSL_GET; kt accepts them
// in every checker that embeds CheckCommon and leaves that to Validate.
//
// The timers and retry most checkers are written with are fields of their
// own; the other keywords (CheckExtra) are out of line, as a real server's
// are (RealServer): bench/convert.sh's file has 40,000 checkers, none of
// which writes them (104 bytes inline each). Read them with the methods of
// the same names (c.BindTo()); set them through Extra.
type CheckCommon struct {
	ConnectTimeout   *Duration `toml:"connect_timeout,omitempty"`
	Retry            *int      `toml:"retry,omitempty" ka:",lenient=u:0:4294967295"`
	DelayBeforeRetry *Duration `toml:"delay_before_retry,omitempty"`
	DelayLoop        *Duration `toml:"delay_loop,omitempty"`
	*CheckExtra
}

// CheckExtra holds a checker's rarely written common keywords (see
// CheckCommon); nil when none is written.
type CheckExtra struct {
	ConnectIP      string    `toml:"connect_ip,omitempty"`
	ConnectPort    *int      `toml:"connect_port,omitempty" ka:",lenient=u:1:65535"`
	BindTo         string    `toml:"bindto,omitempty"`
	BindPort       *int      `toml:"bind_port,omitempty" ka:",lenient=u:1:65535"`
	BindIf         string    `toml:"bind_if,omitempty"`
	FWMark         *int      `toml:"fwmark,omitempty" ka:",lenient=u:0:4294967295"`
	NbGetRetry     *int      `toml:"nb_get_retry,omitempty" ka:",lenient=u:0:4294967295"` // deprecated spelling of retry
	Warmup         *Duration `toml:"warmup,omitempty"`
	Alpha          *bool     `toml:"alpha,omitempty"`
	LogAllFailures *bool     `toml:"log_all_failures,omitempty"`
}

// keyOrder lists the common keywords in the order they are written out,
// as they were before the rare ones went out of line: the schema sorts the
// fields of a checker that embeds CheckCommon by it, in their place.
func (*CheckCommon) keyOrder() []string {
	return []string{
		"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout",
		"fwmark", "retry", "nb_get_retry", "delay_before_retry", "warmup", "delay_loop",
		"alpha", "log_all_failures",
	}
}

// Extra returns the checker's rarely written common keywords for setting
// them, allocating them on first use.
func (c *CheckCommon) Extra() *CheckExtra { return allocated(&c.CheckExtra) }

// extra returns the rarely written keywords for reading (zero when none).
func (c *CheckCommon) extra() CheckExtra { return valueOrZero(c.CheckExtra) }

// ConnectIP is the checker's connect_ip ("" when not written).
func (c *CheckCommon) ConnectIP() string { return c.extra().ConnectIP }

// ConnectPort is the checker's connect_port (nil when not written).
func (c *CheckCommon) ConnectPort() *int { return c.extra().ConnectPort }

// BindTo is the checker's bindto ("" when not written).
func (c *CheckCommon) BindTo() string { return c.extra().BindTo }

// BindPort is the checker's bind_port (nil when not written).
func (c *CheckCommon) BindPort() *int { return c.extra().BindPort }

// BindIf is the checker's bind_if ("" when not written).
func (c *CheckCommon) BindIf() string { return c.extra().BindIf }

// FWMark is the checker's fwmark (nil when not written).
func (c *CheckCommon) FWMark() *int { return c.extra().FWMark }

// NbGetRetry is the checker's nb_get_retry (nil when not written).
func (c *CheckCommon) NbGetRetry() *int { return c.extra().NbGetRetry }

// Warmup is the checker's warmup (nil when not written).
func (c *CheckCommon) Warmup() *Duration { return c.extra().Warmup }

// Alpha is the checker's alpha (nil when not written).
func (c *CheckCommon) Alpha() *bool { return c.extra().Alpha }

// LogAllFailures is the checker's log_all_failures (nil when not written).
func (c *CheckCommon) LogAllFailures() *bool { return c.extra().LogAllFailures }

// HTTPCheck is an HTTP_GET or SSL_GET block. Its rarely written keywords
// (HTTPExtra, 48 bytes inline) are out of line, as a real server's are
// (RealServer): read them with the methods of the same names
// (h.HTTPProtocol()); set them through Extra.
type HTTPCheck struct {
	Pos Pos `toml:"-"`
	CheckCommon
	*HTTPExtra
	URLs     []*URLCheck `toml:"url,omitempty"`
	Unparsed Unparsed    `toml:"unparsed,omitempty" ka:",unparsed"`
}

// HTTPExtra holds an HTTP check's rarely written keywords (see HTTPCheck);
// nil when none is written.
type HTTPExtra struct {
	Virtualhost  string `toml:"virtualhost,omitempty"`
	HTTPProtocol string `toml:"http_protocol,omitempty"` // 1.0, 1.1 or 1.0C
	EnableSNI    *bool  `toml:"enable_sni,omitempty"`
	FastRecovery *bool  `toml:"fast_recovery,omitempty"`
}

// Extra returns the HTTP check's rarely written keywords for setting them,
// allocating them on first use (the common ones: CheckCommon.Extra).
func (h *HTTPCheck) Extra() *HTTPExtra { return allocated(&h.HTTPExtra) }

// extra returns the rarely written keywords for reading (zero when none).
func (h *HTTPCheck) extra() HTTPExtra { return valueOrZero(h.HTTPExtra) }

// Virtualhost is the check's virtualhost ("" when not written).
func (h *HTTPCheck) Virtualhost() string { return h.extra().Virtualhost }

// HTTPProtocol is the check's http_protocol ("" when not written).
func (h *HTTPCheck) HTTPProtocol() string { return h.extra().HTTPProtocol }

// EnableSNI is the check's enable_sni (nil when not written).
func (h *HTTPCheck) EnableSNI() *bool { return h.extra().EnableSNI }

// FastRecovery is the check's fast_recovery (nil when not written).
func (h *HTTPCheck) FastRecovery() *bool { return h.extra().FastRecovery }

// URLCheck is one url block of an HTTP check. Its rarely written keywords
// (URLExtra: virtualhost and the regex ones, 120 bytes inline) are out of
// line, as a real server's are (RealServer): bench/convert.sh's file has
// 20,000 url blocks. Read them with the methods of the same names
// (u.Regex()); set them through Extra.
type URLCheck struct {
	Pos        Pos    `toml:"-"`
	Path       string `toml:"path,omitempty"`
	Digest     string `toml:"digest,omitempty"`
	StatusCode Args   `toml:"status_code,omitempty"` // codes and ranges: 200 301-303
	*URLExtra
	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// URLExtra holds a url block's rarely written keywords (see URLCheck); nil
// when none is written.
type URLExtra struct {
	Virtualhost    string `toml:"virtualhost,omitempty"`
	Regex          string `toml:"regex,omitempty"`
	RegexNoMatch   bool   `toml:"regex_no_match,omitempty"`
	RegexOptions   Args   `toml:"regex_options,omitempty"`                  // PCRE2 option names
	RegexMinOffset *int   `toml:"regex_min_offset,omitempty" ka:",badas=0"` // keepalived reads a value that is no number as 0
	RegexMaxOffset *int   `toml:"regex_max_offset,omitempty" ka:",badas=0"`
	RegexStack     Args   `toml:"regex_stack,omitempty"` // START MAX
}

// Extra returns the url block's rarely written keywords for setting them,
// allocating them on first use.
func (u *URLCheck) Extra() *URLExtra { return allocated(&u.URLExtra) }

// extra returns the rarely written keywords for reading (zero when none).
func (u *URLCheck) extra() URLExtra { return valueOrZero(u.URLExtra) }

// Virtualhost is the url's virtualhost ("" when not written).
func (u *URLCheck) Virtualhost() string { return u.extra().Virtualhost }

// Regex is the url's regex ("" when not written).
func (u *URLCheck) Regex() string { return u.extra().Regex }

// RegexNoMatch is the url's regex_no_match.
func (u *URLCheck) RegexNoMatch() bool { return u.extra().RegexNoMatch }

// RegexOptions is the url's regex_options.
func (u *URLCheck) RegexOptions() Args { return u.extra().RegexOptions }

// RegexMinOffset is the url's regex_min_offset (nil when not written).
func (u *URLCheck) RegexMinOffset() *int { return u.extra().RegexMinOffset }

// RegexMaxOffset is the url's regex_max_offset (nil when not written).
func (u *URLCheck) RegexMaxOffset() *int { return u.extra().RegexMaxOffset }

// RegexStack is the url's regex_stack.
func (u *URLCheck) RegexStack() Args { return u.extra().RegexStack }

// TCPCheck is a TCP_CHECK block: a connect succeeds.
type TCPCheck struct {
	Pos Pos `toml:"-"`
	CheckCommon
	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// SMTPCheck is an SMTP_CHECK block.
type SMTPCheck struct {
	Pos Pos `toml:"-"`
	CheckCommon
	HeloName string      `toml:"helo_name,omitempty"`
	Hosts    []*SMTPHost `toml:"host,omitempty"`
	Unparsed Unparsed    `toml:"unparsed,omitempty" ka:",unparsed"`
}

// SMTPHost is a host block of an SMTP check: another address to try.
type SMTPHost struct {
	Pos Pos `toml:"-"`
	CheckCommon
	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// DNSCheck is a DNS_CHECK block.
type DNSCheck struct {
	Pos Pos `toml:"-"`
	CheckCommon
	Type      string   `toml:"type,omitempty"`
	QueryName string   `toml:"name,omitempty"`
	Unparsed  Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// MiscCheck is a MISC_CHECK block: a script decides.
type MiscCheck struct {
	Pos Pos `toml:"-"`
	CheckCommon
	MiscPath    Script    `toml:"misc_path,omitempty" ka:",first"`               // the user is MISC_CHECK's own user line
	MiscTimeout *Duration `toml:"misc_timeout,omitempty" ka:",lenient=u:0:4294"` // whole seconds
	MiscDynamic bool      `toml:"misc_dynamic,omitempty"`
	User        Args      `toml:"user,omitempty"` // USER [GROUP]
	Unparsed    Unparsed  `toml:"unparsed,omitempty" ka:",unparsed"`
}

// UDPCheck is a UDP_CHECK block.
type UDPCheck struct {
	Pos Pos `toml:"-"`
	CheckCommon
	Payload        Text     `toml:"payload,omitempty"`       // hex digits, spaces allowed
	RequireReply   Args     `toml:"require_reply,omitempty"` // [HEX...], x for a wildcard digit
	MinReplyLength *int     `toml:"min_reply_length,omitempty"`
	MaxReplyLength *int     `toml:"max_reply_length,omitempty"`
	Unparsed       Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// PingCheck is a PING_CHECK block: an ICMP echo is answered.
type PingCheck struct {
	Pos Pos `toml:"-"`
	CheckCommon
	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// FileCheck is a FILE_CHECK block: a file's contents set the weight.
type FileCheck struct {
	Pos       Pos      `toml:"-"`
	TrackFile string   `toml:"track_file,omitempty"`
	Weight    Weight   `toml:"weight,omitempty"`
	Unparsed  Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// BFDCheck is a BFD_CHECK block: a BFD session is up.
type BFDCheck struct {
	Pos      Pos      `toml:"-"`
	BFDName  string   `toml:"name,omitempty"`
	Alpha    *bool    `toml:"alpha,omitempty"`
	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
	// Lines are the block's name and alpha lines as written in a
	// keepalived.conf, which the validator replays as keepalived's
	// handlers read them (bfdcheck.go); empty from TOML.
	Lines []BFDCheckLine `toml:"-"`
}
