package smtp

import (
	"errors"
	"net"
	"net/smtp"
	"strings"
)

// loginAuth is the SASL LOGIN mechanism (draft-murchison-sasl-login), which
// net/smtp lacks: the server asks "Username:" then "Password:" and the
// client answers each. Like net/smtp's PlainAuth it refuses to send the
// password in clear text except to a server on loopback.
type loginAuth struct {
	user, password, host string
	step                 int
}

func (l *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopback(server.Name) {
		return "", nil, errors.New("refusing AUTH LOGIN without TLS to a server that is not on loopback")
	}
	if server.Name != l.host {
		return "", nil, errors.New("wrong host name")
	}
	l.step = 0
	return "LOGIN", nil, nil
}

func (l *loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	l.step++
	prompt := strings.ToLower(strings.TrimSpace(string(challenge)))
	switch {
	case strings.HasPrefix(prompt, "user"):
		return []byte(l.user), nil
	case strings.HasPrefix(prompt, "pass"):
		return []byte(l.password), nil
	case l.step == 1: // a server whose prompts say something else
		return []byte(l.user), nil
	case l.step == 2:
		return []byte(l.password), nil
	}
	return nil, errors.New("unexpected AUTH LOGIN challenge " + strings.TrimSpace(string(challenge)))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
