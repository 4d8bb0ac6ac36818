package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// overlays are deploy/kustomize/overlays/*, every one built and checked.
var overlays = []string{"default", "debugd", "debugd-hostpid", "openshift", "uninstall", "openshift-uninstall"}

const overlayDir = "kustomize/overlays"

// buildOverlay runs kustomize (its Go API, as `kubectl apply -k` does) on
// an overlay and decodes the output strictly.
func buildOverlay(name string) ([]object, []error) {
	rel := overlayDir + "/" + name
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(deployDir, rel))
	if err != nil {
		return nil, []error{fmt.Errorf("kustomize build %s: %w", rel, err)}
	}
	y, err := m.AsYaml()
	if err != nil {
		return nil, []error{fmt.Errorf("kustomize build %s: %w", rel, err)}
	}
	return decodeYAML(y, rel)
}

func overlayDaemonSets(t *testing.T, name string) map[string]*appsv1.DaemonSet {
	t.Helper()
	objs, errs := buildOverlay(name)
	for _, err := range errs {
		t.Fatal(err)
	}
	out := map[string]*appsv1.DaemonSet{}
	settings := 0
	for _, o := range objs {
		if cm, ok := o.Obj.(*corev1.ConfigMap); ok && cm.Name == nodeSettingsConfigMap {
			settings++ // checked by TestNodeSettingsConfigMap
			continue
		}
		ds, ok := o.Obj.(*appsv1.DaemonSet)
		if !ok {
			t.Fatalf("%s: only DaemonSets and the node settings expected", o)
		}
		out[ds.Name] = ds
	}
	// The installer's overlays ship the node settings it installs.
	if _, inst := out["bond"]; inst != (settings == 1) {
		t.Fatalf("%s: %d node settings ConfigMaps with installer %v", name, settings, inst)
	}
	return out
}

func TestEveryOverlayIsChecked(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(deployDir, overlayDir))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	got := slices.Clone(overlays)
	slices.Sort(got)
	if !reflect.DeepEqual(dirs, got) {
		t.Errorf("overlays on disk %v, checked %v", dirs, got)
	}
}

// TestOverlays: each overlay holds what its name says, and the overlays
// differ from one another only where they must: one installer DaemonSet,
// debugd in a DaemonSet of its own, OpenShift changing only the CNI bin
// directory and the SELinux type.
func TestOverlays(t *testing.T) {
	def := overlayDaemonSets(t, "default")
	if keys(def) != "bond" {
		t.Fatalf("default: %s, want only the installer bond", keys(def))
	}
	dbg := overlayDaemonSets(t, "debugd")
	if keys(dbg) != "bond,bond-debugd" {
		t.Fatalf("debugd: %s, want bond,bond-debugd", keys(dbg))
	}
	same(t, "debugd's installer", def["bond"], dbg["bond"])
	if c := container(&def["bond"].Spec.Template.Spec, debugdContainer); c != nil {
		t.Error("the installer's pod must not run bond-debugd: a crashing debugd would stall its rollout")
	}
	d := dbg["bond-debugd"]
	if flagValue(container(&d.Spec.Template.Spec, debugdContainer).Args, "textfile") == "" {
		t.Error("debugd overlay: want the textfile collector path (--textfile)")
	}
	if d.Spec.Template.Spec.HostPID {
		t.Error("debugd overlay: hostPID only with components/hostpid")
	}

	hp := overlayDaemonSets(t, "debugd-hostpid")
	if !hp["bond-debugd"].Spec.Template.Spec.HostPID {
		t.Error("debugd-hostpid: want hostPID, to open /proc/<pid>/ns/net paths")
	}
	same(t, "debugd-hostpid's installer", def["bond"], hp["bond"])

	os := overlayDaemonSets(t, "openshift")
	if keys(os) != "bond,bond-debugd" {
		t.Fatalf("openshift: %s", keys(os))
	}
	same(t, "openshift's debugd", dbg["bond-debugd"], os["bond-debugd"])
	same(t, "openshift's installer without its paths", def["bond"], unOpenShift(t, os["bond"]))

	un := overlayDaemonSets(t, "uninstall")
	if keys(un) != "bond-uninstall" {
		t.Fatalf("uninstall: %s", keys(un))
	}
	osun := overlayDaemonSets(t, "openshift-uninstall")
	same(t, "openshift-uninstall without its paths", un["bond-uninstall"], unOpenShift(t, osun["bond-uninstall"]))
}

