package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Report is everything one run measured; bench.json is this, indented.
type Report struct {
	Schema  int             `json:"schema"`
	Started string          `json:"started"`
	Elapsed float64         `json:"elapsed_s"`
	Machine Machine         `json:"machine"`
	Params  params          `json:"params"`
	Latency map[string]Dist `json:"latency"`
	// CPU is the CPU time (user+sys, wait4 rusage) of the same execs, by
	// the same keys: the plugin's ADD/CHECK/DEL (its IPAM child included)
	// and the floors.
	CPU map[string]Dist `json:"cpu"`
	// SysCPU is the system (kernel) part of CPU: for the plugin, mostly
	// the kernel creating, enslaving and deleting bonds on its behalf.
	SysCPU     map[string]Dist     `json:"cpu_sys"`
	RSS        RSS                 `json:"peak_rss_kib"`
	RoundTrips map[string]VerbCost `json:"in_process"`
	Bursts     []Burst             `json:"at_once"`
	Extra      *ExtraLinks         `json:"extra_host_links,omitempty"`
	Compare    *Comparison         `json:"compare,omitempty"`
	Budgets    []Budget            `json:"budgets"`
}

// Machine is where the run happened: the guest as it sees itself, and the
// host as integration/bench.sh described it (BENCH_HOST).
type Machine struct {
	GuestKernel string `json:"guest_kernel"`
	GuestCPU    string `json:"guest_cpu"`
	GuestCPUs   int    `json:"guest_cpus"`
	GuestMemMB  int    `json:"guest_mem_mb"`
	Go          string `json:"go"`
	Host        string `json:"host"`
}

// RSS holds the largest ru_maxrss (KiB) seen per kind of exec.
type RSS map[string]int64

func (r RSS) note(key string, kib int64) { r[key] = max(r[key], kib) }

func newReport(p params) *Report {
	return &Report{
		Schema: 2, Started: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Params: p,
		Latency: map[string]Dist{}, CPU: map[string]Dist{}, SysCPU: map[string]Dist{}, RSS: RSS{}, RoundTrips: map[string]VerbCost{},
	}
}

// series names the latency series, in table and chart order.
// The floors are keyed by the phase they were sampled in (see floorRound).
var series = []struct{ key, label string }{
	{"exec_hello", "exec hello-world  | pod ADDs"},
	{"exec_version", "exec bond VERSION | pod ADDs"},
	{"exec_linkfloor", "exec bond, exit at init | pod ADDs"},
	{"exec_ipam_add", "exec IPAM ADD     | pod ADDs"},
	{"kernel_add_pod", "kernel-floor ADD  | pod ADDs"},
	{"kernel_add_pod_base", "kernel-floor none | pod ADDs"},
	{"add_pod", "ADD   2 veths in pod"},
	{"add_pod_exec", "  of it, the plugin's own exec"},
	{"check_pod", "CHECK 2 veths in pod"},
	{"check_pod_exec", "  of it, the plugin's own exec"},
	{"exec_hello_del", "exec hello-world  | pod DELs"},
	{"exec_version_del", "exec bond VERSION | pod DELs"},
	{"exec_ipam_del_del", "exec IPAM DEL     | pod DELs"},
	{"kernel_del_pod", "kernel-floor DEL  | pod DELs"},
	{"kernel_del_pod_base", "kernel-floor none | pod DELs"},
	{"del_pod", "DEL   2 veths in pod"},
	{"del_pod_exec", "  of it, the plugin's own exec"},
	{"exec_hello_host", "exec hello-world  | host rounds"},
	{"exec_version_host", "exec bond VERSION | host rounds"},
	{"exec_ipam_add_host", "exec IPAM ADD     | host rounds"},
	{"exec_ipam_del_host", "exec IPAM DEL     | host rounds"},
	{"kernel_add_host", "kernel-floor ADD  | host rounds"},
	{"kernel_add_host_base", "kernel-floor none | host ADDs"},
	{"kernel_del_host", "kernel-floor DEL  | host rounds"},
	{"kernel_del_host_base", "kernel-floor none | host DELs"},
	{"add_host", "ADD   2 host NICs (virtio)"},
	{"add_host_exec", "  of it, the plugin's own exec"},
	{"del_host", "DEL   2 host NICs (virtio)"},
	{"del_host_exec", "  of it, the plugin's own exec"},
}

