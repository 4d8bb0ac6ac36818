// Command bond-bench measures the bond CNI plugin on a real kernel: it runs
// inside the project's QEMU VM (integration/bench.sh, `make bench`) as
// root, with the built plugin, the static IPAM plugin and a hello-world Go
// binary in CNI_PATH.
//
// It measures, in one run so that the budgets can be ratios (absolute
// times under TCG emulation are slow and noisy):
//
//   - ADD, CHECK and DEL latency through libcni (what containerd, CRI-O
//     and Multus use) over -pods pods, each with two veths already in the
//     pod (linksInContainer) and static IPAM; ADD and DEL with the VM's two
//     virtio NICs (-host rounds);
//   - the floors: cold execs of `bond` with CNI_COMMAND=VERSION, of the
//     static IPAM plugin's ADD and DEL, of a hello-world static Go binary,
//     and of bond-linkfloor (the plugin built to exit before its own init
//     and main), sampled between the operations they are compared with
//     (after every -floor-every'th pod ADD and DEL, after every host round),
//     in rotating order;
//   - inside each libcni call, the wall time of the plugin's own exec: the
//     rest of the call is libcni's work;
//   - the peak RSS of an ADD (wait4's ru_maxrss of a direct exec, started
//     from the small bond-rusage helper so that the figure is the plugin's);
//   - the netlink round trips of one ADD, CHECK and DEL, counted by the
//     rtnetlink adapter itself while app.Service runs in this process with
//     the adapters cmd/bond wires (see trips.go);
//   - 1, 8 and 32 pods attaching at once: total time and failures;
//   - ADD and DEL of two host links in two sandbox host namespaces, one
//     with -extra-links more links, in alternating rounds: a plugin that
//     listed every host link would be slower in the second.
//
// It prints a table and the budgets (PASS/FAIL), then bench.txt, bench.json
// and bench.svg between marker lines that integration/bench.sh extracts.
// The exit status is 0 when every measurement was taken, whatever the
// budgets say; 1 when a measurement failed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/bondcni/bond/adapters/cni"
	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/integration/kit"
)

type params struct {
	BinDir      string `json:"-"`
	Pods        int    `json:"pods"`
	HostRounds  int    `json:"host_rounds"`
	FloorEvery  int    `json:"floor_every"`
	RSSRounds   int    `json:"rss_rounds"`
	Bursts      []int  `json:"bursts"`
	ExtraLinks  int    `json:"extra_host_links"`
	ScaleRounds int    `json:"extra_links_rounds"`
	// Compare names another plugin in BinDir to measure bond against
	// (compare.go); "" skips it.
	Compare     string `json:"compare,omitempty"`
	ComparePods int    `json:"compare_pods,omitempty"`
	CompareHost int    `json:"compare_host_rounds,omitempty"`
}

func main() {
	p := params{}
	var bursts string
	flag.StringVar(&p.BinDir, "bin", os.Getenv("CNI_PATH"), "directory holding bond, bond-linkfloor, static, hello, kernel-floor and bond-rusage (CNI_PATH)")
	flag.IntVar(&p.Pods, "pods", 200, "pods for the in-pod ADD/CHECK/DEL latency")
	flag.IntVar(&p.HostRounds, "host", 30, "ADD+DEL rounds with the two host NICs")
	flag.IntVar(&p.FloorEvery, "floor-every", 2, "take one sample of each floor after every n-th pod ADD and DEL")
	flag.IntVar(&p.RSSRounds, "rss", 3, "direct-exec ADDs whose peak RSS is read, per scenario")
	flag.StringVar(&bursts, "bursts", "1,8,32", "pods attaching at once, comma-separated")
	flag.IntVar(&p.ExtraLinks, "extra-links", 500, "dummy links in the second of two sandbox hosts, for the no-dump check (0 = skip)")
	flag.IntVar(&p.ScaleRounds, "extra-links-rounds", 5, "ADD+DEL rounds in each sandbox host, alternating")
	flag.StringVar(&p.Compare, "compare", "", "another bond plugin in -bin to measure against, taking turns (e.g. bond-cni)")
	flag.IntVar(&p.ComparePods, "compare-pods", 60, "with -compare: pods of each plugin, in-pod ADD and DEL")
	flag.IntVar(&p.CompareHost, "compare-host", 10, "with -compare: ADD+DEL rounds of each plugin with the host NICs")
	render := flag.String("render", "", "no measurement: re-render bench.txt and bench.svg (budgets re-evaluated) from this bench.json into -out")
	outDir := flag.String("out", ".", "directory for -render")
	flag.Parse()
	if *render != "" {
		if err := rerender(*render, *outDir); err != nil {
			fmt.Fprintln(os.Stderr, "bond-bench:", err)
			os.Exit(1)
		}
		return
	}
	for _, f := range strings.Split(bursts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bond-bench: bad -bursts %q\n", bursts)
			os.Exit(2)
		}
		p.Bursts = append(p.Bursts, n)
	}
	if p.Compare != "" && (p.ComparePods < 1 || p.CompareHost < 0) {
		fmt.Fprintf(os.Stderr, "bond-bench: -compare needs -compare-pods ≥ 1 and -compare-host ≥ 0 (got %d, %d)\n", p.ComparePods, p.CompareHost)
		os.Exit(2)
	}
	if p.FloorEvery < 1 {
		p.FloorEvery = 1
	}
	if p.BinDir == "" {
		p.BinDir = "/payload/bin"
	}
	rep, err := benchmark(p)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bond-bench: MEASUREMENT FAILED:", err)
		os.Exit(1)
	}
	if err := emit(os.Stdout, rep); err != nil {
		fmt.Fprintln(os.Stderr, "bond-bench:", err)
		os.Exit(1)
	}
}

