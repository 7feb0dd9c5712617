package config

import (
	"net/netip"
	"strings"
)

// checkers checks the health checkers of real server rs (of the virtual
// server where) as keepalived reads them, applies its fix-ups, and drops
// the checkers keepalived removes. Kinds are checked in this order, each
// by a step of its own: HTTP_GET, SSL_GET, TCP_CHECK, SMTP_CHECK,
// DNS_CHECK, MISC_CHECK, FILE_CHECK, UDP_CHECK, PING_CHECK.
func (v *validator) checkers(rs *RealServer, where lvsPlace) {
	var none RealServerExtra // the kinds out of line, when none is written
	x := rs.RealServerExtra
	if x == nil {
		x = &none
	}
	rs.HTTPGet = keepCheckers(rs.HTTPGet, func(h *HTTPCheck) bool { return v.httpCheck(rs, h, "HTTP_GET", where) })
	x.SSLGet = keepCheckers(x.SSLGet, func(h *HTTPCheck) bool { return v.httpCheck(rs, h, "SSL_GET", where) })
	rs.TCPCheck = keepCheckers(rs.TCPCheck, func(c *TCPCheck) bool { return v.plainCheck(rs, c.Pos, &c.CheckCommon, "TCP_CHECK") })
	x.SMTPCheck = keepCheckers(x.SMTPCheck, func(c *SMTPCheck) bool { return v.smtpCheck(rs, c) })
	x.DNSCheck = keepCheckers(x.DNSCheck, func(c *DNSCheck) bool { return v.dnsCheck(rs, c) })
	x.MiscCheck = keepCheckers(x.MiscCheck, func(c *MiscCheck) bool { return v.miscCheck(rs, c) })
	x.FileCheck = keepCheckers(x.FileCheck, v.fileCheck)
	x.UDPCheck = keepCheckers(x.UDPCheck, func(c *UDPCheck) bool { return v.udpCheck(rs, c) })
	x.PingCheck = keepCheckers(x.PingCheck, func(c *PingCheck) bool { return v.plainCheck(rs, c.Pos, &c.CheckCommon, "PING_CHECK") })
}

// keepCheckers checks each checker of list in order and keeps, in place,
// those check says keepalived keeps.
func keepCheckers[T any](list []T, check func(T) bool) []T {
	kept := list[:0]
	for _, c := range list {
		if check(c) {
			kept = append(kept, c)
		}
	}
	return kept
}

// plainCheck checks a checker that has only the common keywords (TCP,
// SMTP, PING).
func (v *validator) plainCheck(rs *RealServer, p Pos, c *CheckCommon, kind string) bool {
	v.checkCommon(rs, p, c, kind)
	return v.linkLocalOK(rs, p, c)
}

// checkCommon checks the keywords every checker kind reads into
// CheckCommon.
func (v *validator) checkCommon(rs *RealServer, p Pos, c *CheckCommon, kind string) {
	if x := c.CheckExtra; x != nil && x.LogAllFailures != nil {
		v.warnf(p.Of("log_all_failures"), "%s", notRunMsg("log_all_failures", logAllFailuresReason))
	}
	v.checkerUnknownKeywords(p, c, kind)
	v.checkerBadValues(p, c)
	v.checkerFamilies(rs, p, c)
}

// checkerUnknownKeywords: kt reads every checker's keywords into
// CheckCommon; keepalived knows nb_get_retry only in HTTP_GET and
// SSL_GET, and the connection keywords in every checker but MISC_CHECK.
// Elsewhere they are unknown keywords, which it ignores.
func (v *validator) checkerUnknownKeywords(p Pos, c *CheckCommon, kind string) {
	var none CheckExtra // the keywords out of line, when none is written
	x := c.CheckExtra
	if x == nil {
		x = &none
	}
	unknown := func(kw string, set bool, clear func()) {
		if !set {
			return
		}
		why := "keepalived reads the connection keywords in every checker but MISC_CHECK"
		if kw == "nb_get_retry" {
			why = "keepalived reads nb_get_retry only in HTTP_GET and SSL_GET"
		}
		v.warnf(p.Of(kw), "Unknown keyword '%s' (in %s: %s, and ignores it here)", kw, kind, why)
		clear()
	}
	if kind == "MISC_CHECK" {
		unknown("connect_ip", x.ConnectIP != "", func() { x.ConnectIP = "" })
		unknown("connect_port", x.ConnectPort != nil, func() { x.ConnectPort = nil })
		unknown("bindto", x.BindTo != "", func() { x.BindTo = "" })
		unknown("bind_port", x.BindPort != nil, func() { x.BindPort = nil })
		unknown("bind_if", x.BindIf != "", func() { x.BindIf = "" })
		unknown("connect_timeout", c.ConnectTimeout != nil, func() { c.ConnectTimeout = nil })
		unknown("fwmark", x.FWMark != nil, func() { x.FWMark = nil })
	}
	if kind == "HTTP_GET" || kind == "SSL_GET" {
		if x.NbGetRetry != nil {
			v.carryf(p.Of("nb_get_retry"), "nb_get_retry is deprecated - please use 'retry'")
		}
	} else {
		unknown("nb_get_retry", x.NbGetRetry != nil, func() { x.NbGetRetry = nil })
	}
}