type labelled struct {
	label string
	d     Dist
}

// extraRows are the host-NIC rounds just before and with the extra links.
func extraRows(r *Report) []labelled {
	e := r.Extra
	if e == nil {
		return nil
	}
	return []labelled{
		{fmt.Sprintf("ADD   sandbox host, %d links", e.BaseLinks), e.BaseAdd},
		{fmt.Sprintf("ADD   sandbox host, %d links", e.HostLinks), e.Add},
		{fmt.Sprintf("DEL   sandbox host, %d links", e.BaseLinks), e.BaseDel},
		{fmt.Sprintf("DEL   sandbox host, %d links", e.HostLinks), e.Del},
	}
}

// Budget is one limit of issues 6 and 12, checked as a ratio within the
// run.
type Budget struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"`
	Pass     bool    `json:"pass"`
	Detail   string  `json:"detail"`
	// Bound is the least any plugin could measure here, from the floors
	// and the kernel's own work (kernel-floor); 0 where none is derived.
	// Above Limit, the budget cannot be met on this kernel.
	Bound float64 `json:"lower_bound,omitempty"`
}

// Unattainable tells whether no plugin could meet the budget on this
// kernel: the kernel's own work and the floors alone exceed it.
func (b Budget) Unattainable() bool { return b.Bound > b.Limit }

// rssLimitKiB is 25 MB (decimal megabytes, the stricter reading) in KiB.
const rssLimitKiB = 25e6 / 1024

// The budgets of issue 12. A verb's floor is what no plugin exec can avoid:
// starting a Go process (hello world) plus the IPAM plugin's own exec.
const (
	verbFactor    = 1.5 // ADD and DEL median ≤ 1.5 × (hello + IPAM exec)
	versionFactor = 1.3 // cold VERSION ≤ 1.3 × hello
	cpuFactor     = 1.5 // CPU of an in-pod ADD ≤ 1.5 × CPU of (hello + IPAM ADD)
	burstFactor   = 0.7 // 32 ADDs at once ≤ 0.7 × 32 × median ADD
)

// linkFloorNote says how much of hello-world's budget the plugin's
// dependencies take before any of its code runs: the plugin built to exit
// before main, sampled with the floors.
func linkFloorNote(link, hello float64) string {
	if link <= 0 || hello <= 0 {
		return ""
	}
	return fmt.Sprintf("; the plugin's binary exiting before main (its dependencies' start-up alone) takes %.2f ms = %.2f × hello-world", link, link/hello)
}