// bench holds what every phase needs.
type bench struct {
	p      params
	bond   string
	static string
	hello  string
	// linkFloor is the plugin built to exit before main (tag benchfloor):
	// its dependencies' start-up alone.
	linkFloor string
	floorK    string // kernel-floor: the kernel changes of a verb alone
	rusage    string
	cni       *libcni.CNIConfig
	sc        *scenery
	rep       *Report
	started   time.Time
	floor     map[string][]time.Duration
	cpu       map[string][]time.Duration // CPU time per exec, by series key
	sys       map[string][]time.Duration // its kernel share
	// execWall is the wall time of the plugin's exec inside each libcni
	// call, and the rest of the call (libcni's own work), by series key
	// with "_exec" and "_libcni" appended.
	execWall map[string][]time.Duration
	exec     *cpuExec
	seq      int
}

func benchmark(p params) (*Report, error) {
	if err := kit.Available(); err != nil {
		return nil, fmt.Errorf("needs root and the bonding driver (run it in the VM with make bench): %w", err)
	}
	b := &bench{
		p:         p,
		bond:      filepath.Join(p.BinDir, "bond"),
		static:    filepath.Join(p.BinDir, "static"),
		hello:     filepath.Join(p.BinDir, "hello"),
		linkFloor: filepath.Join(p.BinDir, "bond-linkfloor"),
		floorK:    filepath.Join(p.BinDir, "kernel-floor"),
		rusage:    filepath.Join(p.BinDir, "bond-rusage"),
		started:   time.Now(),
		floor:     map[string][]time.Duration{},
		cpu:       map[string][]time.Duration{},
		sys:       map[string][]time.Duration{},
		execWall:  map[string][]time.Duration{},
		exec:      newCPUExec(),
		rep:       newReport(p),
	}
	for _, f := range []string{b.bond, b.static, b.hello, b.linkFloor, b.floorK, b.rusage} {
		if _, err := os.Stat(f); err != nil {
			return nil, err
		}
	}
	if p.Compare != "" {
		if err := checkOther(p.BinDir, p.Compare); err != nil {
			return nil, err
		}
	}
	if err := hostNICsHome(); err != nil {
		return nil, fmt.Errorf("before starting: %w", err)
	}
	cacheDir, err := os.MkdirTemp("", "bench-cni-cache")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(cacheDir)
	b.cni = libcni.NewCNIConfigWithCacheDir([]string{p.BinDir}, cacheDir, b.exec)
	if b.sc, err = newScenery(); err != nil {
		return nil, err
	}
	defer func() {
		if err := b.sc.cleanup(); err != nil {
			fmt.Fprintln(os.Stderr, "bond-bench: cleanup:", err)
		}
	}()

	phases := []struct {
		name string
		fn   func() error
	}{
		{fmt.Sprintf("%d pods: ADD (+ one floor sample of each kind every %d), CHECK, DEL through libcni", p.Pods, p.FloorEvery), b.podLatency},
		{fmt.Sprintf("host NICs: %d ADD+DEL rounds through libcni", p.HostRounds), b.hostLatency},
		{"peak RSS (direct exec through bond-rusage, wait4)", b.peakRSS},
		{"netlink round trips (app.Service in process, real adapters)", b.roundTrips},
		{fmt.Sprintf("pods attaching at once: %v", p.Bursts), b.bursts},
		{fmt.Sprintf("sandbox hosts with 0 and %d extra links", p.ExtraLinks), b.extraLinks},
	}
	if p.Compare != "" {
		phases = append(phases, struct {
			name string
			fn   func() error
		}{fmt.Sprintf("against %s: %d pods and %d host-NIC rounds each, taking turns", p.Compare, p.ComparePods, p.CompareHost), b.compare})
	}
	for _, ph := range phases {
		t := time.Now()
		phaseStart = t
		fmt.Fprintf(os.Stderr, "== %s\n", ph.name)
		if err := ph.fn(); err != nil {
			return nil, fmt.Errorf("%s: %w", ph.name, err)
		}
		fmt.Fprintf(os.Stderr, "   done in %.1fs\n", time.Since(t).Seconds())
	}
	for k, v := range b.floor {
		b.rep.Latency[k] = newDist(v)
	}
	for k, v := range b.cpu {
		b.rep.CPU[k] = newDist(v)
	}
	for k, v := range b.sys {
		b.rep.SysCPU[k] = newDist(v)
	}
	for k, v := range b.execWall {
		b.rep.Latency[k] = newDist(v)
	}
	b.rep.Elapsed = round3(time.Since(b.started).Seconds())
	b.rep.Budgets = evaluate(b.rep)
	return b.rep, nil
}

