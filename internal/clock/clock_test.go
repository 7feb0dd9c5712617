package clock

import (
	"context"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFakeRunsTimersInOrder(t *testing.T) {
	c := NewFake(epoch)
	var got []time.Duration
	record := func() { got = append(got, c.Now().Sub(epoch)) }
	c.AfterFunc(3*time.Second, record)
	c.AfterFunc(time.Second, func() {
		record()
		c.AfterFunc(time.Second, record) // due at 2 s, inside this Advance
	})
	stopped := c.AfterFunc(2500*time.Millisecond, record)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop of a pending timer: want true once, then false")
	}
	c.Advance(2500 * time.Millisecond)
	if want := []time.Duration{time.Second, 2 * time.Second}; !equal(got, want) {
		t.Fatalf("after 2.5 s fired at %v, want %v", got, want)
	}
	if c.Now().Sub(epoch) != 2500*time.Millisecond {
		t.Fatalf("now %v", c.Now().Sub(epoch))
	}
	if n := c.Pending(); n != 1 {
		t.Fatalf("pending %d, want 1", n)
	}
	c.Advance(time.Second)
	if len(got) != 3 || got[2] != 3*time.Second {
		t.Fatalf("fired at %v", got)
	}
}

func TestSleep(t *testing.T) {
	c := NewFake(epoch)
	added := c.Added()
	done := make(chan error, 1)
	go func() { done <- Sleep(context.Background(), c, time.Minute) }()
	<-added
	c.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, c, time.Hour); err == nil {
		t.Fatal("Sleep on an ended context returned nil")
	}
	if c.Pending() != 0 {
		t.Fatal("a cancelled Sleep left its timer")
	}
	if !IsReal(Or(nil)) || IsReal(c) {
		t.Fatal("Or(nil) is not the wall clock, or a Fake is")
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
