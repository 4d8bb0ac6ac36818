package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The cold-start benchmarks exec the built plugin as a runtime does, next
// to the hello-world floor built with the same flags, alternating so that
// the machine's drifting speed hits both alike, and report medians and
// their ratio: what start-up costs on top of any Go process start. They
// need neither root nor the VM (go test -run '^$' -bench Cold ./cmd/bond).

var built struct {
	once        sync.Once
	bond, hello string
	err         error
}

// binaries builds cmd/bond and the hello-world floor once per test binary,
// static and stripped as make build does.
func binaries(b *testing.B) (bond, hello string) {
	b.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "bond-coldstart")
		if err != nil {
			built.err = err
			return
		}
		built.bond, built.hello = filepath.Join(dir, "bond"), filepath.Join(dir, "hello")
		for out, pkg := range map[string]string{built.bond: ".", built.hello: "../../integration/cmd/hello"} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if msg, err := cmd.CombinedOutput(); err != nil {
				built.err = &buildError{pkg: pkg, msg: string(msg), err: err}
				return
			}
		}
	})
	if built.err != nil {
		b.Fatal(built.err)
	}
	return built.bond, built.hello
}

type buildError struct {
	pkg, msg string
	err      error
}

func (e *buildError) Error() string { return "building " + e.pkg + ": " + e.err.Error() + "\n" + e.msg }

// coldExec runs one process to completion and returns its wall time and
// its CPU time (user+sys, from wait4's rusage).
func coldExec(b *testing.B, path string, env []string, stdin []byte) (wall, cpu time.Duration) {
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v: %s", path, err, out.Bytes())
	}
	wall = time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return wall, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchCold alternates a cold exec of the plugin with env and stdin and one
// of hello world per iteration.
func benchCold(b *testing.B, env []string, stdin []byte) {
	bond, hello := binaries(b)
	var bw, bc, hw, hc []time.Duration
	i := 0
	for b.Loop() {
		// Alternate which runs first, so neither always follows the other.
		if i%2 == 0 {
			w, c := coldExec(b, hello, nil, nil)
			hw, hc = append(hw, w), append(hc, c)
		}
		w, c := coldExec(b, bond, env, stdin)
		bw, bc = append(bw, w), append(bc, c)
		if i%2 == 1 {
			w, c := coldExec(b, hello, nil, nil)
			hw, hc = append(hw, w), append(hc, c)
		}
		i++
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(median(bw)), "bond-ms")
	b.ReportMetric(ms(median(hw)), "hello-ms")
	b.ReportMetric(float64(median(bw))/float64(median(hw)), "wall/hello")
	b.ReportMetric(ms(median(bc)), "bond-cpu-ms")
	b.ReportMetric(float64(median(bc))/float64(median(hc)), "cpu/hello")
}

// BenchmarkColdVersion: CNI_COMMAND=VERSION, which builds nothing.
func BenchmarkColdVersion(b *testing.B) {
	benchCold(b, []string{"CNI_COMMAND=VERSION"}, []byte(`{"cniVersion":"1.1.0"}`))
}

// BenchmarkColdWired: STATUS of a network without IPAM, which builds the
// whole graph of ADD and DEL, parses the config and returns: start-up of a
// verb that does kernel work, without the kernel work.
func BenchmarkColdWired(b *testing.B) {
	benchCold(b, []string{"CNI_COMMAND=STATUS", "CNI_PATH=/nonexistent"},
		[]byte(`{"cniVersion":"1.1.0","name":"bench","type":"bond","mode":"active-backup","miimon":100,"links":["a","b"]}`))
}