var phaseStart = time.Now()

// progress tells the console how far a long phase got.
func progress(what string, n int) {
	fmt.Fprintf(os.Stderr, "   %s %d pods (%.0fs)\n", what, n, time.Since(phaseStart).Seconds())
}

func (b *bench) containerID(prefix string) string {
	b.seq++
	return fmt.Sprintf("%s%05d", prefix, b.seq)
}

// The network configs: the seed's two examples, with cniVersion 1.1.0 so
// that libcni runs CHECK and passes prevResult, and static IPAM.

func podConf(i int) []byte {
	return fmt.Appendf(nil, `{
  "cniVersion": "1.1.0",
  "name": "bench-pods",
  "type": "bond",
  "mode": "802.3ad",
  "miimon": "100",
  "linksInContainer": true,
  "links": [{"name": "net1"}, {"name": "net2"}],
  "ipam": {"type": "static", "addresses": [{"address": "10.%d.%d.%d/16"}]}
}`, 100+i/65000, (i/250)%250, i%250+1)
}

var hostConf = []byte(`{
  "cniVersion": "1.1.0",
  "name": "bench-host",
  "type": "bond",
  "mode": "active-backup",
  "miimon": "100",
  "failOverMac": 1,
  "links": [{"name": "eth1000"}, {"name": "eth1001"}],
  "ipam": {"type": "static", "addresses": [{"address": "10.250.0.2/24"}]},
  "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"},
  "datastore_type": "kubernetes"
}`)

type attachment struct {
	id, netns, ifname string
	conf              []byte
	list              *libcni.NetworkConfigList
	// cpuKey names the series the CPU time of its ADD, CHECK and DEL go
	// to ("pod" gives cpu add_pod, ...); "" keeps none (bursts).
	cpuKey string
}

// cpu files the CPU time and the wall time of the plugin's last exec for
// verb, and what of the libcni call that took call was not that exec.
func (a attachment) cpu(verb string, b *bench, call time.Duration) {
	d := b.exec.take(verb, a.id)
	if a.cpuKey == "" || d.total == 0 {
		return
	}
	k := strings.ToLower(verb) + "_" + a.cpuKey
	b.cpu[k] = append(b.cpu[k], d.total)
	b.sys[k] = append(b.sys[k], d.sys)
	b.execWall[k+"_exec"] = append(b.execWall[k+"_exec"], d.wall)
	b.execWall[k+"_libcni"] = append(b.execWall[k+"_libcni"], call-d.wall)
}

func newAttachment(id, netns, ifname string, conf []byte) (attachment, error) {
	pc, err := libcni.NetworkPluginConfFromBytes(conf)
	if err != nil {
		return attachment{}, err
	}
	l, err := libcni.ConfListFromConf(pc)
	if err != nil {
		return attachment{}, err
	}
	return attachment{id: id, netns: netns, ifname: ifname, conf: conf, list: l}, nil
}

func (a attachment) rt() *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: a.id, NetNS: a.netns, IfName: a.ifname,
		Args: [][2]string{{"IgnoreUnknown", "true"}, {"K8S_POD_NAMESPACE", "bench"}, {"K8S_POD_NAME", "pod-" + a.id}}}
}

