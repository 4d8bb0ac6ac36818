// Command bond-rusage runs a program and reports its peak RSS, for
// bond-bench's RSS figures.
//
//	bond-rusage -o FILE PROGRAM [ARG...]
//
// It runs PROGRAM with this process's environment, stdin, stdout and
// stderr, waits for it, writes "maxrss_kib=N hwm_self_kib=M" to FILE and
// exits with PROGRAM's exit status.
//
// Why a helper: the kernel seeds an exec'd process's ru_maxrss with the
// peak RSS of the address space it replaces (exec_mmap), and Go's os/exec
// starts children with vfork semantics (CLONE_VM), so a child of the
// benchmark would report at least the benchmark's own peak RSS. Started
// from this small process instead, PROGRAM reports the larger of its own
// peak and this helper's (hwm_self_kib, about as much as a hello-world Go
// binary), which is the resolution of the figure.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

func main() {
	out := flag.String("o", "", "file to write the figures to")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: bond-rusage -o FILE PROGRAM [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "bond-rusage:", err)
		os.Exit(127)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		fmt.Fprintln(os.Stderr, "bond-rusage: no rusage")
		os.Exit(127)
	}
	line := fmt.Sprintf("maxrss_kib=%d hwm_self_kib=%d\n", ru.Maxrss, selfHWM())
	if err := os.WriteFile(*out, []byte(line), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "bond-rusage:", err)
		os.Exit(127)
	}
	os.Exit(code)
}

// selfHWM is this process's own peak RSS (VmHWM), in KiB.
func selfHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			_, _ = fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
			return kib
		}
	}
	return 0
}