// evaluate checks the budgets against a report.
func evaluate(r *Report) []Budget {
	lat := func(k string) float64 { return r.Latency[k].Median }
	var out []Budget
	// A verb's bound: the plugin's own exec (hello-world), then IPAM's exec
	// and the kernel's own work, fully overlapped. The kernel's own work is
	// kernel-floor beyond kernel-floor -verb none, not beyond hello-world:
	// kernel-floor's bigger binary costs more to start, which is not the
	// kernel's and which a plugin need not pay. Without the base, no bound.
	kernelWork := func(key string) float64 {
		if _, ok := r.Latency[key+"_base"]; !ok {
			return 0
		}
		return max(0, lat(key)-lat(key+"_base"))
	}
	ratio := func(name, key, helloKey, floorName, floorKey, kernelKey string) {
		m, hello, floor := lat(key), lat(helloKey), lat(floorKey)
		limit := verbFactor * (hello + floor)
		bu := Budget{
			Name: name, Measured: m, Limit: round3(limit), Unit: "ms", Pass: m > 0 && hello > 0 && floor > 0 && m <= limit,
			Detail: fmt.Sprintf("%.2f ms vs %.1f × (hello-world %.2f + %s %.2f) = %.2f ms; %.2f × the floor",
				m, verbFactor, hello, floorName, floor, limit, m/(hello+floor)),
		}
		if e, l := lat(key+"_exec"), lat(key+"_libcni"); m > 0 && e > 0 && l > 0 {
			bu.Detail += fmt.Sprintf("; the plugin's own exec %.2f ms of it (libcni's work around the exec %.2f ms, median per call)", e, l)
		}
		if k := kernelWork(kernelKey); k > 0 {
			bu.Bound = round3(hello + max(k, floor))
			bu.Detail += fmt.Sprintf("; kernel's own work %.2f ms (kernel-floor %.2f − its -verb none %.2f), so no plugin can do better than %.2f ms",
				k, lat(kernelKey), lat(kernelKey+"_base"), bu.Bound)
		}
		out = append(out, bu)
	}
	ratio("ADD median, 2 veths in pod ≤ 1.5 × (hello-world + IPAM ADD)", "add_pod", "exec_hello", "IPAM ADD", "exec_ipam_add", "kernel_add_pod")
	ratio("DEL median, 2 veths in pod ≤ 1.5 × (hello-world + IPAM DEL)", "del_pod", "exec_hello_del", "IPAM DEL", "exec_ipam_del_del", "kernel_del_pod")
	ratio("ADD median, 2 host NICs ≤ 1.5 × (hello-world + IPAM ADD)", "add_host", "exec_hello_host", "IPAM ADD", "exec_ipam_add_host", "kernel_add_host")
	ratio("DEL median, 2 host NICs ≤ 1.5 × (hello-world + IPAM DEL)", "del_host", "exec_hello_host", "IPAM DEL", "exec_ipam_del_host", "kernel_del_host")
	version, hello := lat("exec_version"), lat("exec_hello")
	out = append(out, Budget{
		Name: "cold bond VERSION ≤ 1.3 × hello-world", Measured: version, Limit: round3(versionFactor * hello), Unit: "ms",
		Pass: version > 0 && hello > 0 && version <= versionFactor*hello,
		Detail: fmt.Sprintf("%.2f ms vs %.1f × %.2f = %.2f ms; %.2f × hello-world (+%.2f ms)",
			version, versionFactor, hello, versionFactor*hello, version/hello, version-hello) + linkFloorNote(lat("exec_linkfloor"), hello),
	})
	cpu := func(k string) float64 { return r.CPU[k].Median }
	add, ipamCPU, helloCPU := cpu("add_pod"), cpu("exec_ipam_add"), cpu("exec_hello")
	cpuBudget := Budget{
		Name:     "CPU (user+sys) of an in-pod ADD ≤ 1.5 × (IPAM ADD + hello-world)",
		Measured: add, Limit: round3(cpuFactor * (ipamCPU + helloCPU)), Unit: "ms",
		Pass: add > 0 && ipamCPU > 0 && helloCPU > 0 && add <= cpuFactor*(ipamCPU+helloCPU),
		Detail: fmt.Sprintf("median %.2f ms (the plugin and its IPAM child) vs %.1f × (IPAM ADD %.2f + hello-world %.2f) = %.2f ms; %.2f × the floor",
			add, cpuFactor, ipamCPU, helloCPU, cpuFactor*(ipamCPU+helloCPU), add/(ipamCPU+helloCPU)),
	}
	if kf, base := cpu("kernel_add_pod"), cpu("kernel_add_pod_base"); kf > 0 && base > 0 {
		// CPU does not overlap: a plugin's exec (hello-world's at least) with
		// its kernel work (kernel-floor's beyond its -verb none), plus IPAM's.
		k := max(0, kf-base)
		cpuBudget.Bound = round3(helloCPU + k + ipamCPU)
		cpuBudget.Detail += fmt.Sprintf("; the kernel's own work takes %.2f ms (kernel-floor's ADD %.2f − its -verb none %.2f), so no plugin can use less than %.2f ms",
			k, kf, base, cpuBudget.Bound)
	}
	out = append(out, cpuBudget)
	if i := slices.IndexFunc(r.Bursts, func(b Burst) bool { return b.Pods == 32 }); i >= 0 {
		b := r.Bursts[i]
		out = append(out, Budget{
			Name: "32 pods at once: zero failures", Measured: float64(b.AddFailures + b.DelFailures), Limit: 0, Unit: "failures",
			Pass: b.AddFailures+b.DelFailures == 0,
			Detail: fmt.Sprintf("ADD %d failed in %.0f ms, DEL %d failed in %.0f ms; %s",
				b.AddFailures, b.AddTotalMs, b.DelFailures, b.DelTotalMs, lockSummary(r)),
		})
		bu := Budget{
			Name: "32 pods at once: ADD total ≤ 0.7 × 32 × median ADD", Measured: b.Serial, Limit: burstFactor, Unit: "× serial",
			Pass: b.Serial > 0 && b.Serial <= burstFactor,
			Detail: fmt.Sprintf("%.0f ms = %.2f × (32 × median ADD %.2f ms = %.0f ms)",
				b.AddTotalMs, b.Serial, lat("add_pod"), 32*lat("add_pod")),
		}
		if med := lat("add_pod"); b.KernelAddTotalMs > 0 && med > 0 {
			bu.Bound = round3(b.KernelAddTotalMs / (32 * med))
			bu.Detail += fmt.Sprintf("; 32 kernel-floor ADDs at once took %.0f ms (the kernel's own work for 32 bonds, %.2f × serial), so no plugin can do better",
				b.KernelAddTotalMs, bu.Bound)
		}
		out = append(out, bu)
	}
	peak := max(r.RSS["add_pod"], r.RSS["add_host"])
	out = append(out, Budget{
		Name: "peak RSS of an ADD ≤ 25 MB", Measured: round3(float64(peak) * 1024 / 1e6), Limit: 25, Unit: "MB",
		Pass: peak > 0 && float64(peak) <= rssLimitKiB,
		Detail: fmt.Sprintf("ru_maxrss %d KiB (in pod %d, host NICs %d; static IPAM alone %d, bond VERSION %d, hello-world %d; resolution %d)",
			peak, r.RSS["add_pod"], r.RSS["add_host"], r.RSS["exec_ipam_add"], r.RSS["exec_version"], r.RSS["exec_hello"], r.RSS["resolution"]),
	})
	dumps, routes, seen := 0, 0, 0
	for _, k := range []string{"add_pod", "del_pod", "add_host", "del_host"} {
		if v, ok := r.RoundTrips[k]; ok {
			dumps += v.LinkDumps
			routes += v.RouteDumps
			seen++
		}
	}
	detail := fmt.Sprintf("%d calls of Links.LinkByMAC or Bonds.Bond (the only link dumps of the rtnetlink adapter) in ADD and DEL of both scenarios", dumps)
	if routes > 0 {
		detail += fmt.Sprintf("; %d route dumps, filtered by the kernel to the link's routes (host-link safety check)", routes)
	}
	if e := r.Extra; e != nil {
		detail += fmt.Sprintf("; ADD of 2 host links median %.2f ms in a host netns of %d links vs %.2f in one of %d (alternating rounds), DEL %.2f vs %.2f",
			e.Add.Median, e.HostLinks, e.BaseAdd.Median, e.BaseLinks, e.Del.Median, e.BaseDel.Median)
	}
	out = append(out, Budget{
		Name: "no dump of all host links on ADD or DEL", Measured: float64(dumps), Limit: 0, Unit: "dump calls",
		Pass: seen == 4 && dumps == 0, Detail: detail,
	})
	return out
}

