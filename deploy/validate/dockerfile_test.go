package validate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case
	Args string
	Line int
}

// stage is one FROM ... section.
type stage struct {
	Image, Name, Platform string
	Instrs                []instruction
}

func parseDockerfile(text string) ([]stage, error) {
	var stages []stage
	var cur *instruction
	var instrs []instruction
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur == nil && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur != nil && strings.HasPrefix(trimmed, "#") {
			continue // comment lines inside a continued instruction
		}
		cont := strings.HasSuffix(trimmed, "\\")
		trimmed = strings.TrimSuffix(trimmed, "\\")
		if cur == nil {
			cmd, args, _ := strings.Cut(trimmed, " ")
			cur = &instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: n}
		} else {
			cur.Args = strings.TrimSpace(cur.Args + " " + strings.TrimSpace(trimmed))
		}
		if !cont {
			instrs = append(instrs, *cur)
			cur = nil
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: unterminated continuation", cur.Line)
	}
	for _, in := range instrs {
		if in.Cmd == "FROM" {
			var st stage
			f := strings.Fields(in.Args)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				if v, ok := strings.CutPrefix(f[0], "--platform="); ok {
					st.Platform = v
				}
				f = f[1:]
			}
			if len(f) == 0 {
				return nil, fmt.Errorf("line %d: FROM without an image", in.Line)
			}
			st.Image = f[0]
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before FROM", in.Line, in.Cmd)
			}
			continue
		}
		stages[len(stages)-1].Instrs = append(stages[len(stages)-1].Instrs, in)
	}
	return stages, nil
}

