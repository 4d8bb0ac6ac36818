package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bondcni/bond/domain"
)

// cniVersions are the versions the plugin answers VERSION with.
var cniVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// passThroughKeys are top-level config keys domain.ParseConfig leaves to
// others: keys IPAM plugins read (calico-ipam's). Any other unknown key in
// an example is taken for a typo.
var passThroughKeys = []string{"kubernetes", "datastore_type"}

// Names of the containers deploy/ knows.
const (
	installerContainer = "install"
	debugdContainer    = "bond-debugd"
	cniBinHostPath     = "/opt/cni/bin"
	stateHostPath      = "/run/bond-cni/state"
	prevStateHostPath  = "/var/lib/cni/bond" // where earlier versions kept records
	// The node settings: a ConfigMap the installer copies into the host
	// directory where the plugin reads node.json.
	nodeSettingsConfigMap = "bond-node-settings"
	nodeSettingsHostPath  = "/etc/cni/bond.d"
	// textfileHostPath is node_exporter's textfile directory, which
	// bond-debugd writes its metrics file into.
	textfileHostPath = "/var/lib/node_exporter/textfile_collector"
)

// cniBinHostPaths are the CNI bin directories the installer may write:
// the usual one and OpenShift's.
var cniBinHostPaths = []string{cniBinHostPath, "/var/lib/cni/bin"}

func TestEveryManifestDecodesStrictly(t *testing.T) {
	objs := loadAll(t)
	files := map[string]bool{}
	for _, o := range objs {
		files[o.File] = true
		t.Logf("ok %s", o)
	}
	want := []string{"examples/host-active-backup.yaml", "examples/sriov-802.3ad.yaml"}
	for _, o := range overlays {
		want = append(want, overlayDir+"/"+o)
	}
	for _, want := range want {
		if !files[want] {
			t.Errorf("deploy/%s: missing", want)
		}
	}
}

func TestDaemonSets(t *testing.T) {
	objs := loadAll(t)
	dss := filter[*appsv1.DaemonSet](objs)
	if len(dss) < 3 {
		t.Fatalf("want the install, debugd and uninstall DaemonSets, found %d", len(dss))
	}
	for _, ds := range dss {
		for _, err := range checkDaemonSet(ds) {
			t.Errorf("%s: %v", where(objs, ds), err)
		}
	}
}

func TestNetworkAttachmentDefinitions(t *testing.T) {
	objs := loadAll(t)
	nads := filter[*NetworkAttachmentDefinition](objs)
	pods := filter[*corev1.Pod](objs)
	if len(nads) == 0 || len(pods) == 0 {
		t.Fatal("no NetworkAttachmentDefinition or Pod found")
	}
	names := map[string]string{}
	for _, o := range objs {
		if nad, ok := o.Obj.(*NetworkAttachmentDefinition); ok {
			key := scope(o.File) + " " + nad.Namespace + "/" + nad.Name
			if prev, dup := names[key]; dup {
				t.Errorf("%s: NAD name already used by %s, applied together", o, prev)
			}
			names[key] = o.String()
		}
	}
	bonds := 0
	for _, nad := range nads {
		var users []string
		for _, pod := range pods {
			atts, _ := podNetworks(pod)
			for _, a := range atts {
				if a.Name == nad.Name && sameNamespace(a.Namespace, pod.Namespace, nad.Namespace) && sameScope(objs, pod, nad) {
					users = append(users, a.IfName)
				}
			}
		}
		isBond, errs := checkNAD(nad, users)
		for _, err := range errs {
			t.Errorf("%s: %v", where(objs, nad), err)
		}
		if isBond {
			bonds++
		}
	}
	if bonds == 0 {
		t.Fatal("no bond NetworkAttachmentDefinition checked")
	}
	t.Logf("%d NetworkAttachmentDefinitions, %d of them bond, accepted by domain.ParseConfig and Config.Spec", len(nads), bonds)
}