func (b *bench) add(a attachment) (time.Duration, error) {
	start := time.Now()
	r, err := b.cni.AddNetworkList(context.Background(), a.list, a.rt())
	d := time.Since(start)
	a.cpu("ADD", b, d)
	if err != nil {
		return d, fmt.Errorf("ADD %s: %w", a.id, err)
	}
	res, err := types100.NewResultFromResult(r)
	if err != nil {
		return d, err
	}
	if len(res.Interfaces) != 1 || len(res.IPs) != 1 {
		return d, fmt.Errorf("ADD %s: unexpected result %v", a.id, res)
	}
	return d, nil
}

func (b *bench) check(a attachment) (time.Duration, error) {
	start := time.Now()
	err := b.cni.CheckNetworkList(context.Background(), a.list, a.rt())
	d := time.Since(start)
	a.cpu("CHECK", b, d)
	if err != nil {
		err = fmt.Errorf("CHECK %s: %w", a.id, err)
	}
	return d, err
}

func (b *bench) del(a attachment) (time.Duration, error) {
	start := time.Now()
	err := b.cni.DelNetworkList(context.Background(), a.list, a.rt())
	d := time.Since(start)
	a.cpu("DEL", b, d)
	if err != nil {
		err = fmt.Errorf("DEL %s: %w", a.id, err)
	}
	return d, err
}

// The floors are sampled alongside the operations they are compared with,
// so that the emulator's drifting speed (other VMs share the host) hits
// both alike: hello-world, bond VERSION, the plugin's link floor (built to
// exit before main) and IPAM ADD between the pod ADDs,
// bond VERSION and IPAM DEL between the pod DELs, bond VERSION, IPAM ADD
// and IPAM DEL between the host-NIC rounds. The series keys name the
// phase; each budget uses the floors of its own phase.
const (
	floorHello     = "hello"
	floorVersion   = "version"
	floorLinkFloor = "linkfloor"
	floorIPAMAdd   = "ipam_add"
	floorIPAMDel   = "ipam_del"
	// floorOtherVersion is the -compare plugin's VERSION (compare.go).
	floorOtherVersion = "other_version"
)

// floorRound takes one cold-exec sample of each named floor, starting with
// a different one each round so that none always follows the same exec,
// and files it under "exec_<floor><suffix>".
func (b *bench) floorRound(round int, suffix, pod string, conf []byte, floors ...string) error {
	id := b.containerID("floor")
	for k := range floors {
		f := floors[(k+round)%len(floors)]
		var path, want string
		var env []string
		var in []byte
		switch f {
		case floorHello:
			path, want = b.hello, "hello"
		case floorVersion:
			path, env, in, want = b.bond, []string{"CNI_COMMAND=VERSION"}, []byte(`{"cniVersion":"1.1.0"}`), "supportedVersions"
		case floorLinkFloor:
			// It prints nothing: output would mean a build without the tag.
			path, env, in = b.linkFloor, []string{"CNI_COMMAND=VERSION"}, []byte(`{"cniVersion":"1.1.0"}`)
		case floorIPAMAdd:
			path, env, in, want = b.static, cniEnv("ADD", id, pod, "bond0", b.p.BinDir), conf, `"ips"`
		case floorIPAMDel:
			path, env, in = b.static, cniEnv("DEL", id, pod, "bond0", b.p.BinDir), conf
		case floorOtherVersion:
			path, env, in, want = filepath.Join(b.p.BinDir, b.p.Compare), []string{"CNI_COMMAND=VERSION"}, []byte(`{"cniVersion":"1.1.0"}`), "supportedVersions"
		}
		r, err := run(path, env, in)
		if err != nil {
			return fmt.Errorf("floor %s: %w", f, err)
		}
		if !bytes.Contains(r.Stdout, []byte(want)) || f == floorLinkFloor && len(r.Stdout) > 0 {
			return fmt.Errorf("floor %s: unexpected output %q", f, r.Stdout)
		}
		b.sample("exec_"+f+suffix, r)
	}
	return nil
}