var assignment = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=\S*$`)

// makeInvocation splits "A=1 B=2 make build X=3" into the environment, the
// make targets and the make variables; ok is false when it is not a make
// call.
func makeInvocation(run string) (env, targets, vars []string, ok bool) {
	f := strings.Fields(run)
	i := 0
	for i < len(f) && assignment.MatchString(f[i]) {
		env = append(env, f[i])
		i++
	}
	if i == len(f) || f[i] != "make" {
		return nil, nil, nil, false
	}
	for _, a := range f[i+1:] {
		if assignment.MatchString(a) {
			vars = append(vars, a)
		} else {
			targets = append(targets, a)
		}
	}
	return env, targets, vars, true
}

// checkMakeRun accepts exactly `make build`, with only the target platform
// (GOOS, GOARCH) in the environment and only the stamp (VERSION, COMMIT)
// as make variables: nothing that changes what is built.
func checkMakeRun(run string) error {
	env, targets, vars, ok := makeInvocation(run)
	if !ok || !slices.Equal(targets, []string{"build"}) {
		return fmt.Errorf("RUN %s: want `make build`", run)
	}
	for _, n := range names(env) {
		if n != "GOOS" && n != "GOARCH" {
			return fmt.Errorf("RUN %s: environment %s changes the build; only GOOS/GOARCH (the target platform) may be set", run, n)
		}
	}
	for _, n := range names(vars) {
		if n != "VERSION" && n != "COMMIT" {
			return fmt.Errorf("RUN %s: make variable %s changes the build; only VERSION and COMMIT (the stamp) may be set", run, n)
		}
	}
	return nil
}

func names(assigns []string) []string {
	var out []string
	for _, a := range assigns {
		n, _, _ := strings.Cut(a, "=")
		out = append(out, n)
	}
	return out
}

// makeOutput runs make in the repository root.
func makeOutput(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// goMinor is the Go release of go.mod's go directive (1.26 for 1.26.0).
func goMinor(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod: no go directive")
	}
	return string(m[1])
}

// image is what the tests learn about the image the Dockerfile builds.
type image struct {
	Entrypoint []string
	BinDir     string // where `make build`'s output lands in the final image
}

func checkDockerfile(t *testing.T, text string) image {
	t.Helper()
	stages, err := parseDockerfile(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 {
		t.Fatalf("want a builder and a final stage, got %d stages", len(stages))
	}
	build, final := stages[0], stages[1]
	if want := "golang:" + goMinor(t); build.Image != want {
		t.Errorf("builder FROM %s, want %s (go.mod's Go release)", build.Image, want)
	}
	if build.Name == "" {
		t.Error("builder stage has no name (FROM ... AS build)")
	}
	workdir := "/"
	for _, in := range build.Instrs {
		if in.Cmd == "WORKDIR" {
			workdir = path.Join(workdir, in.Args)
		}
	}

	// The plugin is built by `make build` and nothing else.
	bin := makeOutput(t, "--eval=print-bin: ; @echo $(BIN)", "print-bin")
	var makeRuns []instruction
	for _, in := range build.Instrs {
		if in.Cmd != "RUN" {
			continue
		}
		if _, _, _, ok := makeInvocation(in.Args); ok || strings.Contains(in.Args, "make ") {
			makeRuns = append(makeRuns, in)
			continue
		}
		if strings.Contains(in.Args, "go build") {
			if strings.Contains(in.Args, "./cmd/") {
				t.Errorf("line %d: builds a command directly; cmd/ is built by `make build` only", in.Line)
			}
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath"} {
				if !strings.Contains(in.Args, want) {
					t.Errorf("line %d: go build without %s", in.Line, want)
				}
			}
		}
	}
	if len(makeRuns) != 1 {
		t.Fatalf("want exactly one RUN calling make, found %d", len(makeRuns))
	}
	if err := checkMakeRun(makeRuns[0].Args); err != nil {
		t.Errorf("line %d: %v", makeRuns[0].Line, err)
	}
	// And `make build` is what it claims: static, trimmed, stamped.
	recipe := makeOutput(t, "-n", "build", "VERSION=v0.0.0-check", "COMMIT=c0ffee")
	for _, want := range []string{"go build ", "-trimpath", "-X main.version=v0.0.0-check", "-X main.commit=c0ffee", "-o " + bin + "/"} {
		if !strings.Contains(recipe, want) {
			t.Errorf("make -n build: %q lacks %q", recipe, want)
		}
	}
	if cgo := makeOutput(t, "--eval=print-cgo: ; @echo $$CGO_ENABLED", "print-cgo"); cgo != "0" {
		t.Errorf("the Makefile exports CGO_ENABLED=%q, want 0 (static binaries)", cgo)
	}

	// The final image: no shell, the binaries of make build, the installer.
	if final.Image != "scratch" && !strings.HasPrefix(final.Image, "gcr.io/distroless/static") {
		t.Errorf("final FROM %s, want distroless static or scratch", final.Image)
	}
	var img image
	for _, in := range final.Instrs {
		switch in.Cmd {
		case "RUN":
			t.Errorf("line %d: RUN in the final stage (it has no shell)", in.Line)
		case "COPY":
			f := strings.Fields(in.Args)
			if len(f) == 3 && f[0] == "--from="+build.Name && path.Clean(f[1]) == path.Join(workdir, bin) {
				img.BinDir = path.Clean(f[2])
			}
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.Args), &img.Entrypoint); err != nil || len(img.Entrypoint) == 0 {
				t.Errorf("line %d: ENTRYPOINT must be exec form (JSON array)", in.Line)
			}
		}
	}
	if img.BinDir == "" {
		t.Errorf("the final stage does not COPY --from=%s %s/ (make build's output)", build.Name, path.Join(workdir, bin))
	}
	if len(img.Entrypoint) == 1 {
		copied := false
		for _, in := range final.Instrs {
			f := strings.Fields(in.Args)
			copied = copied || in.Cmd == "COPY" && len(f) == 3 && f[2] == img.Entrypoint[0]
		}
		if !copied {
			t.Errorf("ENTRYPOINT %s is not copied into the final stage", img.Entrypoint[0])
		}
	}
	return img
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	img := checkDockerfile(t, string(data))
	if t.Failed() {
		return
	}
	// The DaemonSets run what the image holds.
	for _, ds := range filter[*appsv1.DaemonSet](loadAll(t)) {
		for _, c := range ds.Spec.Template.Spec.Containers {
			switch {
			case c.Name == debugdContainer:
				if want := path.Join(img.BinDir, "bond-debugd"); len(c.Command) != 1 || c.Command[0] != want {
					t.Errorf("%s/%s: command %v, want [%s]", ds.Name, c.Name, c.Command, want)
				}
			case len(c.Command) != 0:
				t.Errorf("%s/%s: command %v; the installer is the image's entrypoint", ds.Name, c.Name, c.Command)
			}
			if p := c.ReadinessProbe; p != nil && p.Exec != nil && p.Exec.Command[0] != img.Entrypoint[0] {
				t.Errorf("%s/%s: readiness probe runs %s, not the installer %s", ds.Name, c.Name, p.Exec.Command[0], img.Entrypoint[0])
			}
		}
	}
}

// TestDebugdFlags: once cmd/bond-debugd exists, the flags the DaemonSet
// passes it must be flags it knows.
func TestDebugdFlags(t *testing.T) {
	if _, err := os.Stat(filepath.Join(repoRoot, "cmd", "bond-debugd")); err != nil {
		t.Fatal("cmd/bond-debugd is missing")
	}
	exe := filepath.Join(t.TempDir(), "bond-debugd")
	build := exec.Command("go", "build", "-o", exe, "./cmd/bond-debugd")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/bond-debugd: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	help, _ := exec.CommandContext(ctx, exe, "--help").CombinedOutput()
	checked := 0
	for _, ds := range filter[*appsv1.DaemonSet](loadAll(t)) {
		c := container(&ds.Spec.Template.Spec, debugdContainer)
		if c == nil {
			continue
		}
		checked++
		for _, a := range c.Args {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !regexp.MustCompile(`(?m)^\s*--?` + regexp.QuoteMeta(name) + `\b`).Match(help) {
				t.Errorf("%s passes %s, which bond-debugd --help does not list:\n%s", ds.Name, a, help)
			}
		}
		for _, e := range c.Env {
			if e.Name == "NODE_NAME" && (e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName") {
				t.Errorf("%s: NODE_NAME must come from spec.nodeName", ds.Name)
			}
		}
	}
	if checked == 0 {
		t.Error("no bond-debugd container in any overlay")
	}
}