func TestPods(t *testing.T) {
	objs := loadAll(t)
	nads := filter[*NetworkAttachmentDefinition](objs)
	for _, pod := range filter[*corev1.Pod](objs) {
		var visible []*NetworkAttachmentDefinition
		for _, n := range nads {
			if sameScope(objs, pod, n) {
				visible = append(visible, n)
			}
		}
		for _, err := range checkPod(pod, visible) {
			t.Errorf("%s: %v", where(objs, pod), err)
		}
	}
}

// TestEveryModeHasAnExample: deploy/examples/modes holds one bond NAD per
// bonding mode the plugin knows.
func TestEveryModeHasAnExample(t *testing.T) {
	objs := loadAll(t)
	got := map[domain.Mode][]string{}
	for _, o := range objs {
		nad, ok := o.Obj.(*NetworkAttachmentDefinition)
		if !ok || !strings.HasPrefix(o.File, "examples/modes/") {
			continue
		}
		cfg, err := domain.ParseConfig([]byte(nad.Spec.Config))
		if err != nil || cfg.Type != "bond" {
			continue
		}
		m, ok := domain.ParseMode(cfg.Mode)
		if !ok {
			t.Errorf("%s: mode %q", o, cfg.Mode)
			continue
		}
		got[m] = append(got[m], o.String())
		if want := "examples/modes/" + m.String() + ".yaml"; o.File != want {
			t.Errorf("%s: the %s example belongs in %s", o, m, want)
		}
	}
	for _, m := range domain.AllModes() {
		if len(got[m]) != 1 {
			t.Errorf("mode %s: want one example NAD in deploy/examples/modes, found %v", m, got[m])
		}
	}
}

// TestSeedExamplesAreTheSeedConfigs: the two seed scenarios' bond NADs carry
// the seed configs (fixtures/configs/seed-*.json) unchanged.
func TestSeedExamplesAreTheSeedConfigs(t *testing.T) {
	objs := loadAll(t)
	for file, fixture := range map[string]string{
		"examples/host-active-backup.yaml": "seed-host-active-backup.json",
		"examples/sriov-802.3ad.yaml":      "seed-sriov-8023ad.json",
	} {
		want, err := os.ReadFile(filepath.Join(repoRoot, "fixtures", "configs", fixture))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, o := range objs {
			nad, ok := o.Obj.(*NetworkAttachmentDefinition)
			if !ok || o.File != file || !strings.Contains(nad.Spec.Config, `"bond"`) {
				continue
			}
			found = true
			if !jsonEqual(t, []byte(nad.Spec.Config), want) {
				t.Errorf("%s: spec.config differs from fixtures/configs/%s", o, fixture)
			}
		}
		if !found {
			t.Errorf("%s: no bond NAD", file)
		}
	}
}

// TestDocsCoverEveryKey: docs/operations.md's compatibility table and the
// README's key table name every key of the plugin's option table, and
// README links the doc.
func TestDocsCoverEveryKey(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"cniVersion", "name", "type", "ifname", "ipam", "dns", "runtimeConfig", "logLevel", "logFile"}
	for _, r := range domain.OptionRules() {
		keys = append(keys, r.Key)
	}
	for _, k := range keys {
		if !bytes.Contains(doc, []byte("| `"+k+"` |")) {
			t.Errorf("docs/operations.md: no compatibility table row for `%s`", k)
		}
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("(docs/operations.md)")) {
		t.Error("README.md does not link docs/operations.md")
	}
	// The README's key table has a row per key of the option table.
	for _, r := range domain.OptionRules() {
		if !bytes.Contains(readme, []byte("| `"+r.Key+"` |")) {
			t.Errorf("README.md: no key table row for `%s`", r.Key)
		}
	}
}

// ---- checks, also run against broken manifests in validate_self_test.go

