package vrrp

import (
	"fmt"
	"slices"

	"github.com/kt-project/kt/vrrp/wire"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// recvFilter returns the classic BPF program attached to a receive socket
// so that the kernel drops, before they are queued, datagrams for VRIDs
// that no instance on the socket has: a flood of adverts for other VRIDs
// then costs kt nothing and cannot crowd out the adverts it needs.
//
// On an IPv4 raw socket the program sees the IP header: it accepts IP
// protocol 112 with one of vrids at the VRRP header's second byte, and,
// when ah is set, protocol 51 with one of vrids after the AH header
// (AHLen bytes). On an IPv6 raw socket it sees the VRRP message itself.
// Datagrams too short to hold a VRID are dropped (a load past the end
// returns 0 from the program).
func recvFilter(v6, ah bool, vrids []uint8) ([]bpf.RawInstruction, error) {
	vrids = slices.Clone(vrids)
	slices.Sort(vrids)
	vrids = slices.Compact(vrids)
	if len(vrids) > 250 {
		return nil, fmt.Errorf("vrrp: %d VRIDs on one socket", len(vrids))
	}
	// matchVRIDs ends a program whose accumulator holds the VRID: accept
	// on any of vrids, else drop.
	matchVRIDs := func(prog []bpf.Instruction) []bpf.Instruction {
		n := len(vrids)
		for i, v := range vrids {
			// Jump to accept, n-i-1 compares ahead plus the drop.
			prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(v), SkipTrue: uint8(n - i)})
		}
		return append(prog, bpf.RetConstant{Val: 0}, bpf.RetConstant{Val: 0x40000})
	}
	var prog []bpf.Instruction
	switch {
	case v6:
		prog = matchVRIDs([]bpf.Instruction{bpf.LoadAbsolute{Off: 1, Size: 1}})
	case !ah:
		prog = matchVRIDs([]bpf.Instruction{
			bpf.LoadAbsolute{Off: 9, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: IPProto, SkipTrue: 1},
			bpf.RetConstant{Val: 0},
			bpf.LoadMemShift{Off: 0}, // X = IP header length
			bpf.LoadIndirect{Off: 1, Size: 1},
		})
	default:
		prog = matchVRIDs([]bpf.Instruction{
			bpf.LoadMemShift{Off: 0}, // X = IP header length
			bpf.LoadAbsolute{Off: 9, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: IPProto, SkipTrue: 5},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: wire.IPProtoAH, SkipTrue: 1},
			bpf.RetConstant{Val: 0},
			// AH: skip its header to the VRRP message.
			bpf.TXA{},
			bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: wire.AHLen},
			bpf.TAX{},
			bpf.LoadIndirect{Off: 1, Size: 1},
		})
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("vrrp: assemble receive filter: %w", err)
	}
	return raw, nil
}

// attachFilter sets prog as fd's socket filter (SO_ATTACH_FILTER).
func attachFilter(fd int, prog []bpf.RawInstruction) error {
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fp := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("SO_ATTACH_FILTER: %w", err)
	}
	return nil
}

// dropAll is the filter of a socket that only sends, as keepalived's
// if_setsockopt_no_receive: nothing is ever queued to it.
func dropAll() []bpf.RawInstruction {
	return []bpf.RawInstruction{{Op: unix.BPF_RET | unix.BPF_K, K: 0}}
}
