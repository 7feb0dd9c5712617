package capture

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Filter returns the classic BPF program that the live capture attaches to
// its socket, so that only these frames reach kt: VRRP (IP protocol 112)
// and AH (51) over IPv4 and IPv6, ARP, and ICMPv6 neighbour advertisements
// without extension headers. Everything else is dropped in the kernel.
func Filter() ([]bpf.RawInstruction, error) {
	const (
		etherType = 12
		ip4Proto  = 14 + 9
		ip6Next   = 14 + 6
		icmp6Type = 14 + 40
		accept    = 0x40000
	)
	const acceptAt, rejectAt = 13, 14
	skipTo := func(from, to int) uint8 { return uint8(to - from - 1) }
	prog := []bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: etherType, Size: 2},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0806, SkipTrue: skipTo(1, acceptAt)},
		/* 2 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipTrue: skipTo(2, 4)},
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x86dd, SkipTrue: skipTo(3, 7), SkipFalse: skipTo(3, rejectAt)},
		// IPv4: protocol
		/* 4 */ bpf.LoadAbsolute{Off: ip4Proto, Size: 1},
		/* 5 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 112, SkipTrue: skipTo(5, acceptAt)},
		/* 6 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 51, SkipTrue: skipTo(6, acceptAt), SkipFalse: skipTo(6, rejectAt)},
		// IPv6: next header
		/* 7 */ bpf.LoadAbsolute{Off: ip6Next, Size: 1},
		/* 8 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 112, SkipTrue: skipTo(8, acceptAt)},
		/* 9 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 51, SkipTrue: skipTo(9, acceptAt)},
		/* 10 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 58, SkipFalse: skipTo(10, rejectAt)},
		/* 11 */ bpf.LoadAbsolute{Off: icmp6Type, Size: 1},
		/* 12 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 136, SkipFalse: skipTo(12, rejectAt)},
		/* 13 */ bpf.RetConstant{Val: accept},
		/* 14 */ bpf.RetConstant{Val: 0},
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("capture: assemble BPF filter: %w", err)
	}
	return raw, nil
}
