package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The pure parts of bond-bench (statistics, budgets, report, chart) run on
// any host; the measurements themselves need the VM (make bench).

func TestQuantileInterpolates(t *testing.T) {
	s := []float64{1, 2, 3, 4}
	assert.InDelta(t, 2.5, quantile(s, 0.5), 1e-9)
	assert.InDelta(t, 3.7, quantile(s, 0.9), 1e-9)
	assert.InDelta(t, 1, quantile(s, 0), 1e-9)
	assert.InDelta(t, 4, quantile(s, 1), 1e-9)
	assert.InDelta(t, 7, quantile([]float64{7}, 0.99), 1e-9)
}

func TestNewDist(t *testing.T) {
	var in []time.Duration
	for i := 100; i >= 1; i-- {
		in = append(in, time.Duration(i)*time.Millisecond)
	}
	d := newDist(in)
	assert.Equal(t, 100, d.N)
	assert.InDelta(t, 50.5, d.Median, 1e-9)
	assert.InDelta(t, 90.1, d.P90, 1e-9)
	assert.InDelta(t, 99.01, d.P99, 1e-9)
	assert.Equal(t, 1.0, d.Min)
	assert.Equal(t, 100.0, d.Max)
	assert.Equal(t, 100.0, d.Samples[0], "samples keep the order they were taken in")
	assert.Zero(t, newDist(nil).N)
}

func TestNiceBounds(t *testing.T) {
	assert.Equal(t, 50.0, niceBelow(66.9))
	assert.Equal(t, 1000.0, niceAbove(937.9))
	assert.Equal(t, 200.0, niceAbove(200))
	assert.Equal(t, 0.2, niceBelow(0.31))
	assert.Equal(t, []float64{50, 100, 200, 500, 1000}, ticks(50, 1000))
}

// sample is a report as a run could give it.
func sample(addPod float64, failures int) *Report {
	r := newReport(params{Pods: 3, HostRounds: 2, ExtraLinks: 500})
	r.Machine = Machine{GuestKernel: "6.1.0-test", GuestCPUs: 2, Host: "test host <&>"}
	dist := func(v ...float64) Dist {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x*float64(time.Millisecond)))
		}
		return newDist(ds)
	}
	for _, sfx := range []string{"", "_del", "_host"} {
		r.Latency["exec_hello"+sfx] = dist(10, 11, 12)
		r.Latency["exec_version"+sfx] = dist(11, 12, 13)
		r.Latency["exec_ipam_add"+sfx] = dist(10, 11, 12)
		r.Latency["exec_ipam_del"+sfx] = dist(9, 10, 11)
	}
	r.Latency["add_pod"] = dist(addPod-1, addPod, addPod+1)
	r.Latency["exec_linkfloor"] = dist(13, 14, 15)
	for _, k := range []string{"add_pod", "del_pod", "add_host", "del_host", "check_pod"} {
		r.Latency[k+"_exec"] = dist(8, 9, 10)
		r.Latency[k+"_libcni"] = dist(1, 2, 3)
	}
	r.Latency["check_pod"] = dist(20, 21, 22)
	r.Latency["del_pod"] = dist(40, 41, 42)
	r.Latency["add_host"] = dist(60, 61)
	r.Latency["del_host"] = dist(60, 61)
	r.Latency["kernel_add_pod"] = dist(15, 16, 17)  // kernel's own work 5
	r.Latency["kernel_del_pod"] = dist(35, 36, 37)  // 25: more than any DEL may take
	r.Latency["kernel_add_host"] = dist(30, 31, 32) // 20
	r.Latency["kernel_del_host"] = dist(30, 31, 32)
	for _, k := range []string{"kernel_add_pod", "kernel_del_pod", "kernel_add_host", "kernel_del_host"} {
		r.Latency[k+"_base"] = dist(11, 12, 13) // kernel-floor -verb none starts slower than hello-world
	}
	r.RSS = RSS{"add_pod": 12000, "add_host": 13000, "exec_ipam_add": 9000, "exec_version": 10000, "exec_hello": 9000}
	for _, k := range []string{"add_pod", "del_pod", "add_host", "del_host", "check_pod", "check_host"} {
		r.RoundTrips[k] = VerbCost{Trips: 5, Calls: []PortCall{{Method: "Links.Link", Calls: 2, Trips: 2}}}
	}
	r.CPU["add_pod"] = dist(20, 21, 22)
	r.CPU["exec_ipam_add"] = dist(7, 8, 9)
	r.CPU["exec_hello"] = dist(5, 6, 7)
	r.CPU["kernel_add_pod"] = dist(9, 10, 11)
	r.CPU["kernel_add_pod_base"] = dist(6, 7, 8)
	r.Bursts = []Burst{{Pods: 1}, {Pods: 32, AddFailures: failures, Serial: 0.6}}
	r.Extra = &ExtraLinks{BaseLinks: 4, BaseAdd: dist(60, 61), BaseDel: dist(60, 61), HostLinks: 504, Add: dist(61, 62), Del: dist(60, 62)}
	r.Budgets = evaluate(r)
	return r
}

