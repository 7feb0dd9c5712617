package testenv

import "go.uber.org/goleak"

// IgnoreGoBGPLeak is the goleak option for the one goroutine GoBGP
// v4.8.0 itself can leave behind: it closes a peer's or a watcher's
// eapache/channels InfiniteChannel and then drains its output without
// waiting (pkg/server/util.go cleanInfiniteChannel: a select with a
// default), so when items are still buffered the channel's goroutine
// (infiniteBuffer) can stay blocked sending one that nobody reads, for
// ever. It failed a CI run once (2026-12-06, in bgp). It is not a
// goroutine kt starts, and every other GoBGP goroutine is still checked.
func IgnoreGoBGPLeak() goleak.Option {
	return goleak.IgnoreTopFunction("github.com/eapache/channels.(*InfiniteChannel).infiniteBuffer")
}