// checkNAD checks one NetworkAttachmentDefinition; ifnames are the
// interface names the example pods attach it as. It reports whether the
// NAD is a bond network.
func checkNAD(nad *NetworkAttachmentDefinition, ifnames []string) (bool, []error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if nad.APIVersion != nadGV.String() || nad.Kind != "NetworkAttachmentDefinition" {
		fail("apiVersion/kind %s/%s", nad.APIVersion, nad.Kind)
	}
	for _, msg := range validation.IsDNS1123Subdomain(nad.Name) {
		fail("metadata.name %q: %s", nad.Name, msg)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(nad.Spec.Config), &top); err != nil {
		fail("spec.config is not a JSON object: %v", err)
		return false, errs
	}
	var typ, version string
	if err := json.Unmarshal(top["type"], &typ); err != nil || typ == "" {
		fail(`spec.config: "type" missing or not a string`)
	}
	if err := json.Unmarshal(top["cniVersion"], &version); err != nil || version == "" {
		fail(`spec.config: "cniVersion" missing or not a string`)
	}
	if typ != "bond" {
		// Not ours (sriov, ...): its plugin validates it.
		return false, errs
	}
	if !slices.Contains(cniVersions, version) {
		fail("spec.config: cniVersion %q; bond supports %v", version, cniVersions)
	}
	cfg, err := domain.ParseConfig([]byte(nad.Spec.Config))
	if err != nil {
		fail("domain.ParseConfig: %v", err)
		return true, errs
	}
	if cfg.Name != nad.Name {
		fail("spec.config name %q differs from metadata.name %q", cfg.Name, nad.Name)
	}
	for _, k := range cfg.UnknownKeys {
		if !slices.Contains(passThroughKeys, k) {
			fail("spec.config: key %q is not a bond key (a typo?); known pass-through keys: %v", k, passThroughKeys)
		}
	}
	if len(ifnames) == 0 {
		ifnames = []string{"net1"} // the first secondary network
	}
	for _, ifname := range ifnames {
		if _, err := cfg.Spec(ifname); err != nil {
			fail("Config.Spec(%q): %v", ifname, err)
		}
		if cfg.IfName != "" && cfg.IfName != ifname {
			fail(`spec.config "ifname" %q, but a pod attaches it as %q (CNI_IFNAME wins)`, cfg.IfName, ifname)
		}
	}
	return true, errs
}

// checkPod checks a pod's network annotation against the NADs it can see.
func checkPod(pod *corev1.Pod, nads []*NetworkAttachmentDefinition) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	atts, err := podNetworks(pod)
	if err != nil {
		return []error{err}
	}
	if len(atts) == 0 {
		return []error{fmt.Errorf("no %s annotation", networksAnnotation)}
	}
	for _, msg := range validation.IsDNS1123Subdomain(pod.Name) {
		fail("metadata.name %q: %s", pod.Name, msg)
	}
	requested := func(res corev1.ResourceName) bool {
		for _, c := range pod.Spec.Containers {
			r, l := c.Resources.Requests[res], c.Resources.Limits[res]
			if !r.IsZero() && r.Cmp(l) == 0 {
				return true
			}
		}
		return false
	}
	for i, a := range atts {
		var nad *NetworkAttachmentDefinition
		for _, n := range nads {
			if n.Name == a.Name && sameNamespace(a.Namespace, pod.Namespace, n.Namespace) {
				nad = n
			}
		}
		if nad == nil {
			fail("network %q: no such NetworkAttachmentDefinition beside the pod", a.Name)
			continue
		}
		if res := nad.Annotations[resourceNameAnnotation]; res != "" && !requested(corev1.ResourceName(res)) {
			fail("network %q needs a device of %s: no container requests and limits it", a.Name, res)
		}
		cfg, err := domain.ParseConfig([]byte(nad.Spec.Config))
		if err != nil || cfg.Type != "bond" || !cfg.LinksInContainer {
			continue
		}
		// In-pod links must be attached by earlier networks of the pod.
		for _, l := range cfg.Links {
			found := false
			for _, prev := range atts[:i] {
				found = found || prev.IfName == l
			}
			if !found {
				fail("network %q bonds %q with linksInContainer, but no earlier network of the pod attaches %q", a.Name, l, l)
			}
		}
	}
	return errs
}

