// Package arch enforces the layer rules of ARCHITECTURE.md:
// domain/ imports only the standard library; ports/ and app/ import only the
// standard library and domain/ports/app; only cmd/ imports go.uber.org/fx;
// vishvananda/netlink and containernetworking/plugins stay out of the
// plugin's import graph.
package arch

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/bondcni/bond"

type pkg struct {
	path    string
	imports []string
}

func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func goList(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-e"}, args...)...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	require.NoError(t, err, "go list %v", args)
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		pkgs = append(pkgs, pkg{path: fields[0], imports: fields[1:]})
	}
	return pkgs
}

func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

func layerOf(p string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
	first, _, _ := strings.Cut(rel, "/")
	return first
}

func TestLayerRules(t *testing.T) {
	pkgs := goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	require.NotEmpty(t, pkgs)
	allowed := map[string][]string{
		"domain": {"domain"},
		"ports":  {"domain", "ports"},
		"app":    {"domain", "ports", "app"},
	}
	for _, p := range pkgs {
		layer := layerOf(p.path)
		for _, imp := range p.imports {
			if strings.HasPrefix(imp, "go.uber.org/fx") && layer != "cmd" {
				t.Errorf("%s imports %s: only cmd/ may know fx", p.path, imp)
			}
			rules, restricted := allowed[layer]
			if !restricted || isStd(imp) {
				continue
			}
			ok := false
			if strings.HasPrefix(imp, module+"/") {
				for _, l := range rules {
					if layerOf(imp) == l {
						ok = true
					}
				}
			}
			if !ok {
				t.Errorf("%s (layer %s) imports %s, which the layer rules forbid", p.path, layer, imp)
			}
		}
	}
}

func TestForbiddenDependencies(t *testing.T) {
	for _, bin := range []string{"./cmd/..."} {
		deps := goList(t, "-deps", "-f", "{{.ImportPath}}", bin)
		for _, d := range deps {
			for _, bad := range []string{"github.com/vishvananda/netlink", "github.com/containernetworking/plugins"} {
				if d.path == bad || strings.HasPrefix(d.path, bad+"/") {
					t.Errorf("%s pulls in %s", bin, d.path)
				}
			}
		}
	}
}
