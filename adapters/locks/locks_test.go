package locks

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

func TestClaimIsExclusiveAndNamesTheHolder(t *testing.T) {
	l := New(t.TempDir())
	release, err := l.Claim(context.Background(), []string{"eth1", "eth0"}, "container A")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = l.Claim(ctx, []string{"eth0"}, "container B")
	require.Error(t, err)
	assert.ErrorIs(t, err, domain.ErrBusy)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), `"eth0"`)
	assert.Contains(t, err.Error(), "container A")

	release()
	release() // idempotent
	r2, err := l.Claim(context.Background(), []string{"eth0"}, "container B")
	require.NoError(t, err)
	r2()
}

func TestClaimSerialisesRacers(t *testing.T) {
	l := New(t.TempDir())
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Opposite orders must not deadlock: Claim sorts.
			names := []string{"a", "b"}
			if i%2 == 1 {
				names = []string{"b", "a"}
			}
			rel, err := l.Claim(context.Background(), names, "racer")
			if !assert.NoError(t, err) {
				return
			}
			n := inside.Add(1)
			for {
				m := maxInside.Load()
				if n <= m || maxInside.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			rel()
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), maxInside.Load())
}

// A lock dies with its process: a SIGKILLed plugin never leaves a link locked.
func TestLockReleasedWhenHolderDies(t *testing.T) {
	if os.Getenv("LOCKS_HELPER_DIR") != "" {
		_, err := New(os.Getenv("LOCKS_HELPER_DIR")).Claim(context.Background(), []string{"eth9"}, "doomed")
		if err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Hour)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLockReleasedWhenHolderDies$")
	cmd.Env = append(os.Environ(), "LOCKS_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	buf := make([]byte, 7)
	_, err = out.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "locked\n", string(buf))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	_, err = New(dir).Claim(ctx, []string{"eth9"}, "me")
	cancel()
	require.ErrorIs(t, err, domain.ErrBusy, "held while the holder lives")

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	rel, err := New(dir).Claim(context.Background(), []string{"eth9"}, "me")
	require.NoError(t, err, "released by the kernel when the holder died")
	rel()
}