// TestOverlayLabelsAndTermination: app.kubernetes.io labels on every
// DaemonSet and its pods, selectors that do not overlap, and every
// container's termination message falls back to its log.
func TestOverlayLabelsAndTermination(t *testing.T) {
	for _, o := range overlays {
		selectors := map[string]string{}
		for name, ds := range overlayDaemonSets(t, o) {
			for where, l := range map[string]map[string]string{"metadata": ds.Labels, "template": ds.Spec.Template.Labels} {
				for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/version"} {
					if l[k] == "" {
						t.Errorf("%s: %s %s: no label %s", o, name, where, k)
					}
				}
				if l["app.kubernetes.io/part-of"] != "bond" {
					t.Errorf("%s: %s %s: part-of %q", o, name, where, l["app.kubernetes.io/part-of"])
				}
			}
			sel := fmt.Sprint(ds.Spec.Selector.MatchLabels)
			if prev, dup := selectors[sel]; dup {
				t.Errorf("%s: %s and %s have the same selector %s", o, name, prev, sel)
			}
			selectors[sel] = name
			for _, c := range ds.Spec.Template.Spec.Containers {
				// The version label says which release runs: the image's tag.
				if _, tag, ok := strings.Cut(c.Image[strings.LastIndex(c.Image, "/")+1:], ":"); ok && !strings.Contains(c.Image, "@") && tag != ds.Labels["app.kubernetes.io/version"] {
					t.Errorf("%s: %s/%s: image tag %q but label app.kubernetes.io/version %q; bump both (docs/operations.md, Cutting a release)", o, name, c.Name, tag, ds.Labels["app.kubernetes.io/version"])
				}
				if c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
					t.Errorf("%s: %s/%s: terminationMessagePolicy %q, want FallbackToLogsOnError", o, name, c.Name, c.TerminationMessagePolicy)
				}
			}
		}
	}
}

func keys(m map[string]*appsv1.DaemonSet) string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return strings.Join(k, ",")
}

func same(t *testing.T, what string, a, b *appsv1.DaemonSet) {
	t.Helper()
	if a == nil || b == nil || !reflect.DeepEqual(a, b) {
		t.Errorf("%s differs:\n%+v\n---\n%+v", what, a, b)
	}
}

// unOpenShift undoes what components/openshift changes, checking it
// changed exactly that.
func unOpenShift(t *testing.T, ds *appsv1.DaemonSet) *appsv1.DaemonSet {
	t.Helper()
	c := ds.DeepCopy()
	spec := &c.Spec.Template.Spec
	if spec.SecurityContext == nil || spec.SecurityContext.SELinuxOptions == nil || spec.SecurityContext.SELinuxOptions.Type != "spc_t" {
		t.Errorf("%s: want seLinuxOptions.type spc_t", ds.Name)
	} else {
		spec.SecurityContext.SELinuxOptions = nil
	}
	found := false
	for i, v := range spec.Volumes {
		if v.Name == "cni-bin" && v.HostPath != nil {
			found = true
			if v.HostPath.Path != "/var/lib/cni/bin" {
				t.Errorf("%s: cni-bin %s, want /var/lib/cni/bin", ds.Name, v.HostPath.Path)
			}
			spec.Volumes[i].HostPath.Path = cniBinHostPath
		}
	}
	if !found {
		t.Errorf("%s: no cni-bin volume", ds.Name)
	}
	return c
}