func (b *bench) podLatency() error {
	atts := make([]attachment, b.p.Pods)
	for i := range atts {
		pod, err := b.sc.pod("bench-pod")
		if err != nil {
			return err
		}
		if atts[i], err = newAttachment(b.containerID("pod"), pod, "bond0", podConf(i)); err != nil {
			return err
		}
		atts[i].cpuKey = "pod"
	}
	// One pod of its own for each kernel-floor sample, taken where the
	// floors are.
	kf := make([]string, (len(atts)+b.p.FloorEvery-1)/b.p.FloorEvery)
	for i := range kf {
		var err error
		if kf[i], err = b.sc.pod("bench-kf"); err != nil {
			return err
		}
	}
	progress("set up", len(atts))
	var adds, checks, dels []time.Duration
	for i, a := range atts {
		d, err := b.add(a)
		if err != nil {
			return err
		}
		adds = append(adds, d)
		if i%b.p.FloorEvery == 0 {
			if err := b.floorRound(i/b.p.FloorEvery, "", a.netns, a.conf, floorHello, floorVersion, floorLinkFloor, floorIPAMAdd); err != nil {
				return err
			}
			if err := b.kernelOwn("kernel_add_pod", "add", kf[i/b.p.FloorEvery], a.conf, false); err != nil {
				return err
			}
		}
		if (i+1)%50 == 0 {
			progress("ADD", i+1)
		}
	}
	for _, a := range atts {
		d, err := b.check(a)
		if err != nil {
			return err
		}
		checks = append(checks, d)
	}
	progress("CHECK", len(atts))
	for i, a := range atts {
		d, err := b.del(a)
		if err != nil {
			return err
		}
		dels = append(dels, d)
		if i%b.p.FloorEvery == 0 {
			if err := b.floorRound(i/b.p.FloorEvery, "_del", a.netns, a.conf, floorHello, floorVersion, floorIPAMDel); err != nil {
				return err
			}
			if err := b.kernelOwn("kernel_del_pod", "del", kf[i/b.p.FloorEvery], a.conf, false); err != nil {
				return err
			}
		}
	}
	progress("DEL", len(atts))
	for _, a := range atts {
		if err := b.sc.drop(a.netns); err != nil {
			return err
		}
	}
	for _, pod := range kf {
		if err := b.sc.drop(pod); err != nil {
			return err
		}
	}
	b.rep.Latency["add_pod"] = newDist(adds)
	b.rep.Latency["check_pod"] = newDist(checks)
	b.rep.Latency["del_pod"] = newDist(dels)
	return nil
}

