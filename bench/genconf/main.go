// Command genconf writes a synthetic keepalived.conf for benchmarks:
//
//	go run ./bench/genconf -vs 10000 -rs 4 -o FILE
//
// It writes to standard output when -o is not given. -iface names the VRRP
// interface (default eth0); keepalived -t rejects loopback and interfaces that
// do not exist on the machine.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/kt-project/kt/internal/confgen"
)

func main() {
	vs := flag.Int("vs", 10000, "number of virtual_server blocks")
	rs := flag.Int("rs", 4, "number of real_server blocks in each virtual server")
	iface := flag.String("iface", confgen.DefaultInterface, "VRRP interface of the generated vrrp_instance")
	out := flag.String("o", "", "output file (default: standard output)")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "genconf: unexpected arguments: %v\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*iface, *vs, *rs, *out); err != nil {
		fmt.Fprintln(os.Stderr, "genconf:", err)
		os.Exit(1)
	}
}

func run(iface string, vs, rs int, out string) error {
	var w io.Writer = os.Stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		if err := confgen.LVSOnInterface(f, iface, vs, rs); err != nil {
			f.Close()
			os.Remove(out)
			return err
		}
		return f.Close()
	}
	return confgen.LVSOnInterface(w, iface, vs, rs)
}
