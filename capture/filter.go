package capture

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Filter returns the classic BPF program that the live capture attaches to
// its socket, so that only these frames reach kt: VRRP (IP protocol 112)
// and AH (51) over IPv4 and IPv6, ARP, ICMPv6 neighbour advertisements
// without extension headers, and BFD control packets (UDP to port 3784 or
// 4784; IPv4 first fragments only, IPv6 without extension headers).
// Everything else is dropped in the kernel.
func Filter() ([]bpf.RawInstruction, error) {
	const (
		etherType = 12
		ip4Frag   = 14 + 6
		ip4Proto  = 14 + 9
		ip6Next   = 14 + 6
		icmp6Type = 14 + 40
		udp6Dport = 14 + 40 + 2
		accept    = 0x40000
	)
	// Jump targets by label, resolved below.
	type jump struct {
		cond      bpf.JumpTest
		val       uint32
		yes, no   string // "" = next instruction
		insnIndex int
	}
	var prog []bpf.Instruction
	labels := map[string]int{}
	var jumps []jump
	label := func(name string) { labels[name] = len(prog) }
	emit := func(i bpf.Instruction) { prog = append(prog, i) }
	jmp := func(cond bpf.JumpTest, val uint32, yes, no string) {
		jumps = append(jumps, jump{cond, val, yes, no, len(prog)})
		emit(nil)
	}
	emit(bpf.LoadAbsolute{Off: etherType, Size: 2})
	jmp(bpf.JumpEqual, 0x0806, "accept", "")
	jmp(bpf.JumpEqual, 0x0800, "ip4", "")
	jmp(bpf.JumpEqual, 0x86dd, "ip6", "reject")
	label("ip4")
	emit(bpf.LoadAbsolute{Off: ip4Proto, Size: 1})
	jmp(bpf.JumpEqual, 112, "accept", "")
	jmp(bpf.JumpEqual, 51, "accept", "")
	jmp(bpf.JumpEqual, 17, "", "reject")
	emit(bpf.LoadAbsolute{Off: ip4Frag, Size: 2})
	jmp(bpf.JumpBitsSet, 0x1fff, "reject", "")
	emit(bpf.LoadMemShift{Off: 14})
	emit(bpf.LoadIndirect{Off: 14 + 2, Size: 2})
	jmp(bpf.JumpEqual, 3784, "accept", "")
	jmp(bpf.JumpEqual, 4784, "accept", "reject")
	label("ip6")
	emit(bpf.LoadAbsolute{Off: ip6Next, Size: 1})
	jmp(bpf.JumpEqual, 112, "accept", "")
	jmp(bpf.JumpEqual, 51, "accept", "")
	jmp(bpf.JumpEqual, 17, "udp6", "")
	jmp(bpf.JumpEqual, 58, "", "reject")
	emit(bpf.LoadAbsolute{Off: icmp6Type, Size: 1})
	jmp(bpf.JumpEqual, 136, "accept", "reject")
	label("udp6")
	emit(bpf.LoadAbsolute{Off: udp6Dport, Size: 2})
	jmp(bpf.JumpEqual, 3784, "accept", "")
	jmp(bpf.JumpEqual, 4784, "accept", "reject")
	label("accept")
	emit(bpf.RetConstant{Val: accept})
	label("reject")
	emit(bpf.RetConstant{Val: 0})
	skip := func(from int, to string) (uint8, error) {
		if to == "" {
			return 0, nil
		}
		d := labels[to] - from - 1
		if d < 0 || d > 255 {
			return 0, fmt.Errorf("capture: BPF jump to %s out of range", to)
		}
		return uint8(d), nil
	}
	for _, j := range jumps {
		yes, err := skip(j.insnIndex, j.yes)
		if err != nil {
			return nil, err
		}
		no, err := skip(j.insnIndex, j.no)
		if err != nil {
			return nil, err
		}
		prog[j.insnIndex] = bpf.JumpIf{Cond: j.cond, Val: j.val, SkipTrue: yes, SkipFalse: no}
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("capture: assemble BPF filter: %w", err)
	}
	return raw, nil
}