// checkDaemonSet holds the rules every DaemonSet in deploy/ follows.
func checkDaemonSet(ds *appsv1.DaemonSet) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	spec := &ds.Spec.Template.Spec

	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		fail("spec.selector %v does not select the template's labels %v", ds.Spec.Selector, ds.Spec.Template.Labels)
	}
	if ds.Namespace != "kube-system" {
		fail("namespace %q, want kube-system", ds.Namespace)
	}

	// Every node: every taint tolerated, Linux, amd64 and arm64.
	tolerateAll := false
	for _, tol := range spec.Tolerations {
		tolerateAll = tolerateAll || tol.Key == "" && tol.Operator == corev1.TolerationOpExists && tol.Effect == "" && tol.TolerationSeconds == nil
	}
	if !tolerateAll {
		fail("tolerations: want {operator: Exists} (every taint)")
	}
	if err := checkPlacement(spec); err != nil {
		fail("%v", err)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		fail("automountServiceAccountToken: want false (no API access needed)")
	}
	if spec.HostIPC {
		fail("hostIPC: not needed")
	}
	// hostPID only for bond-debugd, to open /proc/<pid>/ns/net netns paths.
	if c := container(spec, debugdContainer); spec.HostPID && c == nil {
		fail("hostPID: only bond-debugd needs it (for /proc/<pid>/ns/net netns paths)")
	}

	// Volumes: host paths, and the node settings ConfigMap; each mounted;
	// read-only except the CNI bin dir and the node settings dir.
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		switch {
		case v.HostPath != nil:
		case v.ConfigMap != nil && v.ConfigMap.Name == nodeSettingsConfigMap:
		default:
			fail("volume %q: only hostPath volumes and the %s ConfigMap are expected", v.Name, nodeSettingsConfigMap)
			continue
		}
		vols[v.Name] = v
	}
	mounted := map[string]bool{}
	var image string
	for i := range spec.Containers {
		c := &spec.Containers[i]
		for _, err := range checkContainer(spec, c, vols) {
			fail("container %s: %v", c.Name, err)
		}
		for _, m := range c.VolumeMounts {
			mounted[m.Name] = true
		}
		if image == "" {
			image = c.Image
		} else if c.Image != image {
			fail("container %s: image %q; every container runs the one bond image %q", c.Name, c.Image, image)
		}
	}
	for name := range vols {
		if !mounted[name] {
			fail("volume %q is not mounted", name)
		}
	}
	if len(spec.InitContainers) > 0 {
		fail("initContainers: not expected")
	}

	// Root, with no capability unless a container asks for one.
	if sc := spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		fail("securityContext.runAsUser: want 0 (writing the host's /opt/cni/bin)")
	}
	if c := container(spec, debugdContainer); c != nil && !spec.HostNetwork {
		fail("%s listens on the node's loopback: hostNetwork must be true", debugdContainer)
	}
	return errs
}

func checkPlacement(spec *corev1.PodSpec) error {
	want := map[string][]string{"kubernetes.io/os": {"linux"}, "kubernetes.io/arch": {"amd64", "arm64"}}
	a := spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return errors.New("affinity: want required node affinity on kubernetes.io/os and kubernetes.io/arch")
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 {
		return fmt.Errorf("affinity: want one node selector term, got %d", len(terms))
	}
	got := map[string][]string{}
	for _, e := range terms[0].MatchExpressions {
		if e.Operator != corev1.NodeSelectorOpIn {
			return fmt.Errorf("affinity: %s %s, want In", e.Key, e.Operator)
		}
		vals := slices.Clone(e.Values)
		slices.Sort(vals)
		got[e.Key] = vals
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("affinity: %v, want %v", got, want)
	}
	for k := range spec.NodeSelector {
		if k != "kubernetes.io/os" || spec.NodeSelector[k] != "linux" {
			return fmt.Errorf("nodeSelector %s: only kubernetes.io/os=linux may narrow an every-node DaemonSet", k)
		}
	}
	return nil
}