// lockSummary says which locks ADD takes and whether IPAM runs under one.
func lockSummary(r *Report) string {
	say := func(k, what string) string {
		v := r.RoundTrips[k]
		for _, c := range v.Calls {
			if strings.HasPrefix(c.Method, "Locks.Claim") && c.Calls > 0 {
				if v.LocksAtIPAM > 0 {
					return fmt.Sprintf("%s ADD holds the flocks of its %d links, also across IPAM ADD", what, v.LocksAtIPAM)
				}
				return what + " ADD holds per-link flocks, released before IPAM ADD"
			}
		}
		return what + " ADD takes no lock"
	}
	return "locks: " + say("add_pod", "in-pod") + "; " + say("add_host", "host-NIC") + "; none is global"
}

// table renders the report for people (bench.txt).
func table(r *Report) string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "bond-bench %s: guest Linux %s, %d vCPU (%s), %d MB, %s\n", r.Started, m.GuestKernel, m.GuestCPUs, m.GuestCPU, m.GuestMemMB, m.Go)
	if m.Host != "" {
		fmt.Fprintf(&b, "host: %s\n", m.Host)
	}
	fmt.Fprintf(&b, "run took %.0f s; pods %d, host-NIC rounds %d; through libcni with the built bond and static IPAM\n\n", r.Elapsed, r.Params.Pods, r.Params.HostRounds)

	fmt.Fprintf(&b, "%-36s %5s %8s %8s %8s %8s %8s\n", "latency (ms)", "n", "median", "p90", "p99", "min", "max")
	for _, s := range series {
		d, ok := r.Latency[s.key]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%-36s %5d %8.2f %8.2f %8.2f %8.2f %8.2f\n", s.label, d.N, d.Median, d.P90, d.P99, d.Min, d.Max)
	}
	for _, x := range extraRows(r) {
		fmt.Fprintf(&b, "%-36s %5d %8.2f %8.2f %8.2f %8.2f %8.2f\n", x.label, x.d.N, x.d.Median, x.d.P90, x.d.P99, x.d.Min, x.d.Max)
	}
	b.WriteString("(exec X | Y: cold exec of X, sampled between the operations of phase Y; ADD, CHECK, DEL through libcni;\n kernel-floor: the same kernel changes alone, integration/cmd/kernel-floor)\n")

	if len(r.CPU) > 0 {
		fmt.Fprintf(&b, "\n%-36s %5s %8s %8s %8s %10s\n", "CPU time per call (user+sys, ms)", "n", "median", "p90", "max", "sys median")
		for _, s := range series {
			d, ok := r.CPU[s.key]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "%-36s %5d %8.2f %8.2f %8.2f %10.2f\n", s.label, d.N, d.Median, d.P90, d.Max, r.SysCPU[s.key].Median)
		}
		b.WriteString("(wait4 rusage of each exec; the plugin's includes the IPAM plugin it ran; sys is the kernel's share)\n")
	}

	b.WriteString(comparison(r))

	fmt.Fprintf(&b, "\npeak RSS (wait4 ru_maxrss, MB)\n")
	for _, k := range []struct{ key, label string }{
		{"add_pod", "bond ADD, 2 veths in pod"}, {"add_host", "bond ADD, 2 host NICs"},
		{"del_pod", "bond DEL, 2 veths in pod"}, {"del_host", "bond DEL, 2 host NICs"},
		{"exec_version", "bond VERSION"}, {"exec_ipam_add", "static IPAM ADD"}, {"exec_hello", "hello-world"},
	} {
		if v, ok := r.RSS[k.key]; ok {
			fmt.Fprintf(&b, "  %-34s %6.1f\n", k.label, float64(v)*1024/1e6)
		}
	}
	fmt.Fprintf(&b, "  (ru_maxrss is the larger of a process's own peak and its reaped children's, here static IPAM's.\n"+
		"   Each program is started from the small bond-rusage helper, whose own peak, at most %.1f MB,\n"+
		"   the kernel counts in too: a figure below that may be the helper's)\n", float64(r.RSS["resolution"])*1024/1e6)

	fmt.Fprintf(&b, "\nnetlink round trips per verb (rtnetlink adapter counter, app.Service in process)\n")
	fmt.Fprintf(&b, "  %-20s %6s %6s %6s   %s\n", "", "ADD", "CHECK", "DEL", "dump requests ADD/CHECK/DEL: links, routes")
	for _, sc := range []struct{ key, label string }{{"pod", "2 veths in pod"}, {"host", "2 host NICs"}} {
		a, c, d := r.RoundTrips["add_"+sc.key], r.RoundTrips["check_"+sc.key], r.RoundTrips["del_"+sc.key]
		fmt.Fprintf(&b, "  %-20s %6d %6d %6d   links %d/%d/%d, routes %d/%d/%d\n", sc.label, a.Trips, c.Trips, d.Trips,
			a.LinkDumps, c.LinkDumps, d.LinkDumps, a.RouteDumps, c.RouteDumps, d.RouteDumps)
	}
	for _, k := range []struct{ key, label string }{
		{"add_pod", "ADD in pod"}, {"del_pod", "DEL in pod"}, {"add_host", "ADD host NICs"}, {"del_host", "DEL host NICs"}, {"check_pod", "CHECK in pod"},
	} {
		v, ok := r.RoundTrips[k.key]
		if !ok {
			continue
		}
		var parts []string
		for _, c := range v.Calls {
			parts = append(parts, fmt.Sprintf("%s %d×=%d", c.Method, c.Calls, c.Trips))
		}
		fmt.Fprintf(&b, "  %s (%.1f ms in process): %s\n", k.label, v.Total, strings.Join(parts, ", "))
	}

	if len(r.Bursts) > 0 {
		fmt.Fprintf(&b, "\npods attaching at once (2 veths each, static IPAM, libcni; then detaching at once)\n")
		fmt.Fprintf(&b, "  %5s %12s %9s %12s %9s %22s\n", "pods", "ADD total", "failures", "DEL total", "failures", "ADD total/(n × median)")
		for _, br := range r.Bursts {
			fmt.Fprintf(&b, "  %5d %9.0f ms %9d %9.0f ms %9d %22.2f\n", br.Pods, br.AddTotalMs, br.AddFailures, br.DelTotalMs, br.DelFailures, br.Serial)
			for _, e := range br.Errors {
				fmt.Fprintf(&b, "        error: %s\n", e)
			}
		}
		fmt.Fprintf(&b, "  (1.00 = as slow as one after the other; %s)\n", lockSummary(r))
	}

	pass, unattainable := 0, 0
	fmt.Fprintf(&b, "\nbudgets (ratios within this run)\n")
	for _, bu := range r.Budgets {
		verdict := "FAIL"
		if bu.Pass {
			verdict = "PASS"
			pass++
		}
		if !bu.Pass && bu.Unattainable() {
			verdict = "FAIL (unattainable on this kernel)"
			unattainable++
		}
		fmt.Fprintf(&b, "  %s  %s\n        %s\n", verdict, bu.Name, bu.Detail)
	}
	fmt.Fprintf(&b, "budgets: %d of %d hold", pass, len(r.Budgets))
	if unattainable > 0 {
		fmt.Fprintf(&b, "; %d cannot be met by any plugin on this kernel (the kernel's own work and the floors exceed them)", unattainable)
	}
	fmt.Fprintln(&b)
	return b.String()
}

