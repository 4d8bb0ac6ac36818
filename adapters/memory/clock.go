package memory

import (
	"sync"
	"time"
)

// Clock is an app.Clock for tests. Its time moves only when read (by the
// step given to NewClock, so that timestamps differ) or waited on: After(d)
// moves it d on and delivers at once, so a wait against it takes no real
// time and ends after exactly the waits its deadline allows.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	step   time.Duration
	waits  int
	onWait func(n int)
}

// NewClock returns a Clock at start that moves step on at every Now.
func NewClock(start time.Time, step time.Duration) *Clock {
	return &Clock{now: start, step: step}
}

// OnWait makes fn run at the nth wait (1 = the first), before that wait
// delivers: the world changing while a use case waits.
func (c *Clock) OnWait(fn func(n int)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onWait = fn
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

func (c *Clock) After(d time.Duration) <-chan time.Time {
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

// Waits is how many times After was called.
func (c *Clock) Waits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waits
}

// Since is how far the clock has moved from t, without moving it.
func (c *Clock) Since(t time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now.Sub(t)
}