func checkContainer(spec *corev1.PodSpec, c *corev1.Container, vols map[string]corev1.Volume) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Image == "" || strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image[strings.LastIndex(c.Image, "/")+1:], ":") && !strings.Contains(c.Image, "@") {
		fail("image %q: pin a tag or digest (not latest)", c.Image)
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okr := c.Resources.Requests[res]
		lim, okl := c.Resources.Limits[res]
		switch {
		case !okr || !okl:
			fail("resources: want requests and limits for %s", res)
		case req.Cmp(lim) > 0:
			fail("resources: %s request %s above limit %s", res, req.String(), lim.String())
		case lim.Cmp(resource.MustParse(map[corev1.ResourceName]string{corev1.ResourceCPU: "1", corev1.ResourceMemory: "256Mi"}[res])) > 0:
			fail("resources: %s limit %s is more than a node agent this small needs", res, lim.String())
		}
	}

	sc := c.SecurityContext
	if sc == nil {
		fail("securityContext: missing")
		return errs
	}
	if sc.Privileged != nil && *sc.Privileged {
		fail("securityContext.privileged: must not be true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		fail("securityContext.allowPrivilegeEscalation: want false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		fail("securityContext.readOnlyRootFilesystem: want true")
	}
	if sc.RunAsUser != nil && *sc.RunAsUser != 0 {
		fail("securityContext.runAsUser: want 0 (or unset: the pod's)")
	}
	var allowedCaps []corev1.Capability
	if c.Name == debugdContainer {
		allowedCaps = []corev1.Capability{"SYS_ADMIN"} // setns into pod netns
		if spec.HostPID {
			allowedCaps = append(allowedCaps, "SYS_PTRACE") // open another user's /proc/<pid>/ns/net
		}
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		fail("securityContext.capabilities.drop: want [ALL]")
	} else {
		for _, cap := range sc.Capabilities.Add {
			if !slices.Contains(allowedCaps, cap) {
				fail("securityContext.capabilities.add: %s is not needed", cap)
			}
		}
	}

	// Mounts: each names a volume; only the CNI bin dir is writable.
	writableBin, writableNode, settingsSrc, textfileDir := "", "", "", ""
	stateRO, prevStateRO := false, false
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			fail("volumeMount %q: no such volume", m.Name)
			continue
		}
		if v.ConfigMap != nil {
			if !m.ReadOnly {
				fail("volumeMount %q (ConfigMap %s) must be readOnly", m.Name, v.ConfigMap.Name)
			}
			settingsSrc = m.MountPath
			continue
		}
		p := filepath.Clean(v.HostPath.Path)
		switch {
		case slices.Contains(cniBinHostPaths, p) && !m.ReadOnly:
			writableBin = m.MountPath
		case p == nodeSettingsHostPath && !m.ReadOnly && c.Name == installerContainer:
			writableNode = m.MountPath
		case p == textfileHostPath && !m.ReadOnly && c.Name == debugdContainer:
			textfileDir = m.MountPath
		case !m.ReadOnly:
			fail("volumeMount %q (host %s) must be readOnly: only the CNI bin dir %v (and %s, by the installer) are written", m.Name, p, cniBinHostPaths, nodeSettingsHostPath)
		case p == stateHostPath:
			stateRO = true
		case p == prevStateHostPath:
			prevStateRO = true
		}
	}
	if c.Name == installerContainer {
		src, dir := flagValue(c.Args, "node-settings"), flagValue(c.Args, "node-settings-dir")
		if settingsSrc == "" || writableNode == "" || filepath.Dir(src) != settingsSrc || dir != writableNode {
			fail("-node-settings=%q must be in the %s mount (%q) and -node-settings-dir=%q the writable mount of host %s (%q)",
				src, nodeSettingsConfigMap, settingsSrc, dir, nodeSettingsHostPath, writableNode)
		}
	}

	switch c.Name {
	case installerContainer, "uninstall":
		dest := flagValue(c.Args, "dest")
		if writableBin == "" || dest != writableBin {
			fail("-dest=%q must be the writable mount of host %s (%q)", dest, cniBinHostPath, writableBin)
		}
		if p := c.ReadinessProbe; p == nil || p.Exec == nil || !slices.Contains(p.Exec.Command, "-check") || flagValue(p.Exec.Command, "dest") != dest {
			fail("readinessProbe: want bond-install -check with the same -dest=%q", dest)
		}
		if c.Name == "uninstall" && (!stateRO || flagValue(c.Args, "state-dir") == "" || !prevStateRO || flagValue(c.Args, "previous-state-dir") == "") {
			fail("-uninstall needs -state-dir and -previous-state-dir on read-only mounts of host %s and %s, to refuse while attachments exist", stateHostPath, prevStateHostPath)
		}
	case debugdContainer:
		if writableBin != "" {
			fail("must not mount the CNI bin dir writable")
		}
		if !stateRO || !prevStateRO {
			fail("needs host %s and %s mounted read-only", stateHostPath, prevStateHostPath)
		}
		listen := flagValue(c.Args, "listen")
		host, _, err := net.SplitHostPort(listen)
		addr, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !addr.IsLoopback() {
			fail("--listen=%q: want a loopback address and port (127.0.0.1:port or [::1]:port)", listen)
		}
		if p := c.LivenessProbe; p != nil && p.HTTPGet != nil && p.HTTPGet.Host != host {
			fail("livenessProbe.httpGet.host %q: the daemon only listens on %s", p.HTTPGet.Host, host)
		}
		if tf := flagValue(c.Args, "textfile"); tf != "" || textfileDir != "" {
			if textfileDir == "" || filepath.Dir(tf) != textfileDir || !strings.HasSuffix(tf, ".prom") {
				fail("--textfile=%q: want a *.prom file directly in the writable mount of host %s (%q)", tf, textfileHostPath, textfileDir)
			}
		}
	default:
		fail("unknown container (want %s, %s or uninstall)", installerContainer, debugdContainer)
	}
	return errs
}

