package netlab

import (
	"testing"
	"time"
)

// TestDeadlinePause: a gap between looks longer than the interval and the
// slack pushes the deadline back by the gap, up to maxPause; steady looks
// do not.
func TestDeadlinePause(t *testing.T) {
	at := time.Unix(0, 0)
	now := func() time.Time { return at }
	d := newDeadline(30*time.Second, 20*time.Millisecond, now)
	for i := 0; i < 1000; i++ { // 20 s of steady looks
		at = at.Add(20 * time.Millisecond)
		if d.Passed() {
			t.Fatalf("passed after %v", time.Duration(i+1)*20*time.Millisecond)
		}
	}
	at = at.Add(38 * time.Second) // the machine stood still
	if d.Passed() || d.Pushed() != 38*time.Second-20*time.Millisecond {
		t.Fatalf("a pause of 38 s: passed %v, pushed %v", d.Passed(), d.Pushed())
	}
	for i := 0; i < 498; i++ { // up to 30 s of looks (the pause counts as one look)
		at = at.Add(20 * time.Millisecond)
		if d.Passed() {
			t.Fatalf("passed after %v more", time.Duration(i+1)*20*time.Millisecond)
		}
	}
	at = at.Add(20 * time.Millisecond)
	if !d.Passed() {
		t.Fatalf("not passed at 30 s of looks")
	}
	e := newDeadline(time.Second, time.Second, now)
	for i := 0; i < 10; i++ {
		at = at.Add(time.Hour)
		e.Passed()
	}
	if e.Pushed() != maxPause {
		t.Fatalf("pushed %v, want at most %v", e.Pushed(), maxPause)
	}
	if !e.Passed() {
		t.Fatal("never passes")
	}
}
