package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// execResult is one cold exec: wall time from fork to reaped exit.
type execResult struct {
	Wall   time.Duration
	Stdout []byte
	Stderr []byte
}

// run execs path once with env (added to ours, as libcni's invoke does) and
// stdin. A non-zero exit is an error carrying the output. (The child's
// ru_maxrss would be worthless here: see integration/bench/rusage.)
func run(path string, env []string, stdin []byte, args ...string) (execResult, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := execResult{Wall: time.Since(start), Stdout: out.Bytes(), Stderr: errb.Bytes()}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return r, fmt.Errorf("%s exited %d: stdout %q stderr %q", path, ee.ExitCode(), out.String(), errb.String())
		}
		return r, fmt.Errorf("running %s: %w", path, err)
	}
	return r, nil
}

// peakRSS runs path through the bond-rusage helper and returns the child's
// ru_maxrss (KiB; the larger of its own peak and its reaped children's,
// here the IPAM plugin's) and the helper's own peak, the resolution.
func peakRSS(helper, path string, env []string, stdin []byte) (maxrss, resolution int64, err error) {
	f, err := os.CreateTemp("", "rusage")
	if err != nil {
		return 0, 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	if _, err := run(helper, env, stdin, "-o", f.Name(), path); err != nil {
		return 0, 0, err
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscanf(string(b), "maxrss_kib=%d hwm_self_kib=%d", &maxrss, &resolution); err != nil {
		return 0, 0, fmt.Errorf("bond-rusage wrote %q: %w", b, err)
	}
	return maxrss, resolution, nil
}

// cniEnv is the environment a runtime gives a plugin for one verb.
func cniEnv(cmd, containerID, netns, ifname, path string) []string {
	return []string{
		"CNI_COMMAND=" + cmd,
		"CNI_CONTAINERID=" + containerID,
		"CNI_NETNS=" + netns,
		"CNI_IFNAME=" + ifname,
		"CNI_ARGS=" + podArgs(containerID),
		"CNI_PATH=" + path,
	}
}

// podArgs is the CNI_ARGS a Kubernetes runtime sends (libcni builds the
// same string from RuntimeConf.Args).
func podArgs(containerID string) string {
	return "IgnoreUnknown=true;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-" + containerID
}