func budget(t *testing.T, r *Report, prefix string) Budget {
	t.Helper()
	for _, b := range r.Budgets {
		if strings.HasPrefix(b.Name, prefix) {
			return b
		}
	}
	t.Fatalf("no budget %q", prefix)
	return Budget{}
}

func TestBudgets(t *testing.T) {
	r := sample(33, 0) // floor: hello 11 + IPAM ADD 11 = 22; 1.5 × 22 = 33
	assert.True(t, budget(t, r, "ADD median, 2 veths").Pass)
	assert.InDelta(t, 33, budget(t, r, "ADD median, 2 veths").Limit, 1e-9)
	assert.False(t, budget(t, r, "ADD median, 2 host").Pass, "60.5 > 1.5 × (11 + 11)")
	assert.False(t, budget(t, r, "DEL median, 2 veths").Pass, "41 > 1.5 × (11 + 10)")
	assert.True(t, budget(t, r, "cold bond VERSION").Pass, "12 ≤ 1.3 × 11")
	assert.True(t, budget(t, r, "CPU (user+sys) of an in-pod ADD").Pass, "21 ≤ 1.5 × (8 + 6)")
	assert.InDelta(t, 21, budget(t, r, "CPU (user+sys) of an in-pod ADD").Limit, 1e-9)
	assert.True(t, budget(t, r, "32 pods at once: zero").Pass)
	assert.True(t, budget(t, r, "32 pods at once: ADD total").Pass, "0.6 ≤ 0.7")
	assert.True(t, budget(t, r, "peak RSS").Pass)
	assert.InDelta(t, 13.312, budget(t, r, "peak RSS").Measured, 1e-9, "MB = 10^6 bytes")
	assert.True(t, budget(t, r, "no dump").Pass)
	assert.Contains(t, budget(t, r, "ADD median, 2 veths").Detail, "the plugin's own exec 9.00 ms of it (libcni's work around the exec 2.00 ms, median per call)")
	assert.Contains(t, budget(t, r, "cold bond VERSION").Detail, "exiting before main (its dependencies' start-up alone) takes 14.00 ms = 1.27 × hello-world")
	// A report without those series (one written before them) says nothing
	// of them, rather than a figure made of a missing median.
	for _, k := range []string{"exec_linkfloor", "add_pod_exec", "add_pod_libcni"} {
		delete(r.Latency, k)
	}
	r.Budgets = evaluate(r)
	assert.NotContains(t, budget(t, r, "ADD median, 2 veths").Detail, "libcni")
	assert.NotContains(t, budget(t, r, "cold bond VERSION").Detail, "exiting before main")
	r = sample(33, 0)

	// The bounds: hello + max(kernel's own work, IPAM), and CPU hello +
	// kernel's own work + IPAM, the kernel's own work being kernel-floor
	// beyond kernel-floor -verb none.
	assert.InDelta(t, 22, budget(t, r, "ADD median, 2 veths").Bound, 1e-9, "11 + max(16 - 12, 11)")
	assert.False(t, budget(t, r, "ADD median, 2 veths").Unattainable())
	assert.InDelta(t, 35, budget(t, r, "DEL median, 2 veths").Bound, 1e-9, "11 + max(36 - 12, 10)")
	assert.True(t, budget(t, r, "DEL median, 2 veths").Unattainable(), "35 > 1.5 × (11 + 10)")
	assert.InDelta(t, 17, budget(t, r, "CPU (user+sys) of an in-pod ADD").Bound, 1e-9, "6 + (10 - 7) + 8")
	assert.False(t, budget(t, r, "CPU (user+sys) of an in-pod ADD").Unattainable())
	assert.Contains(t, table(r), "FAIL (unattainable on this kernel)  DEL median, 2 veths")
	assert.Contains(t, table(r), "cannot be met by any plugin on this kernel")
	// What kernel-floor's bigger process costs to start is not the
	// kernel's work: beyond hello-world this DEL would look unattainable.
	r.Latency["kernel_del_pod_base"] = newDist([]time.Duration{16 * time.Millisecond})
	r.Budgets = evaluate(r)
	assert.InDelta(t, 31, budget(t, r, "DEL median, 2 veths").Bound, 1e-9, "11 + max(36 - 16, 10)")
	assert.False(t, budget(t, r, "DEL median, 2 veths").Unattainable(), "31 ≤ 31.5")
	delete(r.Latency, "kernel_del_pod_base")
	r.Budgets = evaluate(r)
	assert.Zero(t, budget(t, r, "DEL median, 2 veths").Bound, "no base, no bound")
	r.Bursts[1].KernelAddTotalMs = 0.8 * 32 * 33
	r.Budgets = evaluate(r)
	assert.InDelta(t, 0.8, budget(t, r, "32 pods at once: ADD total").Bound, 1e-9, "kernel-floor's 32 at once over 32 × the median ADD")
	assert.True(t, budget(t, r, "32 pods at once: ADD total").Unattainable())

	r = sample(34, 2)
	assert.False(t, budget(t, r, "ADD median, 2 veths").Pass)
	assert.False(t, budget(t, r, "32 pods at once: zero").Pass)
	r.RSS["add_host"] = 24500 // > 25e6 bytes
	r.RoundTrips["del_host"] = VerbCost{LinkDumps: 1}
	r.CPU["add_pod"] = dist1(21.1)
	r.Bursts[1].Serial = 0.71
	r.Latency["exec_version"] = dist1(14.4)
	r.Budgets = evaluate(r)
	assert.False(t, budget(t, r, "peak RSS").Pass)
	assert.False(t, budget(t, r, "no dump").Pass)
	assert.False(t, budget(t, r, "CPU (user+sys) of an in-pod ADD").Pass)
	assert.False(t, budget(t, r, "32 pods at once: ADD total").Pass)
	assert.False(t, budget(t, r, "cold bond VERSION").Pass, "14.4 > 1.3 × 11")
}