// checkerBadValues: keepalived reports these, ignores the value and runs
// the checker without it; so does kt (the Effective methods).
func (v *validator) checkerBadValues(p Pos, c *CheckCommon) {
	var none CheckExtra // the keywords out of line, when none is written
	x := c.CheckExtra
	if x == nil {
		x = &none
	}
	if x.ConnectIP != "" && c.EffectiveConnectIP() == "" {
		v.carryf(p.Of("connect_ip"), "Invalid connect_ip address %s - ignoring", x.ConnectIP)
	}
	if x.BindTo != "" && c.EffectiveBindTo() == "" {
		v.carryf(p.Of("bindto"), "Invalid bindto address %s - ignoring", x.BindTo)
	}
	if _, ok := c.EffectiveConnectPort(); x.ConnectPort != nil && !ok {
		v.carryf(p.Of("connect_port"), "%s", kaUnsigned(*x.ConnectPort, 1, 65535))
		v.carryf(p.Of("connect_port"), "Invalid checker connect_port '%d'", *x.ConnectPort)
	}
	if _, ok := c.EffectiveBindPort(); x.BindPort != nil && !ok {
		v.carryf(p.Of("bind_port"), "%s", kaUnsigned(*x.BindPort, 1, 65535))
		v.carryf(p.Of("bind_port"), "Invalid checker bind_port '%d'", *x.BindPort)
	}
	v.timer(p, "connect_timeout", &c.ConnectTimeout, false, maxConnectTimeout, "connect_timeout %s invalid - ignoring")
	v.timer(p, "delay_loop", &c.DelayLoop, false, 0, "delay_loop '%s' is invalid - ignoring")
	v.timer(p, "delay_before_retry", &c.DelayBeforeRetry, true, 0, "Invalid delay_before_retry connection value '%s'")
	v.timer(p, "warmup", &x.Warmup, true, 0, "Invalid warmup connection value '%s'")
	// Unsigned 32-bit numbers (read_unsigned_strvec): out of range, the
	// line is ignored.
	if c.Retry != nil && (*c.Retry < 0 || *c.Retry > 1<<32-1) {
		v.carryf(p.Of("retry"), "%s", kaUnsigned(*c.Retry, 0, 1<<32-1))
		v.carryf(p.Of("retry"), "Invalid retry connection value '%d'", *c.Retry)
		c.Retry = nil
	}
	if x.FWMark != nil && (*x.FWMark < 0 || *x.FWMark > 1<<32-1) {
		v.carryf(p.Of("fwmark"), "%s", kaUnsigned(*x.FWMark, 0, 1<<32-1))
		v.carryf(p.Of("fwmark"), "Invalid fwmark connection value '%d'", *x.FWMark)
		x.FWMark = nil
	}
}

// checkerFamilies: the destination (the real server, until connect_ip)
// and bindto must be of one family: the line that breaks that is dropped
// (co_ip_handler, co_srcip_handler).
func (v *validator) checkerFamilies(rs *RealServer, p Pos, c *CheckCommon) {
	var none CheckExtra // the keywords out of line, when none is written
	x := c.CheckExtra
	if x == nil {
		x = &none
	}
	bt := c.EffectiveBindTo()
	if bt == "" {
		return
	}
	ci := c.EffectiveConnectIP()
	ciFirst := ci != "" && p.Of("connect_ip").Line < p.Of("bindto").Line
	dst := rs.Address.Host
	if ciFirst {
		dst = ci
	}
	switch {
	case familyOf(dst) != 0 && familyOf(dst) != familyOf(bt):
		v.carryf(p.Of("bindto"), "bindto address %s does not match address family of connect_ip - skipping", bt)
		x.BindTo = ""
	case ci != "" && !ciFirst && familyOf(ci) != familyOf(bt):
		v.carryf(p.Of("connect_ip"), "connect_ip address %s does not match address family of bindto - skipping", ci)
		x.ConnectIP = ""
	}
}