// numberArray matches an indented JSON array of numbers, to print it on
// one line.
var numberArray = regexp.MustCompile(`\[\s+[-0-9.e+,\s]+\]`)

func jsonText(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	b = numberArray.ReplaceAllFunc(b, func(m []byte) []byte {
		return []byte(strings.Join(strings.Fields(string(m)), ""))
	})
	return append(b, '\n'), nil
}

// block prints content between marker lines that integration/bench.sh
// finds; the hash lets it check that the serial console delivered every
// byte.
func block(w io.Writer, name string, content []byte) error {
	sum := sha256.Sum256(content)
	_, err := fmt.Fprintf(w, "=== BEGIN %s sha256=%s ===\n%s=== END %s ===\n", name, hex.EncodeToString(sum[:]), content, name)
	return err
}

// emit prints the table, then bench.txt, bench.json and bench.svg as
// blocks, then the budget verdict again as the last line.
func emit(w io.Writer, r *Report) error {
	txt := table(r)
	js, err := jsonText(r)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"bench.txt", []byte(txt)}, {"bench.json", js}, {"bench.svg", chart(r)}} {
		if err := block(w, f.name, f.b); err != nil {
			return err
		}
	}
	_, err = fmt.Fprint(w, txt[strings.LastIndex(strings.TrimSuffix(txt, "\n"), "\n")+1:])
	return err
}

