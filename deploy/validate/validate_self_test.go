package validate

import (
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The checks must be able to fail: broken manifests and configs are refused.

func TestStrictDecodingRefuses(t *testing.T) {
	for file, want := range map[string]string{
		"unknown-field.yaml":   `unknown field "spec.containers[0].resource"`,
		"duplicate-field.yaml": `"name" already set`,
		"wrong-case.yaml":      `unknown field "metadata.Name"`,
		"unknown-kind.yaml":    `no kind "IPPool" is registered`,
		"nad-extra-field.yaml": `unknown field "spec.plugins"`,
		"bad-quantity.yaml":    `quantities must match`,
	} {
		_, errs := decodeFile(filepath.Join("testdata", file), file)
		if len(errs) == 0 {
			t.Errorf("%s: decoded without error", file)
			continue
		}
		if !strings.Contains(errs[0].Error(), want) {
			t.Errorf("%s: error %q, want it to mention %q", file, errs[0], want)
		}
	}
}

func nad(name, config string) *NetworkAttachmentDefinition {
	n := &NetworkAttachmentDefinition{Spec: NetworkAttachmentDefinitionSpec{Config: config}}
	n.APIVersion, n.Kind, n.Name = nadGV.String(), "NetworkAttachmentDefinition", name
	return n
}

func TestNADCheckRefuses(t *testing.T) {
	const ok = `{"cniVersion": "1.0.0", "name": "b", "type": "bond", "mode": "active-backup", "miimon": 100, "links": ["eth1", "eth2"]}`
	if _, errs := checkNAD(nad("b", ok), nil); len(errs) != 0 {
		t.Fatalf("a good config is refused: %v", errs)
	}
	for name, c := range map[string]struct{ config, ifname, want string }{
		"not JSON (the seed's sriov NADs)": {`{"type": "sriov", "vlan": 1350 "spoofchk": "off"}`, "", "not a JSON object"},
		"bad mode":                         {strings.Replace(ok, "active-backup", "active-standby", 1), "", "not a bonding mode"},
		"option not in mode":               {strings.Replace(ok, `"miimon": 100`, `"miimon": 100, "lacpRate": "fast"`, 1), "", "lacpRate"},
		"miimon typo":                      {strings.Replace(ok, `"miimon"`, `"miimom"`, 1), "", `"miimom"`},
		"one link":                         {strings.Replace(ok, `"eth1", "eth2"`, `"eth1"`, 1), "", "links"},
		"link named like the bond":         {ok, "eth1", "eth1"},
		"old cniVersion":                   {strings.Replace(ok, "1.0.0", "0.2.0", 1), "", "cniVersion"},
		"name differs":                     {strings.Replace(ok, `"name": "b"`, `"name": "c"`, 1), "", "differs from metadata.name"},
		"legacy ifname disagrees":          {strings.Replace(ok, `"type"`, `"ifname": "bond0", "type"`, 1), "net1", "CNI_IFNAME wins"},
	} {
		var ifnames []string
		if c.ifname != "" {
			ifnames = []string{c.ifname}
		}
		_, errs := checkNAD(nad("b", c.config), ifnames)
		if !containsErr(errs, c.want) {
			t.Errorf("%s: errors %v, want one mentioning %q", name, errs, c.want)
		}
	}
	if _, errs := checkNAD(nad("Bond_0", ok), nil); !containsErr(errs, "metadata.name") {
		t.Errorf("an invalid NAD name passes: %v", errs)
	}
}

func TestPodCheckRefuses(t *testing.T) {
	bondNAD := nad("bond", `{"cniVersion": "1.0.0", "name": "bond", "type": "bond", "mode": "802.3ad", "miimon": 100, "linksInContainer": true, "links": ["net1", "net2"]}`)
	sriov := nad("sriov", `{"cniVersion": "1.0.0", "name": "sriov", "type": "sriov"}`)
	sriov.Annotations = map[string]string{resourceNameAnnotation: "example.com/vf"}
	pod := func(networks string) *corev1.Pod {
		p := &corev1.Pod{}
		p.Name = "p"
		p.Annotations = map[string]string{networksAnnotation: networks}
		p.Spec.Containers = []corev1.Container{{Name: "app"}}
		return p
	}
	for name, c := range map[string]struct{ networks, want string }{
		"links attached after the bond": {`[{"name": "bond"}, {"name": "sriov"}, {"name": "sriov"}]`, "no earlier network"},
		"unknown network":               {`[{"name": "nope"}]`, "no such NetworkAttachmentDefinition"},
		"selection typo":                {`[{"name": "bond", "interfce": "bond0"}]`, "unknown field"},
		"device not requested":          {`sriov,sriov,bond@bond0`, "example.com/vf"},
		"interface twice":               {`bond@net1,sriov@net1`, "twice"},
	} {
		errs := checkPod(pod(c.networks), []*NetworkAttachmentDefinition{bondNAD, sriov})
		if !containsErr(errs, c.want) {
			t.Errorf("%s: errors %v, want one mentioning %q", name, errs, c.want)
		}
	}
}

func TestDaemonSetCheckRefuses(t *testing.T) {
	good := overlayDaemonSets(t, "debugd-hostpid")
	for _, ds := range good {
		if errs := checkDaemonSet(ds); len(errs) != 0 {
			t.Fatalf("overlay debugd-hostpid, %s: %v", ds.Name, errs)
		}
	}
	const inst, dbg = "bond", "bond-debugd"
	for name, c := range map[string]struct {
		ds      string
		breakIt func(*appsv1.DaemonSet)
		want    string
	}{
		"some taints only": {inst, func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "node-role.kubernetes.io/master", Operator: corev1.TolerationOpExists}}
		}, "tolerations"},
		"amd64 only": {inst, func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[1].Values = []string{"amd64"}
		}, "affinity"},
		"writable state dir": {dbg, func(d *appsv1.DaemonSet) {
			container(&d.Spec.Template.Spec, debugdContainer).VolumeMounts[0].ReadOnly = false
		}, "must be readOnly"},
		"no limits": {inst, func(d *appsv1.DaemonSet) {
			container(&d.Spec.Template.Spec, installerContainer).Resources.Limits = nil
		}, "requests and limits"},
		"extra capability": {inst, func(d *appsv1.DaemonSet) {
			sc := container(&d.Spec.Template.Spec, installerContainer).SecurityContext
			sc.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}, "NET_ADMIN is not needed"},
		"SYS_PTRACE without hostPID": {dbg, func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.HostPID = false
		}, "SYS_PTRACE is not needed"},
		"installer with hostPID": {inst, func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.HostPID = true
		}, "hostPID"},
		"debugd on every address": {dbg, func(d *appsv1.DaemonSet) {
			container(&d.Spec.Template.Spec, debugdContainer).Args = []string{"--listen=0.0.0.0:9650"}
		}, "loopback"},
		"textfile outside its mount": {dbg, func(d *appsv1.DaemonSet) {
			c := container(&d.Spec.Template.Spec, debugdContainer)
			c.Args = append(c.Args[:2:2], "--textfile=/tmp/bondcni.prom")
		}, "--textfile"},
		"debugd without hostNetwork": {dbg, func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.HostNetwork = false
		}, "hostNetwork"},
		"installer dest elsewhere": {inst, func(d *appsv1.DaemonSet) {
			container(&d.Spec.Template.Spec, installerContainer).Args = []string{"-dest=/tmp"}
		}, "-dest"},
		"probe checks elsewhere": {inst, func(d *appsv1.DaemonSet) {
			container(&d.Spec.Template.Spec, installerContainer).ReadinessProbe.Exec.Command = []string{"/usr/local/bin/bond-install", "-check", "-dest=/tmp"}
		}, "readinessProbe"},
		"latest image": {inst, func(d *appsv1.DaemonSet) {
			container(&d.Spec.Template.Spec, installerContainer).Image = "ghcr.io/bondcni/bond:latest"
		}, "pin a tag"},
		"not root": {inst, func(d *appsv1.DaemonSet) {
			uid := int64(1000)
			d.Spec.Template.Spec.SecurityContext.RunAsUser = &uid
		}, "runAsUser"},
		"selector misses the pods": {inst, func(d *appsv1.DaemonSet) {
			d.Spec.Selector.MatchLabels = map[string]string{"app": "other"}
		}, "spec.selector"},
	} {
		d := good[c.ds].DeepCopy()
		c.breakIt(d)
		if errs := checkDaemonSet(d); !containsErr(errs, c.want) {
			t.Errorf("%s: errors %v, want one mentioning %q", name, errs, c.want)
		}
	}
}

func TestDockerfileParsing(t *testing.T) {
	stages, err := parseDockerfile("ARG X=1\n# c\nFROM --platform=$BUILDPLATFORM golang:1.26 AS build\nRUN a \\\n  # inner comment\n  b\nFROM scratch\nCOPY --from=build /a /b\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || stages[0].Name != "build" || stages[0].Platform != "$BUILDPLATFORM" || stages[0].Instrs[0].Args != "a b" || stages[1].Image != "scratch" {
		t.Fatalf("parsed %+v", stages)
	}
	for run, want := range map[string]bool{
		"make build":                          true,
		"GOOS=linux make build VERSION=v1":    true,
		"make build test":                     false,
		"make bond":                           false,
		"go build ./cmd/bond && make build":   false,
		"GOFLAGS=-tags=x make build":          false,
		"make build LDFLAGS=-linkmode=extern": false,
	} {
		good := checkMakeRun(run) == nil
		if good != want {
			t.Errorf("RUN %s: accepted=%v, want %v", run, good, want)
		}
	}
}

func containsErr(errs []error, want string) bool {
	for _, err := range errs {
		if strings.Contains(err.Error(), want) {
			return true
		}
	}
	return false
}
