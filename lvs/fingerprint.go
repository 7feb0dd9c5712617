package lvs

import (
	"encoding/binary"

	"github.com/kt-project/kt/config"
)

// A virtual server's fingerprint is an exact encoding of every setting of
// its block (and of its real servers' blocks) that resolveVS reads: two
// virtual servers with the same fingerprint resolve to the same services
// and destinations for the same checker verdicts. A reload that keeps a
// virtual server's block as it was hands the Planner's resolved state of
// it, with its built entries, to the new config without resolving it again,
// and the Reconciler then skips its entries (applied last time) without
// reading or diffing them: only the changed virtual servers cost anything.
//
// The encoding is compared whole (no hash, so no collision can make two
// different blocks look alike). It covers the raw values rather than the
// effective ones (config's fix-ups are functions of them), so that it is
// cheap to compute: no maps, no parsing. What lvs reads through the
// virtual server's pointer later (quorum_up/quorum_down, omega, names for
// the log) is not in it: a reused state is rebound to the new block.
//
// A virtual server of a virtual_server_group has none: its services depend
// on the group's block too, so it is resolved on every reload (and its
// entries still carried over when they come out the same: carryOver).
//
// fingerprint_test.go checks, field by field, that every field of
// config.VirtualServer and config.RealServer is either encoded or listed as
// not read by lvs, so that a field added to the model later cannot be
// missed silently.

// fingerprint appends vs's fingerprint to buf; ok is false when vs has
// none (a group's virtual server).
func fingerprint(buf []byte, vs *config.VirtualServer) (out []byte, ok bool) {
	if vs.Group != "" {
		return buf, false
	}
	b := buf
	if vs.Address != nil {
		b = append(b, 'a')
		b = fpEndpoint(b, *vs.Address)
	} else {
		b = append(b, '-')
	}
	b = fpIntPtr(b, vs.FWMark)
	b = fpString(b, vs.IPFamily)
	b = fpBool(b, vs.InhibitOnFailure)
	b = fpString(b, vs.LBAlgo)
	b = fpString(b, vs.LVSSched)
	// The scheduler flags as keepalived applies them: sh-/mh- flags count
	// only after their lb_algo line, which the raw values do not say.
	fl := vs.EffectiveSchedFlags()
	b = fpBool(b, vs.OPS)
	b = fpBool(b, vs.Flag1)
	b = fpBool(b, vs.Flag2)
	b = fpBool(b, vs.Flag3)
	b = fpBool(b, vs.SHPort)
	b = fpBool(b, vs.SHFallback)
	b = fpBool(b, vs.MHPort)
	b = fpBool(b, vs.MHFallback)
	b = fpBool(b, fl.OnePacket)
	b = fpBool(b, fl.Sched1)
	b = fpBool(b, fl.Sched2)
	b = fpBool(b, fl.Sched3)
	b = fpString(b, string(vs.LBKind))
	b = fpString(b, string(vs.LVSMethod))
	b = fpString(b, vs.PersistenceEngine)
	b = fpDurationPtr(b, vs.PersistenceTimeout)
	b = fpString(b, vs.PersistenceGranularity)
	b = fpString(b, vs.Protocol)
	b = fpBool(b, vs.Alpha)
	b = fpIntPtr(b, vs.Quorum)
	b = fpIntPtr(b, vs.Hysteresis)
	b = fpIntPtr(b, vs.Weight)
	b = fpEndpoint(b, vs.SorryServer)
	b = fpBool(b, vs.SorryServerInhibit)
	b = fpString(b, string(vs.SorryServerLVSMethod))
	b = binary.AppendUvarint(b, uint64(len(vs.RealServers)))
	for _, rs := range vs.RealServers {
		if rs == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = fpEndpoint(b, rs.Address)
		b = fpIntPtr(b, rs.Weight)
		b = fpString(b, string(rs.LVSMethod))
		b = fpIntPtr(b, rs.UThreshold)
		b = fpIntPtr(b, rs.LThreshold)
		b = fpBoolPtr(b, rs.InhibitOnFailure)
		b = fpBoolPtr(b, rs.Alpha)
		b = fpBool(b, hasCheckers(rs))
	}
	return b, true
}

func fpString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func fpInt(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func fpBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func fpIntPtr(b []byte, p *int) []byte {
	if p == nil {
		return append(b, 0)
	}
	return fpInt(append(b, 1), int64(*p))
}

func fpBoolPtr(b []byte, p *bool) []byte {
	if p == nil {
		return append(b, 0)
	}
	return fpBool(append(b, 1), *p)
}

func fpDurationPtr(b []byte, p *config.Duration) []byte {
	if p == nil {
		return append(b, 0)
	}
	return fpInt(append(b, 1), int64(*p))
}

func fpEndpoint(b []byte, e config.Endpoint) []byte {
	return fpInt(fpString(b, e.Host), int64(e.Port))
}
