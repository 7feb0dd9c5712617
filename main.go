// Command kt is keepalived rebuilt in Go: VRRP, LVS health checking and the
// tools to debug them, in one binary.
package main

import (
	"os"

	"github.com/kt-project/kt/commands"
)

func main() {
	os.Exit(commands.Main(os.Args))
}
