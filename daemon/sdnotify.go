package daemon

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Systemd is what systemd tells a Type=notify service through its
// environment: where to send notifications and how often to ping the
// watchdog.
type Systemd struct {
	// NotifySocket is $NOTIFY_SOCKET: a unix datagram socket path, or an
	// abstract one starting with '@'. Empty: not run by systemd.
	NotifySocket string
	// WatchdogInterval is $WATCHDOG_USEC (WatchdogSec= in the unit); zero
	// when the unit has no watchdog. kt pings at half of it.
	WatchdogInterval time.Duration
}

// SystemdFromEnv reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID as
// sd_notify(3) and sd_watchdog_enabled(3) describe: a WATCHDOG_PID that
// is not this process turns the watchdog off.
func SystemdFromEnv() Systemd {
	s := Systemd{NotifySocket: os.Getenv("NOTIFY_SOCKET")}
	if us, err := strconv.ParseUint(os.Getenv("WATCHDOG_USEC"), 10, 63); err == nil && us > 0 {
		s.WatchdogInterval = time.Duration(us) * time.Microsecond
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(os.Getpid()) {
		s.WatchdogInterval = 0
	}
	return s
}

// notify sends one sd_notify message ("READY=1", "WATCHDOG=1",
// "STOPPING=1", "STATUS=..."); without a socket it does nothing.
func (s Systemd) notify(state string) error {
	if s.NotifySocket == "" {
		return nil
	}
	name := s.NotifySocket
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", s.NotifySocket, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", s.NotifySocket, err)
	}
	return nil
}