// hostLatency attaches the two host NICs to a fresh pod and detaches them,
// checking each time that they came home, with a floor sample of each
// kind after every round.
func (b *bench) hostLatency() error {
	var adds, dels []time.Duration
	for r := range b.p.HostRounds {
		pod, err := b.sc.emptyPod("bench-host")
		if err != nil {
			return err
		}
		a, err := newAttachment(b.containerID("host"), pod, "net1", hostConf)
		if err != nil {
			return err
		}
		a.cpuKey = "host"
		ours := func() error {
			d, err := b.add(a)
			if err != nil {
				return err
			}
			adds = append(adds, d)
			if d, err = b.del(a); err != nil {
				return err
			}
			dels = append(dels, d)
			return hostNICsHome()
		}
		kf, err := b.sc.emptyPod("bench-kf-host")
		if err != nil {
			return err
		}
		floor := func() error {
			if err := b.kernelOwn("kernel_add_host", "add", kf, hostConf, true); err != nil {
				return err
			}
			if err := b.kernelOwn("kernel_del_host", "del", kf, hostConf, true); err != nil {
				return err
			}
			return hostNICsHome()
		}
		// The first of the two after the previous round's namespaces were
		// dropped meets the kernel's asynchronous cleanup of them (it takes
		// the RTNL lock); taking turns spreads that over both.
		first, second := ours, floor
		if r%2 == 1 {
			first, second = floor, ours
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		if err := b.floorRound(r, "_host", pod, hostConf, floorHello, floorVersion, floorIPAMAdd, floorIPAMDel); err != nil {
			return err
		}
		if err := b.sc.drop(kf); err != nil {
			return err
		}
		if err := b.sc.drop(pod); err != nil {
			return err
		}
	}
	b.rep.Latency["add_host"] = newDist(adds)
	b.rep.Latency["del_host"] = newDist(dels)
	return nil
}

// sample files one exec's wall, CPU and system time under key.
func (b *bench) sample(key string, r execResult) {
	b.floor[key] = append(b.floor[key], r.Wall)
	b.cpu[key] = append(b.cpu[key], r.CPU)
	b.sys[key] = append(b.sys[key], r.Sys)
}

// kernelOwn execs kernel-floor, which makes a verb's kernel changes and
// nothing else (the same messages, through the same adapter, for the bond
// conf describes), in pod, and files its time under key; and, in turns
// before or after it, kernel-floor -verb none (the same process without
// the kernel work) under key+"_base". Sampled between the operations like
// the floors, what the verb takes beyond its base is the kernel's own
// work, which no plugin can skip: the budgets use it to say whether they
// can be met on this kernel at all. (Beyond hello-world it would also
// count what kernel-floor's larger binary costs to start, which a plugin
// need not pay.)
func (b *bench) kernelOwn(key, verb, pod string, conf []byte, host bool) error {
	args := []string{"-verb", verb, "-netns", pod, "-bond", "bond0"}
	if host {
		args = append(args, "-host")
	}
	if verb == "add" {
		args = append(args, "-addr", "10.99.0.1/16")
	}
	base := []string{"-verb", "none", "-netns", pod, "-bond", "bond0"}
	order := []struct {
		key  string
		args []string
	}{{key, args}, {key + "_base", base}}
	if len(b.floor[key])%2 == 1 {
		order[0], order[1] = order[1], order[0]
	}
	for _, o := range order {
		r, err := run(b.floorK, nil, conf, o.args...)
		if err != nil {
			return fmt.Errorf("kernel-floor %s: %w", o.key, err)
		}
		b.sample(o.key, r)
	}
	return nil
}

// peakRSS execs bond ADD and DEL directly, through the bond-rusage helper,
// and reads wait4's ru_maxrss: the larger of the plugin's own peak and its
// IPAM child's, whose own peak is read here too, as are the floors'.
func (b *bench) peakRSS() error {
	for _, sc := range []struct {
		key    string
		pod    func() (string, error)
		ifname string
		conf   []byte
	}{
		{"pod", func() (string, error) { return b.sc.pod("bench-rss") }, "bond0", podConf(0)},
		{"host", func() (string, error) { return b.sc.emptyPod("bench-rss-host") }, "net1", hostConf},
	} {
		for range b.p.RSSRounds {
			pod, err := sc.pod()
			if err != nil {
				return err
			}
			id := b.containerID("rss")
			for _, verb := range []string{"ADD", "DEL"} {
				kib, res, err := peakRSS(b.rusage, b.bond, cniEnv(verb, id, pod, sc.ifname, b.p.BinDir), sc.conf)
				if err != nil {
					return fmt.Errorf("%s: %w", verb, err)
				}
				b.rep.RSS.note(strings.ToLower(verb)+"_"+sc.key, kib)
				b.rep.RSS.note("resolution", res)
			}
			if err := b.sc.drop(pod); err != nil {
				return err
			}
		}
	}
	pod, err := b.sc.emptyPod("bench-rss-floor")
	if err != nil {
		return err
	}
	for range b.p.RSSRounds {
		for _, f := range []struct {
			key, path string
			env       []string
			in        []byte
		}{
			{"exec_hello", b.hello, nil, nil},
			{"exec_version", b.bond, []string{"CNI_COMMAND=VERSION"}, []byte(`{"cniVersion":"1.1.0"}`)},
			{"exec_ipam_add", b.static, cniEnv("ADD", "rss-floor", pod, "bond0", b.p.BinDir), podConf(0)},
		} {
			kib, res, err := peakRSS(b.rusage, f.path, f.env, f.in)
			if err != nil {
				return fmt.Errorf("%s: %w", f.key, err)
			}
			b.rep.RSS.note(f.key, kib)
			b.rep.RSS.note("resolution", res)
		}
	}
	return hostNICsHome()
}

// inProcessRounds is how many times roundTrips runs each scenario; the
// report keeps the median time of each port method (round trips do not
// vary), so one slow call of an emulated machine does not stand for the
// verb.
const inProcessRounds = 7

// roundTrips runs ADD, CHECK and DEL of each scenario in process, each
// round with freshly wired adapters (new sockets, as every exec of the
// plugin opens its own).
func (b *bench) roundTrips() error {
	for _, sc := range []struct {
		name   string
		ifname string
		conf   []byte
		pod    func() (string, error)
	}{
		{"pod", "bond0", podConf(0), func() (string, error) { return b.sc.pod("bench-rt") }},
		{"host", "net1", hostConf, func() (string, error) { return b.sc.emptyPod("bench-rt-host") }},
	} {
		var adds, checks, dels []VerbCost
		for range inProcessRounds {
			add, check, del, err := b.roundTrip(sc.ifname, sc.conf, sc.pod)
			if err != nil {
				return fmt.Errorf("in process (%s): %w", sc.name, err)
			}
			adds, checks, dels = append(adds, add), append(checks, check), append(dels, del)
		}
		b.rep.RoundTrips["add_"+sc.name] = medianCost(adds)
		b.rep.RoundTrips["check_"+sc.name] = medianCost(checks)
		b.rep.RoundTrips["del_"+sc.name] = medianCost(dels)
	}
	return hostNICsHome()
}

// roundTrip runs one ADD, CHECK and DEL in process in a new pod.
func (b *bench) roundTrip(ifname string, conf []byte, newPod func() (string, error)) (add, check, del VerbCost, err error) {
	ip, err := newInProcess()
	if err != nil {
		return add, check, del, err
	}
	defer ip.rt.Close()
	pod, err := newPod()
	if err != nil {
		return add, check, del, err
	}
	req := ip.request(b.containerID("rt"), pod, ifname, b.p.BinDir, conf)
	var res []byte
	add, err = ip.measure(func(ctx context.Context) error {
		r, err := ip.svc.Add(ctx, req)
		if err == nil {
			res, err = json.Marshal(cni.ToCNIResult(r))
		}
		return err
	})
	if err != nil {
		return add, check, del, fmt.Errorf("ADD: %w", err)
	}
	checkReq := req
	if checkReq.Config, err = withPrevResult(conf, res); err != nil {
		return add, check, del, err
	}
	if check, err = ip.measure(func(ctx context.Context) error { return ip.svc.Check(ctx, checkReq) }); err != nil {
		return add, check, del, fmt.Errorf("CHECK: %w", err)
	}
	if del, err = ip.measure(func(ctx context.Context) error { return ip.svc.Del(ctx, checkReq) }); err != nil {
		return add, check, del, fmt.Errorf("DEL: %w", err)
	}
	if err := ip.rt.Forget(domain.Netns(pod)); err != nil {
		return add, check, del, err
	}
	return add, check, del, b.sc.drop(pod)
}

// withPrevResult adds prevResult to a config, as libcni does for CHECK
// and DEL.
func withPrevResult(conf, result []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(conf, &m); err != nil {
		return nil, err
	}
	m["prevResult"] = result
	return json.Marshal(m)
}

// Burst is n pods attaching at once, then detaching at once.
type Burst struct {
	Pods        int      `json:"pods"`
	AddTotalMs  float64  `json:"add_total_ms"`
	AddFailures int      `json:"add_failures"`
	DelTotalMs  float64  `json:"del_total_ms"`
	DelFailures int      `json:"del_failures"`
	Errors      []string `json:"errors,omitempty"`
	// Serial is AddTotalMs / (Pods × the median sequential ADD): about 1
	// if the ADDs ran one after the other (as under one global lock), less
	// when they overlap.
	Serial float64 `json:"add_total_over_serial"`
	// KernelAddTotalMs is n kernel-floor ADDs at once, each in a pod of its
	// own: the kernel's own work for n bonds at once, which bounds how fast
	// any plugin's n ADDs at once can be.
	KernelAddTotalMs float64 `json:"kernel_floor_add_total_ms,omitempty"`
}

// kernelBurst execs n kernel-floor ADDs at once, then their DELs one by
// one, and returns how long the ADDs took together.
func (b *bench) kernelBurst(n int) (time.Duration, error) {
	pods := make([]string, n)
	for i := range pods {
		var err error
		if pods[i], err = b.sc.pod("bench-kburst"); err != nil {
			return 0, err
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, pod := range pods {
		wg.Go(func() {
			<-start
			_, errs[i] = run(b.floorK, nil, podConf(i), "-verb", "add", "-netns", pod, "-bond", "bond0", "-addr", "10.99.0.1/16")
		})
	}
	t := time.Now()
	close(start)
	wg.Wait()
	d := time.Since(t)
	for _, pod := range pods {
		if _, err := run(b.floorK, nil, podConf(0), "-verb", "del", "-netns", pod, "-bond", "bond0"); err != nil {
			errs = append(errs, err)
		}
		if err := b.sc.drop(pod); err != nil {
			errs = append(errs, err)
		}
	}
	return d, errors.Join(errs...)
}

func (b *bench) bursts() error {
	for _, n := range b.p.Bursts {
		atts := make([]attachment, n)
		for i := range atts {
			pod, err := b.sc.pod("bench-burst")
			if err != nil {
				return err
			}
			if atts[i], err = newAttachment(b.containerID("burst"), pod, "bond0", podConf(i)); err != nil {
				return err
			}
		}
		br := Burst{Pods: n}
		var mu sync.Mutex
		all := func(f func(attachment) (time.Duration, error)) (time.Duration, int) {
			var wg sync.WaitGroup
			start := make(chan struct{})
			fails := 0
			for _, a := range atts {
				wg.Go(func() {
					<-start
					if _, err := f(a); err != nil {
						mu.Lock()
						fails++
						if len(br.Errors) < 5 {
							br.Errors = append(br.Errors, err.Error())
						}
						mu.Unlock()
					}
				})
			}
			t := time.Now()
			close(start)
			wg.Wait()
			return time.Since(t), fails
		}
		d, f := all(b.add)
		br.AddTotalMs, br.AddFailures = round3(ms(d)), f
		d, f = all(b.del)
		br.DelTotalMs, br.DelFailures = round3(ms(d)), f
		if med := b.rep.Latency["add_pod"].Median; med > 0 {
			br.Serial = round3(br.AddTotalMs / (float64(n) * med))
		}
		if n == 32 {
			kd, err := b.kernelBurst(n)
			if err != nil {
				return fmt.Errorf("kernel-floor burst: %w", err)
			}
			br.KernelAddTotalMs = round3(ms(kd))
		}
		b.rep.Bursts = append(b.rep.Bursts, br)
		for _, a := range atts {
			if br.DelFailures > 0 {
				_, _ = b.del(a) // retry, so the namespaces can go
			}
			if err := b.sc.drop(a.netns); err != nil {
				return err
			}
		}
	}
	return nil
}

// ExtraLinks compares ADD and DEL of two host links in two sandbox host
// namespaces, one with many more links, in alternating rounds (so that
// drift in the emulator's speed hits both alike): a plugin that listed
// every host link would slow down with them.
type ExtraLinks struct {
	BaseLinks int  `json:"host_links_before"`
	BaseAdd   Dist `json:"add_before"`
	BaseDel   Dist `json:"del_before"`
	HostLinks int  `json:"host_links"`
	Add       Dist `json:"add"`
	Del       Dist `json:"del"`
}

func (b *bench) extraLinks() error {
	if b.p.ExtraLinks == 0 || b.p.ScaleRounds == 0 {
		return nil
	}
	type host struct {
		ns         string
		links      int
		adds, dels []time.Duration
	}
	var hosts [2]*host
	for i, extra := range []int{0, b.p.ExtraLinks} {
		ns, err := b.sc.fakeHost(fmt.Sprintf("bench-fakehost%d", i), extra)
		if err != nil {
			return err
		}
		n, err := linkCount(ns)
		if err != nil {
			return err
		}
		hosts[i] = &host{ns: ns, links: n}
	}
	conf := bytes.ReplaceAll(bytes.ReplaceAll(hostConf, []byte(hostNIC1), []byte("nic1")), []byte(hostNIC2), []byte("nic2"))
	for r := range b.p.ScaleRounds {
		for k := range hosts {
			h := hosts[(k+r)%2]
			pod, err := b.sc.emptyPod("bench-fakepod")
			if err != nil {
				return err
			}
			a, err := newAttachment(b.containerID("fake"), pod, "net1", conf)
			if err != nil {
				return err
			}
			// The plugin is born in the thread's namespace: the sandbox host.
			err = netns.Do(domain.Netns(h.ns), func() error {
				d, err := b.add(a)
				if err != nil {
					return err
				}
				h.adds = append(h.adds, d)
				if d, err = b.del(a); err != nil {
					return err
				}
				h.dels = append(h.dels, d)
				return nil
			})
			if err != nil {
				return err
			}
			if err := linksHome(h.ns, "nic1", "nic2"); err != nil {
				return err
			}
			if err := b.sc.drop(pod); err != nil {
				return err
			}
		}
	}
	b.rep.Extra = &ExtraLinks{
		BaseLinks: hosts[0].links, BaseAdd: newDist(hosts[0].adds), BaseDel: newDist(hosts[0].dels),
		HostLinks: hosts[1].links, Add: newDist(hosts[1].adds), Del: newDist(hosts[1].dels),
	}
	for _, h := range hosts {
		if err := b.sc.drop(h.ns); err != nil {
			return err
		}
	}
	return nil
}

// machine describes where the run happened.
func machine() Machine {
	m := Machine{GuestCPUs: runtime.NumCPU(), Go: runtime.Version(), Host: os.Getenv("BENCH_HOST")}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.GuestKernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.GuestCPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.Atoi(f[1])
				m.GuestMemMB = kb / 1024
			}
		}
	}
	return m
}