// linkLocalOK is check_conn_opts, when a checker block ends: a
// link-local IPv6 destination (connect_ip, else the real server) needs a
// bind_if, or keepalived removes the checker.
func (v *validator) linkLocalOK(rs *RealServer, p Pos, c *CheckCommon) bool {
	dst := c.EffectiveConnectIP()
	if dst == "" {
		dst = rs.Address.Host
	}
	if a, err := netip.ParseAddr(dst); err == nil && a.Is6() && a.IsLinkLocalUnicast() && c.BindIf() == "" {
		v.carryf(p.EndPos(), "Checker link local address %s requires a bind_if", a.WithZone(""))
		return false
	}
	return true
}

// httpCheck checks an HTTP_GET or SSL_GET block and its url blocks.
func (v *validator) httpCheck(rs *RealServer, h *HTTPCheck, kind string, where lvsPlace) bool {
	v.checkCommon(rs, h.Pos, &h.CheckCommon, kind)
	for _, u := range h.URLs {
		v.httpURL(u)
	}
	if len(h.EffectiveURLs()) == 0 {
		// http_get_check_end; keepalived 2.2.7 then crashes (keepalived
		// -t: SIGSEGV), so kt refuses it.
		v.errorf(h.Pos.EndPos(), "HTTP/SSL_GET checker has no urls specified - ignoring (%s: keepalived 2.2.7 crashes on an HTTP check with no url block with a path, so kt does not run it)", where)
	}
	switch h.HTTPProtocol() {
	case "", "1.0", "1.1", "1.0C", "1.0c":
	default:
		v.carryf(h.Pos.Of("http_protocol"), "Invalid http_protocol version %s", h.HTTPProtocol())
		h.HTTPExtra.HTTPProtocol = "" // set, so allocated
	}
	return v.linkLocalOK(rs, h.Pos, &h.CheckCommon)
}

// httpURL checks one url block of an HTTP_GET or SSL_GET.
func (v *validator) httpURL(u *URLCheck) {
	if u.Digest != "" && u.EffectiveDigest() == "" {
		v.carryf(u.Pos.Of("digest"), "%s", kaDigestProblem(u.Digest))
	}
	for _, sc := range u.StatusCode.Args {
		if !validStatus(sc) {
			v.carryf(u.Pos.Of("status_code"), "Invalid HTTP_GET status code '%s' (want codes or ranges from 100 to 599, like 200 or 200-299)", sc)
		}
	}
	if u.Path == "" {
		// url_check, at the url block's end.
		v.carryf(u.Pos.EndPos(), "HTTP/SSL_GET checker url has no path - ignoring")
	}
	if u.URLExtra != nil {
		v.urlRegex(u)
	}
}

// urlRegex checks a url's regex keywords. keepalived 2.2.7 logs its words
// on these (to syslog: keepalived -t prints none of them) and runs on, so
// kt warns; a regex kt cannot run as PCRE2 would keeps the checker from
// running (check.FromConfig says so too).
func (v *validator) urlRegex(u *URLCheck) {
	x := u.URLExtra
	if x.Regex == "" {
		// url_check
		if x.RegexNoMatch || x.RegexOptions.Set || x.RegexMinOffset != nil || x.RegexMaxOffset != nil || x.RegexStack.Set {
			v.warnf(u.Pos.EndPos(), "regex parameters specified without regex (ignored, as keepalived does)")
		}
		return
	}
	for _, o := range x.RegexOptions.Args {
		if !KnownRegexOption(o) {
			v.warnf(u.Pos.Of("regex_options"), "unknown regex option %s ignored (as keepalived does)", o)
		}
	}
	if _, err := CompileHTTPRegex(x.Regex, x.RegexOptions.Args); err != nil {
		kw := "regex"
		if strings.HasPrefix(err.Error(), "regex_options") {
			kw = "regex_options"
		}
		v.warnf(u.Pos.Of(kw), "%v; kt does not run this checker", err)
	}
	if x.RegexMinOffset != nil && x.RegexMaxOffset != nil && *x.RegexMinOffset > *x.RegexMaxOffset {
		v.warnf(u.Pos.Of("regex_min_offset"), "regex min offset %d > regex_max_offset %d - ignoring", *x.RegexMinOffset, *x.RegexMaxOffset)
	}
}

