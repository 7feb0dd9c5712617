package commands

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
)

// An applet is a program kt stands in for when it is called by that
// program's name (a symlink /usr/sbin/keepalived -> kt) or as `kt NAME`:
// the other program's command line, output and exit codes over the same
// packages as kt's own commands.
type applet struct {
	name  string
	about string
	// main runs the applet with args[0] the name it was called by and
	// returns the exit code.
	main func(args []string, stdout, stderr io.Writer) int
}

// applets lists the programs kt answers to.
func applets() []applet {
	return []applet{
		{name: "keepalived", about: "keepalived 2.2.7's command line: the daemon (kt run), -t config test, --signum, -T genhash", main: keepalivedMain},
		{name: "genhash", about: "keepalived's genhash: the MD5 digest of a page as HTTP_GET/SSL_GET compute it", main: genhashMain},
		{name: "ipvsadm", about: "ipvsadm 1.31's command line: list, save, restore and change the kernel's IPVS table", main: ipvsadmMain},
		{name: "ipvsadm-restore", about: "ipvsadm's ipvsadm-restore script: the table cleared, then ipvsadm -R of stdin without its # lines", main: ipvsadmRestoreMain},
		{name: "ipvsadm-save", about: "ipvsadm's ipvsadm-save script: ipvsadm -S [-n]", main: ipvsadmSaveMain},
	}
}

// findApplet returns the applet called name, or nil.
func findApplet(name string) *applet {
	for _, a := range applets() {
		if a.name == name {
			return &a
		}
	}
	return nil
}

// dispatchApplet runs the applet args name, by the program's own name
// (argv[0]) or as kt's first argument, and reports whether it did.
func dispatchApplet(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	if a := findApplet(filepath.Base(args[0])); a != nil {
		return a.main(args, stdout, stderr), true
	}
	if len(args) > 1 {
		if a := findApplet(args[1]); a != nil {
			return a.main(args[1:], stdout, stderr), true
		}
		if args[1] == "--list-applets" {
			listApplets(stdout)
			return exitOK, true
		}
	}
	return 0, false
}

// listApplets prints one applet a line: its name and what it does.
func listApplets(w io.Writer) {
	as := applets()
	sort.Slice(as, func(i, j int) bool { return as[i].name < as[j].name })
	width := 0
	for _, a := range as {
		width = max(width, len(a.name))
	}
	for _, a := range as {
		fmt.Fprintf(w, "%-*s  %s\n", width, a.name, a.about)
	}
}