// flagValue finds -name=value or --name=value in args.
func flagValue(args []string, name string) string {
	for _, a := range args {
		for _, p := range []string{"-" + name + "=", "--" + name + "="} {
			if v, ok := strings.CutPrefix(a, p); ok {
				return v
			}
		}
	}
	return ""
}

func container(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	return nil
}

// removeContainer drops the named container and the volumes only it mounts.
func removeContainer(spec *corev1.PodSpec, name string) error {
	c := container(spec, name)
	if c == nil {
		return fmt.Errorf("no container %q", name)
	}
	mine := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mine[m.Name] = true
	}
	spec.Containers = slices.DeleteFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == name })
	for _, other := range spec.Containers {
		for _, m := range other.VolumeMounts {
			delete(mine, m.Name)
		}
	}
	spec.Volumes = slices.DeleteFunc(spec.Volumes, func(v corev1.Volume) bool { return mine[v.Name] })
	return nil
}

func sameNamespace(selNS, podNS, nadNS string) bool {
	if selNS == "" {
		selNS = podNS
	}
	return selNS == nadNS
}

// scope is the set of manifests applied together: one file, except the
// per-mode examples, which share examples/modes/sriov-networks.yaml. (The
// two seed scenarios both name their bond NAD bond0, as the seed does: they
// go in separate namespaces.)
func scope(file string) string {
	if filepath.Dir(file) == "examples/modes" {
		return "examples/modes"
	}
	return file
}

// sameScope reports whether two decoded objects are applied together.
func sameScope(objs []object, a, b any) bool {
	var sa, sb string
	for _, o := range objs {
		if any(o.Obj) == a {
			sa = scope(o.File)
		}
		if any(o.Obj) == b {
			sb = scope(o.File)
		}
	}
	return sa != "" && sa == sb
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(va, vb)
}
