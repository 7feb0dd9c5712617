package smtp

import (
	"strconv"
	"strings"
	"time"

	"github.com/kt-project/kt/config"
)

// State is a VRRP instance's or sync group's state as alert mails name it.
// The daemon maps the vrrp package's states onto these.
type State int

// The states keepalived mails about (vrrp_notify.c).
const (
	StateMaster  State = iota + 1 // "Entering MASTER state"
	StateBackup                   // "Entering BACKUP state"
	StateFault                    // "Entering FAULT state"
	StateStop                     // "Stopping": the instance or group is shutting down
	StateDeleted                  // "Deleted": the instance went away at a reload (instances only)
)

// String returns the state's name in capitals, as keepalived logs it.
func (s State) String() string {
	switch s {
	case StateMaster:
		return "MASTER"
	case StateBackup:
		return "BACKUP"
	case StateFault:
		return "FAULT"
	case StateStop:
		return "STOP"
	case StateDeleted:
		return "DELETED"
	}
	return "UNKNOWN(" + strconv.Itoa(int(s)) + ")"
}

// Message is one alert mail before it is addressed: a subject, a plain-text
// body and the time of the event it reports. Build it with InstanceMessage,
// GroupMessage, CheckerMessage, RealServerRemovedMessage, QuorumMessage or
// TestMessage and hand it to Alerter.Enqueue.
type Message struct {
	// Time is when the event happened; it becomes the Date header. The zero
	// time means "when the mail is written".
	Time    time.Time
	Subject string
	// Body is plain text; lines end in "\n" and are sent as CRLF.
	Body string
}

// A line of the body: a label padded to a column, then the value.
func field(b *strings.Builder, label, value string) {
	b.WriteString(label)
	b.WriteString(":")
	for i := len(label); i < 15; i++ {
		b.WriteByte(' ')
	}
	b.WriteString(oneLine(value))
	b.WriteByte('\n')
}