func (v *validator) dnsCheck(rs *RealServer, c *DNSCheck) bool {
	v.checkCommon(rs, c.Pos, &c.CheckCommon, "DNS_CHECK")
	if c.Type != "" && !dnsTypes[strings.ToUpper(c.Type)] {
		v.carryf(c.Pos.Of("type"), "Unknown DNS check type %s - ignoring (want A, NS, CNAME, SOA, MX, TXT or AAAA)", c.Type)
	}
	// dns_name_handler: a name starting with "." (other than ".") or
	// holding ".." has an empty label.
	if n := c.QueryName; n != "" && (strings.HasPrefix(n, ".") && n != "." || strings.Contains(n, "..")) {
		v.carryf(c.Pos.Of("name"), "DNS_CHECK name '%s' has empty label - ignoring", n)
		c.QueryName = ""
	}
	return v.linkLocalOK(rs, c.Pos, &c.CheckCommon)
}

func (v *validator) miscCheck(rs *RealServer, c *MiscCheck) bool {
	v.checkCommon(rs, c.Pos, &c.CheckCommon, "MISC_CHECK")
	v.miscTimeout(c)
	if c.MiscPath.Cmd == "" {
		// misc_end_handler, at the block's end: the checker is removed.
		v.carryf(c.Pos.EndPos(), "No script path has been specified for MISC_CHECKER - skipping")
		return false
	}
	return true
}

func (v *validator) fileCheck(c *FileCheck) bool {
	const msg = "weight for track file must be in [-2147483647..2147483647] inclusive. Ignoring..."
	if w := c.Weight.Value; c.Weight.Set && (w < -1<<31+1 || w > 1<<31-1) {
		v.carryf(c.Pos.Of("weight"), "%s", kaSigned(w, -1<<31+1, 1<<31-1))
		v.carryf(c.Pos.Of("weight"), msg)
		c.Weight = Weight{}
	} else if !v.junkWeight(c.Pos.Of("weight"), &c.Weight, 1<<31-1, msg) {
		c.Weight = Weight{} // the handler returns before reading reverse
	}
	// track_file_handler looks the file up as it reads the line, so one
	// defined further down is not found; file_end_handler then removes
	// the checker.
	if c.TrackFile != "" {
		if at, ok := v.trackFileAt(c.TrackFile); !ok || !at.Before(c.Pos) {
			v.carryf(c.Pos.Of("track_file"), "track_file %s not found", c.TrackFile)
			c.TrackFile = ""
		}
	}
	if c.TrackFile == "" {
		v.carryf(c.Pos.EndPos(), "FILE_CHECK has no track_file specified - ignoring")
		return false
	}
	return true
}

// smtpCheck checks an SMTP_CHECK and its hosts, whose connection
// keywords keepalived reads as it reads a checker's.
func (v *validator) smtpCheck(rs *RealServer, c *SMTPCheck) bool {
	for _, h := range c.Hosts {
		v.checkerBadValues(h.Pos, &h.CheckCommon)
	}
	return v.plainCheck(rs, c.Pos, &c.CheckCommon, "SMTP_CHECK")
}

func (v *validator) udpCheck(rs *RealServer, c *UDPCheck) bool {
	v.checkCommon(rs, c.Pos, &c.CheckCommon, "UDP_CHECK")
	// keepalived's read_hex_str reads nothing of a string that is not
	// hex: the check then sends no payload, or takes any reply.
	if c.Payload != "" {
		if _, _, err := ParseHex(string(c.Payload), false); err != nil {
			v.carryf(c.Pos.Of("payload"), "Invalid hex string for UDP_CHECK payload")
			c.Payload = ""
		}
	}
	if len(c.RequireReply.Args) > 0 {
		if _, _, err := ParseHex(strings.Join(c.RequireReply.Args, " "), true); err != nil {
			v.carryf(c.Pos.Of("require_reply"), "Invalid hex string for UDP_CHECK reply")
			c.RequireReply.Args = nil
		}
	}
	for _, kw := range []struct {
		name, what string
		n          **int
	}{{"min_reply_length", "min", &c.MinReplyLength}, {"max_reply_length", "max", &c.MaxReplyLength}} {
		if n := *kw.n; n != nil && (*n < 0 || *n > 65535) {
			v.carryf(c.Pos.Of(kw.name), "%s", kaUnsigned(*n, 0, 65535))
			v.carryf(c.Pos.Of(kw.name), "UDP_CHECK %s length %d not valid - must be between 0 & 65535", kw.what, *n)
			*kw.n = nil
		}
	}
	if lo, hi := c.MinReplyLength, c.MaxReplyLength; lo != nil && hi != nil && *lo > *hi {
		v.carryf(c.Pos.EndPos(), "UDP_CHECK min_reply length %d > max_reply_length %d - will always fail", *lo, *hi)
	}
	return v.linkLocalOK(rs, c.Pos, &c.CheckCommon)
}
