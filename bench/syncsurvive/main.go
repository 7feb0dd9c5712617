// Command syncsurvive runs inside the IPVS test VM (bench/syncsurvive.sh
// starts it there): for each mode, without and with lvs_sync_daemon, it
// builds the two-director lab of internal/synclab, opens N client
// connections through director A, takes A off the LAN, and counts the
// connections that still carry data through B. One line per mode:
//
//	mode=sync conns=N listed_on_B=N survived=N takeover_ms=T
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kt-project/kt/internal/synclab"
)

func main() {
	kt := flag.String("kt", "", "the kt binary")
	n := flag.Int("n", 100, "connections")
	dir := flag.String("dir", os.TempDir(), "work directory")
	flag.Parse()
	if *kt == "" {
		fmt.Fprintln(os.Stderr, "syncsurvive: -kt is required")
		os.Exit(2)
	}
	for _, sync := range []bool{false, true} {
		if err := one(*kt, *n, *dir, sync); err != nil {
			fmt.Fprintln(os.Stderr, "syncsurvive:", err)
			os.Exit(1)
		}
	}
}

func one(kt string, n int, dir string, sync bool) error {
	mode := "nosync"
	if sync {
		mode = "sync"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lab, err := synclab.Start(ctx, synclab.Options{KT: kt, Sync: sync, Dir: filepath.Join(dir, mode), Prefix: "ktsb"})
	if err != nil {
		return fmt.Errorf("%s: %w", mode, err)
	}
	defer lab.Close()
	conns, err := lab.Dial(n)
	if err != nil {
		return fmt.Errorf("%s: %w", mode, err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Both modes wait alike: until B lists every connection, at most 20 s
	// (without sync it never does).
	limit := 20 * time.Second
	if !sync {
		limit = 5 * time.Second
	}
	listed, err := lab.WaitSynced(conns, limit)
	if err != nil {
		return fmt.Errorf("%s: %w", mode, err)
	}
	took, err := lab.FailA(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", mode, err)
	}
	alive, first := synclab.Survivors(conns, 15*time.Second)
	fmt.Printf("mode=%s conns=%d listed_on_B=%d survived=%d takeover_ms=%d\n", mode, n, listed, alive, took.Milliseconds())
	if first != nil && sync {
		fmt.Printf("first_failure=%q\n", first.Error())
	}
	return nil
}