func dist1(v float64) Dist {
	return newDist([]time.Duration{time.Duration(v * float64(time.Millisecond))})
}

func TestTableShowsEveryFigure(t *testing.T) {
	txt := table(sample(29, 0))
	for _, want := range []string{"exec hello-world", "exec bond VERSION | pod ADDs", "exec bond, exit at init", "of it, the plugin's own exec", "exec IPAM ADD     | pod ADDs", "exec IPAM DEL     | pod DELs", "exec IPAM DEL     | host rounds",
		"ADD   2 veths in pod", "CHECK 2 veths in pod", "DEL   2 veths in pod", "ADD   2 host NICs", "DEL   2 host NICs",
		"sandbox host, 504 links", "CPU time per call", "peak RSS", "netlink round trips", "at once", "PASS", "FAIL", "budgets: "} {
		assert.Contains(t, txt, want)
	}
}

func TestEmitBlocksCarryTheirHash(t *testing.T) {
	var out bytes.Buffer
	r := sample(29, 0)
	require.NoError(t, emit(&out, r))
	text := out.String()
	for _, name := range []string{"bench.txt", "bench.json", "bench.svg"} {
		begin := strings.Index(text, "=== BEGIN "+name+" sha256=")
		require.GreaterOrEqual(t, begin, 0, name)
		header := text[begin:]
		header = header[:strings.Index(header, "\n")]
		want := strings.TrimSuffix(strings.TrimPrefix(header, "=== BEGIN "+name+" sha256="), " ===")
		body := text[begin+len(header)+1:]
		body = body[:strings.Index(body, "=== END "+name+" ===\n")]
		sum := sha256.Sum256([]byte(body))
		assert.Equal(t, want, hex.EncodeToString(sum[:]), name)
	}
	assert.True(t, strings.HasPrefix(text[strings.LastIndex(strings.TrimSuffix(text, "\n"), "\n")+1:], "budgets: "), "the verdict comes last")
}

func TestJSONRoundTripsAndKeepsSamplesOnOneLine(t *testing.T) {
	js, err := jsonText(sample(29, 0))
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(js, &back))
	assert.Equal(t, []float64{28, 29, 30}, back.Latency["add_pod"].Samples)
	assert.Contains(t, string(js), `"samples_ms": [28,29,30]`)
}

