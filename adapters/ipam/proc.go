package ipam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
	"golang.org/x/sys/unix"
)

// proc is the invoke.Exec the delegate uses by default. invoke keeps the
// protocol: the environment, finding the plugin, decoding and checking its
// result. proc only runs the process, as invoke.RawExec does with os/exec,
// but with syscall.ForkExec and plain pipes: under emulation os/exec's
// start and wait cost about 3.5 ms of wall time and 6 ms of CPU per exec
// more, and IPAM's exec is on ADD's critical path.
type proc struct {
	version.PluginDecoder
	// stderr gets what the plugin wrote there once it has exited.
	stderr io.Writer
}

var _ invoke.Exec = &proc{}

func (*proc) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

// busyRetries is how often a plugin binary still open for writing ("text
// file busy": an installer is replacing it) is tried again, after
// waitBusy. When the retries run out the error is returned (RawExec
// returned an empty output then).
const busyRetries = 5

// waitBusy waits a second before a busy binary is tried again; tests
// replace it.
var waitBusy = func(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
		return nil
	}
}

// ExecPlugin runs the plugin at path with stdin and environ and returns its
// stdout. A failed plugin gives a *types.Error: its own error JSON from
// stdout, or a message built from its stderr and exit status (or why it
// could not be run). A context that has ended starts nothing.
func (p *proc) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			return nil, pluginError(err, nil, nil)
		}
		stdout, stderr, err := runProcess(ctx, path, stdin, environ)
		if errors.Is(err, syscall.ETXTBSY) && try < busyRetries {
			if werr := waitBusy(ctx); werr != nil {
				return nil, pluginError(werr, nil, nil)
			}
			continue
		}
		if err != nil {
			// A plugin that could not be started or waited for reads like
			// one that failed silently, as with invoke.RawExec.
			return nil, pluginError(err, stdout, stderr)
		}
		if p.stderr != nil && len(stderr) > 0 {
			_, _ = p.stderr.Write(stderr)
		}
		return stdout, nil
	}
}

// exitError is a plugin that exited non-zero or was killed.
type exitError struct{ status syscall.WaitStatus }

func (e *exitError) Error() string {
	if !e.status.Signaled() {
		return fmt.Sprintf("exit status %d", e.status.ExitStatus())
	}
	msg := "signal: " + e.status.Signal().String()
	if e.status.CoreDump() {
		msg += " (core dumped)"
	}
	return msg
}

// pluginError reads a failed plugin's output as invoke.RawExec does.
func pluginError(failure error, stdout, stderr []byte) *types.Error {
	var e types.Error
	switch {
	case len(stdout) > 0:
		if err := json.Unmarshal(stdout, &e); err != nil {
			e.Msg = fmt.Sprintf("netplugin failed but error parsing its diagnostic message %q: %v", stdout, err)
		}
	case len(stderr) > 0:
		e.Msg = fmt.Sprintf("netplugin failed: %q: %v", stderr, failure)
	default:
		e.Msg = fmt.Sprintf("netplugin failed with no error message: %v", failure)
	}
	return &e
}

// runProcess runs path to completion. Its stdin is written and its stdout
// and stderr read concurrently, so a plugin that writes much to either
// never blocks. If ctx ends first the process is killed.
func runProcess(ctx context.Context, path string, stdin []byte, environ []string) (stdout, stderr []byte, err error) {
	var pipes [3][2]*os.File // stdin, stdout, stderr: {read, write}
	defer func() {
		for _, p := range pipes {
			for _, f := range p {
				if f != nil {
					f.Close()
				}
			}
		}
	}()
	for i := range pipes {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		pipes[i] = [2]*os.File{r, w}
	}
	child := func(i, end int) uintptr { return pipes[i][end].Fd() }
	pid, err := syscall.ForkExec(path, []string{path}, &syscall.ProcAttr{
		Env:   environ,
		Files: []uintptr{child(0, 0), child(1, 1), child(2, 1)},
	})
	// The child's ends are its own now (or nobody's).
	for _, c := range [][2]int{{0, 0}, {1, 1}, {2, 1}} {
		pipes[c[0]][c[1]].Close()
		pipes[c[0]][c[1]] = nil
	}
	if err != nil {
		return nil, nil, &os.PathError{Op: "fork/exec", Path: path, Err: err}
	}

	reaper := &reaper{pid: pid}
	defer context.AfterFunc(ctx, reaper.kill)()

	var wg sync.WaitGroup
	var errOut bytes.Buffer
	wg.Go(func() {
		_, _ = pipes[0][1].Write(stdin) // a plugin may exit without reading it
		pipes[0][1].Close()
	})
	wg.Go(func() { _, _ = errOut.ReadFrom(pipes[2][0]) })
	var out bytes.Buffer
	_, readErr := out.ReadFrom(pipes[1][0])
	wg.Wait()

	status, err := reaper.wait()
	if err != nil {
		return nil, nil, fmt.Errorf("waiting for %s: %w", path, err)
	}
	if readErr != nil {
		return nil, nil, fmt.Errorf("reading the output of %s: %w", path, readErr)
	}
	if !status.Exited() || status.ExitStatus() != 0 {
		return out.Bytes(), errOut.Bytes(), &exitError{status}
	}
	return out.Bytes(), errOut.Bytes(), nil
}

// reaper waits for a child and kills it on request, never after it is
// reaped: it first waits without reaping (WNOWAIT), so a kill can only
// reach this child, never a process that reused its pid.
type reaper struct {
	pid    int
	mu     sync.Mutex
	exited bool
}

func (r *reaper) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.exited {
		_ = syscall.Kill(r.pid, syscall.SIGKILL)
	}
}

func (r *reaper) wait() (syscall.WaitStatus, error) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, r.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return 0, err
		}
	}
	r.mu.Lock()
	r.exited = true
	r.mu.Unlock()
	var status syscall.WaitStatus
	for {
		_, err := syscall.Wait4(r.pid, &status, 0, nil)
		if err != syscall.EINTR {
			return status, err
		}
	}
}
