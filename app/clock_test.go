package app_test

import (
	"sync"
	"time"
)

// fakeClock is an app.Clock whose time moves only when read (by step, so
// timestamps differ) or waited on: After(d) moves it d on and delivers at
// once, so a wait against it takes no real time and ends after exactly
// the waits its deadline allows.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	step  time.Duration
	waits int
	// onWait, if set, runs after the nth wait (1 = the first), as the
	// world changes while a use case waits.
	onWait func(n int)
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.waits++
	n, now, hook := c.waits, c.now, c.onWait
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

func (c *fakeClock) elapsed(since time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now.Sub(since)
}