func TestChartIsWellFormedSVG(t *testing.T) {
	svg := chart(sample(29, 0))
	d := xml.NewDecoder(bytes.NewReader(svg))
	var paths, texts int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "path":
				paths++
			case "text":
				texts++
			}
		}
	}
	assert.Equal(t, len(series)+4, paths, "one distribution per series, plus the four extra-links rows")
	assert.Equal(t, 5, strings.Count(string(svg), `stroke="#c0392b" stroke-width="2"`), "a budget line on each row with a latency budget")
	assert.Contains(t, string(svg), "test host &lt;&amp;&gt;", "text is escaped")
	assert.Contains(t, string(svg), "ADD ≤ 1.5 × (hello-world + IPAM ADD), DEL ≤ 1.5 × (hello-world + IPAM DEL), bond VERSION ≤ 1.3 × hello-world", "the legend states the budgets checked")
	assert.Positive(t, texts)
}

func TestComparisonTable(t *testing.T) {
	r := sample(29, 0)
	assert.Empty(t, comparison(r), "no -compare, no table")
	assert.NotContains(t, table(r), "against ")

	r.Compare = &Comparison{Other: "bond-cni", Pods: 3, HostRounds: 2}
	r.Latency[cmpKey("add", "pod", cmpBond)] = dist1(90)
	r.Latency[cmpKey("add", "pod", cmpOther)] = dist1(100)
	r.Latency[cmpKey("del", "host", cmpBond)] = dist1(150)
	r.Latency[cmpKey("del", "host", cmpOther)] = dist1(120)
	r.CPU[cmpKey("add", "pod", cmpBond)] = dist1(66)
	r.CPU[cmpKey("add", "pod", cmpOther)] = dist1(60)
	txt := comparison(r)
	assert.Contains(t, txt, "against bond-cni, taking turns (3 pods and 2 host-NIC rounds each")
	assert.Regexp(t, `ADD, 2 veths in pod \(ms\)\s+1\s+90\.00\s+100\.00\s+0\.90\n`, txt)
	assert.Regexp(t, `DEL, 2 host NICs \(ms\)\s+1\s+150\.00\s+120\.00\s+1\.25\n`, txt)
	assert.Regexp(t, `ADD, 2 veths in pod \(CPU ms\)\s+1\s+66\.00\s+60\.00\s+1\.10\n`, txt)
	assert.NotContains(t, txt, "DEL, 2 veths in pod", "a row is printed only when both sides were measured")
	assert.NotContains(t, txt, "floors of this phase", "no floors sampled, no ratios to them")

	r.Latency["exec_hello_cmp"] = dist1(30)
	r.CPU["exec_hello_cmp"] = dist1(28)
	r.Latency["exec_ipam_add_cmp"] = dist1(20)
	r.Latency["exec_ipam_del_cmp"] = dist1(10)
	txt = comparison(r)
	assert.Contains(t, txt, "floors of this phase (cold execs in the same turns): hello-world 30.00 ms (28.00 ms of CPU), IPAM ADD 20.00 ms, IPAM DEL 10.00 ms")
	assert.Regexp(t, `ADD, 2 veths in pod\s+bond 1\.80 ×, bond-cni 2\.00 × \(hello-world \+ IPAM ADD\)`, txt, "90 and 100 against 30 + 20")
	assert.NotContains(t, txt, "DEL, 2 veths in pod ", "no ratio for a verb a side was not measured for")
	assert.Contains(t, table(r), txt)
}

func TestWithTypeNamesTheOtherPlugin(t *testing.T) {
	c, err := withType(podConf(0), "bond-cni")
	require.NoError(t, err)
	assert.Contains(t, string(c), `"type": "bond-cni"`)
	assert.NotContains(t, string(c), `"type": "bond"`)
	assert.Contains(t, string(c), `"ipam": {"type": "static"`, "only the plugin's own type changes")
	h, err := withType(hostConf, "bond-cni")
	require.NoError(t, err)
	assert.Contains(t, string(h), `"type": "bond-cni"`)
	_, err = withType([]byte(`{"type":"bond"}`), "bond-cni")
	assert.ErrorContains(t, err, "names no plugin of type bond", "a config it cannot rewrite is an error, not bond against itself")
}