// rerender writes bench.txt and bench.svg for a saved bench.json, with the
// budgets evaluated again (after a change to the rendering or the rules).
func rerender(jsonFile, dir string) error {
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		return err
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("%s: %w", jsonFile, err)
	}
	r.Budgets = evaluate(&r)
	if err := os.WriteFile(filepath.Join(dir, "bench.txt"), []byte(table(&r)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bench.svg"), chart(&r), 0o644)
}

// comparison is the table of the compare phase: medians of each plugin
// and their ratio, wall time and CPU, then each side against the floors
// sampled in the same phase; "" when the run compared nothing.
func comparison(r *Report) string {
	c := r.Compare
	if c == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nagainst %s, taking turns (%d pods and %d host-NIC rounds each; libcni, static IPAM; medians)\n", c.Other, c.Pods, c.HostRounds)
	fmt.Fprintf(&b, "  %-34s %5s %9s %9s %12s\n", "", "n", "bond", c.Other, "bond/"+c.Other)
	row := func(label string, m map[string]Dist, oursKey, theirsKey string) {
		ours, ok1 := m[oursKey]
		theirs, ok2 := m[theirsKey]
		if !ok1 || !ok2 || theirs.Median == 0 {
			return
		}
		fmt.Fprintf(&b, "  %-34s %5d %9.2f %9.2f %12.2f\n", label, min(ours.N, theirs.N), ours.Median, theirs.Median, ours.Median/theirs.Median)
	}
	for _, m := range []struct {
		unit string
		m    map[string]Dist
	}{{"ms", r.Latency}, {"CPU ms", r.CPU}} {
		for _, v := range []struct{ label, verb, scenario string }{
			{"ADD, 2 veths in pod", "add", "pod"}, {"DEL, 2 veths in pod", "del", "pod"},
			{"ADD, 2 host NICs", "add", "host"}, {"DEL, 2 host NICs", "del", "host"},
		} {
			row(fmt.Sprintf("%s (%s)", v.label, m.unit), m.m, cmpKey(v.verb, v.scenario, cmpBond), cmpKey(v.verb, v.scenario, cmpOther))
		}
		row(fmt.Sprintf("cold VERSION (%s)", m.unit), m.m, "exec_"+floorVersion+cmpFloors, "exec_"+floorOtherVersion+cmpFloors)
	}
	floor := func(kind string) string { return "exec_" + kind + cmpFloors }
	hello, ok := r.Latency[floor(floorHello)]
	if !ok || hello.Median == 0 {
		return b.String()
	}
	ipamAdd, ipamDel := r.Latency[floor(floorIPAMAdd)], r.Latency[floor(floorIPAMDel)]
	fmt.Fprintf(&b, "  floors of this phase (cold execs in the same turns): hello-world %.2f ms (%.2f ms of CPU), IPAM ADD %.2f ms, IPAM DEL %.2f ms\n",
		hello.Median, r.CPU[floor(floorHello)].Median, ipamAdd.Median, ipamDel.Median)
	against := func(label, oursKey, theirsKey string, floor float64, what string) {
		ours, theirs := r.Latency[oursKey], r.Latency[theirsKey]
		if floor == 0 || ours.N == 0 || theirs.N == 0 {
			return
		}
		fmt.Fprintf(&b, "  %-34s bond %.2f ×, %s %.2f × %s\n", label, ours.Median/floor, c.Other, theirs.Median/floor, what)
	}
	against("ADD, 2 veths in pod", cmpKey("add", "pod", cmpBond), cmpKey("add", "pod", cmpOther), hello.Median+ipamAdd.Median, "(hello-world + IPAM ADD)")
	against("DEL, 2 veths in pod", cmpKey("del", "pod", cmpBond), cmpKey("del", "pod", cmpOther), hello.Median+ipamDel.Median, "(hello-world + IPAM DEL)")
	against("cold VERSION", floor(floorVersion), floor(floorOtherVersion), hello.Median, "hello-world")
	return b.String()
}