// oneLine replaces control characters (CR and LF above all) with spaces, so
// a name from the configuration can never start a new header line.
func oneLine(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// subject is keepalived's "[router_id] ..." subject (no brackets when the
// router has no id, as in smtp.c).
func subject(routerID, rest string) string {
	if routerID == "" {
		return oneLine(rest)
	}
	return "[" + oneLine(routerID) + "] " + oneLine(rest)
}

// stamp is the body's time line: local time with offset and seconds.
func stamp(at time.Time) string { return at.Format("2006-01-02 15:04:05 -0700") }

// instanceHeadline is the first body line keepalived sends for an
// instance's state, and whether it sends one at all.
func instanceHeadline(s State) (title, headline string) {
	switch s {
	case StateMaster:
		return "Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="
	case StateBackup:
		return "Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="
	case StateFault:
		return "Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="
	case StateStop:
		return "Stopping", "=> VRRP Instance stopping <="
	case StateDeleted:
		return "Deleted", "=> VRRP Deleted at reload <="
	}
	return "Entering " + s.String() + " state", "=> VRRP Instance is now in " + s.String() + " state <="
}

func groupHeadline(s State) (title, headline string) {
	switch s {
	case StateMaster:
		return "Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="
	case StateBackup:
		return "Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="
	case StateFault:
		return "Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="
	case StateStop:
		return "Stopping", "=> All VRRP group instances are now stopping <="
	case StateDeleted:
		return "Deleted", "=> VRRP group deleted at reload <="
	}
	return "Entering " + s.String() + " state", "=> VRRP group is now in " + s.String() + " state <="
}

// InstanceMessage is the mail for a VRRP instance entering state, as
// keepalived's vrrp_smtp_notifier words it: subject "[router_id] VRRP
// Instance VI_1 - Entering MASTER state". priority is the instance's
// effective priority at the time.
func InstanceMessage(routerID, instance string, state State, priority int, at time.Time) Message {
	title, headline := instanceHeadline(state)
	var b strings.Builder
	b.WriteString(headline + "\n\n")
	field(&b, "Time", stamp(at))
	field(&b, "Router", routerID)
	field(&b, "Instance", instance)
	field(&b, "State", state.String())
	field(&b, "Priority", strconv.Itoa(priority))
	return Message{Time: at, Subject: subject(routerID, "VRRP Instance "+instance+" - "+title), Body: b.String()}
}

// GroupMessage is the mail for a VRRP sync group entering state: subject
// "[router_id] VRRP Group VG_1 - Entering MASTER state". members are the
// group's instances, listed in the body. (keepalived sends no mail for a
// group deleted at a reload; kt words one should the daemon want it.)
func GroupMessage(routerID, group string, state State, members []string, at time.Time) Message {
	title, headline := groupHeadline(state)
	var b strings.Builder
	b.WriteString(headline + "\n\n")
	field(&b, "Time", stamp(at))
	field(&b, "Router", routerID)
	field(&b, "Sync group", group)
	field(&b, "State", state.String())
	field(&b, "Instances", strings.Join(members, ", "))
	return Message{Time: at, Subject: subject(routerID, "VRRP Group "+group+" - "+title), Body: b.String()}
}

// CheckerDetail is the first body line keepalived's checkers send when a
// checker of kind marks a real server up or down, e.g. "=> TCP CHECK failed
// on service <=".
func CheckerDetail(kind config.CheckKind, up bool) string {
	var ok, fail string
	switch kind {
	case config.CheckHTTP:
		ok, fail = "=> CHECK succeed on service <=", "=> CHECK failed on service : HTTP request failed <="
	case config.CheckSMTP:
		ok, fail = "=> CHECK succeed on service <=", "=> CHECK failed on service <="
	case config.CheckTCP:
		ok, fail = "=> TCP CHECK succeed on service <=", "=> TCP CHECK failed on service <="
	case config.CheckDNS:
		ok, fail = "=> DNS_CHECK: succeed on service <=", "=> DNS_CHECK: failed on service <="
	case config.CheckMisc:
		ok, fail = "=> MISC CHECK succeeded on service <=", "=> MISC CHECK failed on service <="
	case config.CheckUDP:
		ok, fail = "=> UDP CHECK succeed on service <=", "=> UDP CHECK failed on service <="
	case config.CheckPing:
		ok, fail = "=> ICMP CHECK succeed on service <=", "=> ICMP CHECK failed on service <="
	default:
		ok, fail = "=> CHECK succeed on service <=", "=> CHECK failed on service <="
	}
	if up {
		return ok
	}
	return fail
}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

// CheckerMessage is the mail for a checker marking real server rs of virtual
// server vs up or down: subject "[router_id] Realserver [192.0.2.10]:tcp:80
// of virtual server [192.0.2.1]:tcp:80 - DOWN". rs and vs are named as
// DescribeRealServer and config.VirtualServer.Describe name them; detail is
// the first body line (CheckerDetail, or a checker's own words).
func CheckerMessage(routerID, rs, vs string, up bool, detail string, at time.Time) Message {
	var b strings.Builder
	b.WriteString(oneLine(detail) + "\n\n")
	field(&b, "Time", stamp(at))
	field(&b, "Router", routerID)
	field(&b, "Virtual server", vs)
	field(&b, "Real server", rs)
	field(&b, "State", upDown(up))
	return Message{Time: at, Subject: subject(routerID, "Realserver "+rs+" of virtual server "+vs+" - "+upDown(up)), Body: b.String()}
}

// RealServerRemovedMessage is the mail for a live real server taken out of
// its virtual server because kt is shutting down (shutdown) or a reload
// removed it: subject "... - DOWN", body "=> Shutting down <=" or
// "=> Removing <=" as keepalived's clear_service_rs.
func RealServerRemovedMessage(routerID, rs, vs string, shutdown bool, at time.Time) Message {
	detail := "=> Removing <="
	if shutdown {
		detail = "=> Shutting down <="
	}
	return CheckerMessage(routerID, rs, vs, false, detail, at)
}

// Quorum describes a virtual server's quorum change for QuorumMessage.
type Quorum struct {
	Up         bool // the quorum is now met
	Starting   bool // the first evaluation after start-up
	Stopping   bool // kt is shutting down (always Up == false)
	Quorum     int64
	Hysteresis int64
	Threshold  int64 // the weight that had to be crossed: quorum±hysteresis
	WeightSum  int64 // the live real servers' weight now
}

// QuorumMessage is the mail for virtual server vs gaining or losing its
// quorum: subject "[router_id] Virtualserver [192.0.2.1]:tcp:80 - UP", body
// "=> Gained quorum 2+1=3 <= 3 <=" as keepalived's do_vs_notifies.
func QuorumMessage(routerID, vs string, q Quorum, at time.Time) Message {
	var detail string
	if q.Stopping {
		detail = "=> Shutting down <="
		q.Up = false
	} else {
		what := "Lost quorum"
		switch {
		case q.Up && q.Starting:
			what = "Starting with quorum up"
		case q.Up:
			what = "Gained quorum"
		case q.Starting:
			what = "Starting with quorum down"
		}
		detail = "=> " + what + " " + strconv.FormatInt(q.Quorum, 10) + "+" + strconv.FormatInt(q.Hysteresis, 10) +
			"=" + strconv.FormatInt(q.Threshold, 10) + " <= " + strconv.FormatInt(q.WeightSum, 10) + " <="
	}
	var b strings.Builder
	b.WriteString(detail + "\n\n")
	field(&b, "Time", stamp(at))
	field(&b, "Router", routerID)
	field(&b, "Virtual server", vs)
	field(&b, "State", upDown(q.Up))
	if !q.Stopping {
		field(&b, "Weight", strconv.FormatInt(q.WeightSum, 10))
	}
	return Message{Time: at, Subject: subject(routerID, "Virtualserver "+vs+" - "+upDown(q.Up)), Body: b.String()}
}

// TestMessage is the mail `kt run --test-mail` sends: subject
// "[router_id] Test mail from kt".
func TestMessage(routerID, server string, at time.Time) Message {
	var b strings.Builder
	b.WriteString("=> This is a test of kt's alert mail set-up <=\n\n")
	field(&b, "Time", stamp(at))
	field(&b, "Router", routerID)
	field(&b, "SMTP server", server)
	return Message{Time: at, Subject: subject(routerID, "Test mail from kt"), Body: b.String()}
}

// DescribeRealServer names real server rs of vs the way keepalived's
// messages do: "[192.0.2.10]:tcp:80".
func DescribeRealServer(vs *config.VirtualServer, rs *config.RealServer) string {
	proto := "tcp"
	if vs != nil {
		proto = strings.ToLower(vs.EffectiveProtocol())
	}
	return "[" + rs.Address.Host + "]:" + proto + ":" + strconv.Itoa(rs.Address.Port)
}

// The smtp_alert defaults, as keepalived resolves them after parsing
// (vrrp.c, check_data.c).

func boolOr(b *bool, def bool) bool {
	if b != nil {
		return *b
	}
	return def
}

// WantVRRP reports whether a VRRP instance or sync group whose own
// smtp_alert is own mails its state changes: own, else global_defs'
// smtp_alert_vrrp, else smtp_alert, else no. global may be nil.
func WantVRRP(global *config.GlobalDefs, own *bool) bool {
	if own != nil {
		return *own
	}
	if global == nil {
		return false
	}
	if global.SMTPAlertVRRP != nil {
		return *global.SMTPAlertVRRP
	}
	return boolOr(global.SMTPAlert, false)
}

// WantVRRPState is WantVRRP for one state change: with no_email_faults
// set, entering FAULT is not mailed. The daemon should also, like
// keepalived, not mail the same state twice in a row for one instance or
// group.
func WantVRRPState(global *config.GlobalDefs, own *bool, state State) bool {
	if state == StateFault && global != nil && global.NoEmailFaults {
		return false
	}
	return WantVRRP(global, own)
}

// WantVirtualServer reports whether a virtual server whose own smtp_alert is
// own mails its quorum changes: own, else smtp_alert_checker, else
// smtp_alert, else no.
func WantVirtualServer(global *config.GlobalDefs, own *bool) bool {
	if own != nil {
		return *own
	}
	if global == nil {
		return false
	}
	if global.SMTPAlertChecker != nil {
		return *global.SMTPAlertChecker
	}
	return boolOr(global.SMTPAlert, false)
}

// WantRealServer reports whether a real server whose own smtp_alert is own
// mails its checkers' verdicts: own, else smtp_alert_checker, else
// smtp_alert, else YES (keepalived keeps this default unlike the others for
// backwards compatibility).
func WantRealServer(global *config.GlobalDefs, own *bool) bool {
	if own != nil {
		return *own
	}
	if global == nil {
		return true
	}
	if global.SMTPAlertChecker != nil {
		return *global.SMTPAlertChecker
	}
	return boolOr(global.SMTPAlert, true)
}

// WantChecker reports whether one checker's up/down verdict on a real server
// is mailed: the real server wants mail (WantRealServer) and either the
// verdict changed whether the real server is alive (aliveChanged) or
// no_checker_emails is off. With no_checker_emails keepalived mails only
// when the real server as a whole goes up or down, not for each of its
// checkers.
func WantChecker(global *config.GlobalDefs, rsOwn *bool, aliveChanged bool) bool {
	if !WantRealServer(global, rsOwn) {
		return false
	}
	return aliveChanged || global == nil || !boolOr(global.NoCheckerEmails, false)
}
