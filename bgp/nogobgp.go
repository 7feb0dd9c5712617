//go:build nobgp

package bgp

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
)

// Available is false in a kt built with the nobgp tag: GoBGP is not linked
// (about 14 MB less binary, and as much less RSS in every kt process) and a
// bgp block cannot run.
const Available = false

// ErrNoBGP is what the Speaker of a nobgp build answers.
var ErrNoBGP = errors.New("this kt was built without BGP (build tag nobgp): rebuild it without the tag to run a bgp block")

// GoBGP stands in for the embedded GoBGP server in a nobgp build.
type GoBGP struct{}

// NewGoBGP returns a Speaker that cannot start.
func NewGoBGP(*slog.Logger) *GoBGP { return &GoBGP{} }

// Start implements Speaker: it fails.
func (*GoBGP) Start(context.Context, Settings) error { return ErrNoBGP }

// Announce implements Speaker: it fails.
func (*GoBGP) Announce(context.Context, Route) error { return ErrNoBGP }

// Withdraw implements Speaker: it fails.
func (*GoBGP) Withdraw(context.Context, Route) error { return ErrNoBGP }

// SetPeerDown implements Speaker: it fails.
func (*GoBGP) SetPeerDown(context.Context, netip.Addr, bool, string) error { return ErrNoBGP }

// Peers implements Speaker: it fails.
func (*GoBGP) Peers(context.Context) ([]PeerStatus, error) { return nil, ErrNoBGP }

// Stop implements Speaker.
func (*GoBGP) Stop(context.Context) error { return nil }
