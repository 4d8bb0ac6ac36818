package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/httpdebug"
	"github.com/bondcni/bond/integration/kit"
)

// debugd is a running bond-debugd, the real binary, started on loopback.
type debugd struct {
	t    *testing.T
	base string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDebugd runs bond-debugd from CNI_PATH over the plugin's state dir
// and waits for /healthz. It is stopped with SIGTERM at test end (and must
// exit 0: graceful shutdown).
func startDebugd(t *testing.T, e *cniEnv, args ...string) *debugd {
	t.Helper()
	bin := filepath.Join(e.binDir, "bond-debugd")
	_, err := os.Stat(bin)
	require.NoError(t, err, "bond-debugd binary in CNI_PATH (integration/kernel-tests.sh builds it)")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freeLoopbackPort(t)))
	d := &debugd{t: t, base: "http://" + addr, out: &lockedBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(bin, append([]string{"--listen", addr, "--state-dir", e.stateDir, "--log-level", "debug"}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	require.NoError(t, d.cmd.Start())
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop() })
	require.Eventually(t, func() bool {
		r, err := http.Get(d.base + "/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK
	}, 15*time.Second, 50*time.Millisecond, "bond-debugd did not come up; its output:\n%s", d.out)
	return d
}

// stop sends SIGTERM and checks the daemon shut down cleanly.
func (d *debugd) stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		assert.NoError(d.t, err, "bond-debugd exits 0 on SIGTERM; its output:\n%s", d.out)
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		d.t.Errorf("bond-debugd did not stop within 15s of SIGTERM; its output:\n%s", d.out)
	}
	d.t.Logf("bond-debugd output:\n%s", d.out)
}

func (d *debugd) get(path string, v any) int {
	d.t.Helper()
	r, err := http.Get(d.base + path)
	require.NoError(d.t, err)
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	require.NoError(d.t, err)
	if v != nil && r.StatusCode == http.StatusOK {
		require.NoError(d.t, json.Unmarshal(body, v), "%s: %s", path, body)
	}
	return r.StatusCode
}

func (d *debugd) inspect(a attachment) httpdebug.InspectionJSON {
	d.t.Helper()
	var in httpdebug.InspectionJSON
	require.Equal(d.t, http.StatusOK, d.get("/v1/attachments/"+a.ContainerID+"/"+a.IfName, &in))
	return in
}

func (d *debugd) metrics() string {
	d.t.Helper()
	r, err := http.Get(d.base + "/metrics")
	require.NoError(d.t, err)
	defer r.Body.Close()
	require.Equal(d.t, http.StatusOK, r.StatusCode)
	b, err := io.ReadAll(r.Body)
	require.NoError(d.t, err)
	return string(b)
}

// metricValue finds a sample of name whose labels include all of want;
// ok false if there is none.
func metricValue(text, name string, want map[string]string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		match := true
		for k, v := range want {
			if !strings.Contains(line, fmt.Sprintf("%s=%q", k, v)) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			return f, true
		}
	}
	return 0, false
}

func with(l map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range l {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func slaveByName(in httpdebug.InspectionJSON, name string) (httpdebug.SlaveJSON, bool) {
	for _, s := range in.Slaves {
		if s.Name == name {
			return s, true
		}
	}
	return httpdebug.SlaveJSON{}, false
}

// partnerBond builds an 802.3ad bond (lacp_rate fast) in ns over ports,
// standing in for the switch at the far end of a pod's links, so the
// pod's bond gets an LACP partner.
func partnerBond(t *testing.T, ns, name string, ports ...string) {
	t.Helper()
	c, err := kit.Dial(ns)
	require.NoError(t, err)
	defer c.Close()
	miimon, fast := uint32(100), driver.BondLacpRateFast
	require.NoError(t, c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{
		Name: name, Info: &rtnetlink.LinkInfo{Kind: "bond", Data: &driver.Bond{Mode: driver.BondMode802_3AD, Miimon: &miimon, AdLacpRate: &fast}},
	}}), "creating the partner bond")
	bond := kit.MustLink(t, ns, name)
	for _, p := range ports {
		kit.SetUp(t, ns, p, false)
		l := kit.MustLink(t, ns, p)
		idx := bond.Index
		require.NoError(t, c.Link.Set(&rtnetlink.LinkMessage{Index: l.Index, Attributes: &rtnetlink.LinkAttributes{Master: &idx}}), "enslaving %s", p)
	}
	kit.SetUp(t, ns, name, true)
}

const lacpPodConf = `{"cniVersion":"1.0.0","name":"lacp","type":"bond","mode":"802.3ad","miimon":100,"lacpRate":"fast",
"linksInContainer":true,"links":[{"name":"s1"},{"name":"s2"}],
"ipam":{"type":"static","addresses":[{"address":"10.99.0.2/24"}]}}`

// TestDebugd runs the real daemon beside the real plugin: two pods attach
// (host NICs in active-backup; veths in 802.3ad facing a partner bond), the
// API and /metrics report both with live kernel state, a slave whose far
// side goes down shows as down in both, and a pod netns that dies is
// reported gone while its NICs return to the host (the daemon does not
// keep the netns alive).
func TestDebugd(t *testing.T) {
	e := newCNI(t)
	textfile := filepath.Join(t.TempDir(), "bondcni.prom")
	d := startDebugd(t, e, "--textfile", textfile, "--textfile-interval", "1s", "--node-name", "vm-node")

	// Validate, read-only: the host NICs are observed live.
	seed := kit.SeedHostConf("1.0.0", "")
	r, err := http.Post(d.base+"/v1/validate?ifname=net1", "application/json", strings.NewReader(seed))
	require.NoError(t, err)
	var val httpdebug.ValidationJSON
	require.NoError(t, json.NewDecoder(r.Body).Decode(&val))
	r.Body.Close()
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.True(t, val.Valid, "%+v", val.Error)
	assert.Equal(t, []string{hostNIC1, hostNIC2}, val.Observed)
	assert.Empty(t, val.Placeholders)
	require.NotNil(t, val.Plan)
	assert.Equal(t, 1500, val.Plan.Spec.MTU, "the plan keeps the NICs' MTU")
	assert.Equal(t, "ipam-add", val.Plan.Steps[1].Kind, "IPAM ADD right after the record")
	assert.True(t, val.Plan.Steps[1].Beside, "beside checking the links and the kernel steps")
	assert.Equal(t, "move-to-pod", val.Plan.Steps[2].Kind)

	// Pod A: the seed's host NICs in active-backup.
	podA := kit.NewNetns(t, "pod")
	a := e.attachment(seed, podA, "net1")
	e.mustAdd(a)
	// Pod B: two veths in 802.3ad; their far ends are bonded in a "switch".
	podB, sw := kit.NewNetns(t, "pod"), kit.NewNetns(t, "switch")
	kit.Veth(t, podB, "s1", nil, sw, "p1", 0)
	kit.Veth(t, podB, "s2", nil, sw, "p2", 0)
	partnerBond(t, sw, "swbond", "p1", "p2")
	b := e.attachment(lacpPodConf, podB, "bond0")
	e.mustAdd(b)

	var list httpdebug.ListJSON
	require.Equal(t, http.StatusOK, d.get("/v1/attachments", &list))
	byID := map[string]httpdebug.AttachmentJSON{}
	for _, x := range list.Attachments {
		byID[x.ContainerID] = x
	}
	require.Contains(t, byID, a.ContainerID)
	require.Contains(t, byID, b.ContainerID)
	assert.Equal(t, "default", byID[a.ContainerID].PodNamespace)
	assert.Equal(t, "pod-"+a.ContainerID, byID[a.ContainerID].PodName)
	assert.False(t, byID[a.ContainerID].LinksInContainer)
	assert.True(t, byID[b.ContainerID].LinksInContainer)
	assert.Equal(t, "active-backup", byID[a.ContainerID].Mode)
	assert.Equal(t, "802.3ad", byID[b.ContainerID].Mode)

	// Pod A, live.
	inA := d.inspect(a)
	assert.Equal(t, "present", inA.Netns.Status)
	require.NotNil(t, inA.Bond, inA.BondError)
	assert.Equal(t, "active-backup", inA.Bond.Mode)
	assert.Equal(t, "active", inA.Bond.Options["failOverMac"])
	assert.EqualValues(t, 100, inA.Bond.Options["miimon"])
	assert.Equal(t, kit.MustLink(t, podA, "net1").Attributes.Address.String(), inA.Bond.MAC)
	proc, err := kit.ProcBonding(podA, "net1")
	require.NoError(t, err)
	assert.Equal(t, kit.BondField(proc, "Currently Active Slave"), inA.Bond.ActiveSlave, "the active slave, as /proc/net/bonding has it")
	require.Len(t, inA.Slaves, 2)
	for _, s := range inA.Slaves {
		assert.Contains(t, []string{hostNIC1, hostNIC2}, s.Name)
		assert.Equal(t, "up", s.MIIStatus)
		assert.Equal(t, s.Name == inA.Bond.ActiveSlave, s.CurrentActive)
	}
	assert.True(t, inA.AsConfigured, "drift: %v %s", inA.Drift, inA.DriftError)
	assert.Len(t, inA.Bond.Addresses, 1)

	// Pod B, live: both slaves up, and the partner bond answers LACP.
	var inB httpdebug.InspectionJSON
	require.Eventually(t, func() bool {
		inB = d.inspect(b)
		return inB.Bond != nil && inB.Bond.AD != nil && inB.Bond.AD.PartnerPresent && inB.Bond.AD.NumPorts == 2
	}, 45*time.Second, 500*time.Millisecond, "LACP partner never appeared: %+v", inB.Bond)
	assert.Equal(t, "802.3ad", inB.Bond.Mode)
	assert.Equal(t, "fast", inB.Bond.Options["lacpRate"])
	assert.Equal(t, kit.MustLink(t, sw, "swbond").Attributes.Address.String(), inB.Bond.AD.PartnerMAC)
	for _, name := range []string{"s1", "s2"} {
		s, ok := slaveByName(inB, name)
		require.True(t, ok, name)
		assert.Equal(t, "up", s.MIIStatus, name)
		assert.Equal(t, 10000, s.SpeedMbps, "veth reports 10000 Mb/s")
		assert.Equal(t, "full", s.Duplex)
		assert.Equal(t, inB.Bond.AD.AggregatorID, s.AggregatorID)
	}
	assert.True(t, inB.AsConfigured, "drift: %v %s", inB.Drift, inB.DriftError)
	assert.Equal(t, []string{"10.99.0.2/24"}, inB.Bond.Addresses)

	// Per-slave LACP port state, as the kernel has it: once both ports are
	// in sync, the API's actor and partner octets are /proc/net/bonding's.
	inSync := func(fl []string) bool {
		return slices.Contains(fl, "synchronization") && slices.Contains(fl, "collecting") && slices.Contains(fl, "distributing")
	}
	require.Eventually(t, func() bool {
		inB = d.inspect(b)
		for _, s := range inB.Slaves {
			if s.LACP == nil || !inSync(s.LACP.ActorStateFlags) || !inSync(s.LACP.PartnerStateFlags) {
				return false
			}
		}
		return len(inB.Slaves) == 2
	}, 45*time.Second, 250*time.Millisecond, "LACP ports never in sync in the API: %+v", inB.Slaves)
	actor, partner := portStates(t, podB, "bond0", false), portStates(t, podB, "bond0", true)
	for _, name := range []string{"s1", "s2"} {
		s, _ := slaveByName(inB, name)
		assert.EqualValues(t, actor[name], s.LACP.ActorState, "%s actor port state: API vs /proc", name)
		assert.EqualValues(t, partner[name], s.LACP.PartnerState, "%s partner port state: API vs /proc", name)
		assert.Contains(t, s.LACP.ActorStateFlags, "timeout", "lacpRate fast: short timeout")
		assert.NotContains(t, s.LACP.ActorStateFlags, "defaulted", "a partner answered")
		t.Logf("FIGURE %s LACP actor 0x%02x %v partner 0x%02x %v", name, s.LACP.ActorState, s.LACP.ActorStateFlags, s.LACP.PartnerState, s.LACP.PartnerStateFlags)
	}

	// Per-slave link counters, as the kernel counts them: between two
	// sysfs reads around the API's, and moving (LACPDUs flow every second).
	type stat struct {
		file string
		get  func(*httpdebug.CountersJSON) uint64
	}
	stats := []stat{
		{"rx_packets", func(c *httpdebug.CountersJSON) uint64 { return c.RxPackets }},
		{"tx_packets", func(c *httpdebug.CountersJSON) uint64 { return c.TxPackets }},
		{"rx_bytes", func(c *httpdebug.CountersJSON) uint64 { return c.RxBytes }},
		{"tx_bytes", func(c *httpdebug.CountersJSON) uint64 { return c.TxBytes }},
		{"rx_errors", func(c *httpdebug.CountersJSON) uint64 { return c.RxErrors }},
		{"tx_errors", func(c *httpdebug.CountersJSON) uint64 { return c.TxErrors }},
		{"rx_dropped", func(c *httpdebug.CountersJSON) uint64 { return c.RxDropped }},
		{"tx_dropped", func(c *httpdebug.CountersJSON) uint64 { return c.TxDropped }},
	}
	readStats := func(name string) map[string]uint64 {
		out := map[string]uint64{}
		for _, st := range stats {
			v, err := kit.SysfsLinkStat(podB, name, st.file)
			require.NoError(t, err, "%s %s", name, st.file)
			out[st.file] = v
		}
		return out
	}
	before := map[string]map[string]uint64{"s1": readStats("s1"), "s2": readStats("s2")}
	inB = d.inspect(b)
	after := map[string]map[string]uint64{"s1": readStats("s1"), "s2": readStats("s2")}
	for _, name := range []string{"s1", "s2"} {
		s, _ := slaveByName(inB, name)
		require.NotNil(t, s.Counters, name)
		for _, st := range stats {
			got := st.get(s.Counters)
			assert.True(t, before[name][st.file] <= got && got <= after[name][st.file], "%s %s: sysfs %d, API %d, sysfs %d",
				name, st.file, before[name][st.file], got, after[name][st.file])
		}
		assert.Positive(t, s.Counters.TxPackets, "%s sent LACPDUs", name)
		assert.Positive(t, s.Counters.RxPackets, "%s received the partner's LACPDUs", name)
		t.Logf("FIGURE %s counters %+v", name, *s.Counters)
	}

	// The same, in one request for the node, and in node_exporter's textfile.
	var node httpdebug.NodeJSON
	require.Equal(t, http.StatusOK, d.get("/v1/bonds", &node))
	assert.Equal(t, "vm-node", node.Node)
	assert.Equal(t, 2, node.Count)
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(textfile)
		if err != nil {
			return false
		}
		v, ok := metricValue(string(data), "bondcni_slave_lacp_port_state", map[string]string{"container_id": b.ContainerID, "slave": "s1", "side": "partner", "flag": "distributing"})
		return ok && v == 1
	}, 15*time.Second, 100*time.Millisecond, "the textfile never showed s1's partner distributing")

	labelsB := map[string]string{"container_id": b.ContainerID, "ifname": "bond0", "pod_namespace": "default", "pod_name": "pod-" + b.ContainerID}
	withSlave := func(l map[string]string, s string) map[string]string {
		m := map[string]string{"slave": s}
		for k, v := range l {
			m[k] = v
		}
		return m
	}
	m := d.metrics()
	for _, s := range []string{"s1", "s2"} {
		v, ok := metricValue(m, "bondcni_slave_up", withSlave(labelsB, s))
		assert.True(t, ok && v == 1, "bondcni_slave_up %s", s)
		v, ok = metricValue(m, "bondcni_slave_lacp_partner_present", withSlave(labelsB, s))
		assert.True(t, ok && v == 1, "bondcni_slave_lacp_partner_present %s", s)
	}
	v, ok := metricValue(m, "bondcni_bond_lacp_partner_present", labelsB)
	assert.True(t, ok && v == 1, "bondcni_bond_lacp_partner_present")
	for _, s := range []string{"s1", "s2"} {
		v, ok = metricValue(m, "bondcni_slave_lacp_port_state", with(withSlave(labelsB, s), "side", "actor", "flag", "synchronization"))
		assert.True(t, ok && v == 1, "bondcni_slave_lacp_port_state actor synchronization %s", s)
		v, ok = metricValue(m, "bondcni_slave_transmit_packets_total", withSlave(labelsB, s))
		assert.True(t, ok && v > 0, "bondcni_slave_transmit_packets_total %s", s)
	}
	labelsA := map[string]string{"container_id": a.ContainerID, "ifname": "net1", "pod_name": "pod-" + a.ContainerID}
	v, ok = metricValue(m, "bondcni_slave_active", withSlave(labelsA, inA.Bond.ActiveSlave))
	assert.True(t, ok && v == 1, "bondcni_slave_active of the active slave")
	v, ok = metricValue(m, "bondcni_bond_drift", labelsA)
	assert.True(t, ok && v == 0, "bondcni_bond_drift of pod A")

	// Figures: a live inspection and a scrape on this (emulated) machine.
	start := time.Now()
	const n = 20
	for i := 0; i < n; i++ {
		d.inspect(b)
	}
	perInspect := time.Since(start) / n
	start = time.Now()
	d.metrics()
	t.Logf("figures: GET one attachment %v (mean of %d), GET /metrics with 2 bonds %v", perInspect, n, time.Since(start))

	// The switch port facing s1 goes down: s1 loses carrier, the bond's
	// MII monitor marks it down and counts a failure.
	failsBefore, _ := slaveByName(inB, "s1")
	kit.SetUp(t, sw, "p1", false)
	require.Eventually(t, func() bool {
		s, ok := slaveByName(d.inspect(b), "s1")
		return ok && s.MIIStatus == "down" && !s.Up
	}, 15*time.Second, 200*time.Millisecond, "s1 never showed down in the API")
	inB = d.inspect(b)
	s1, _ := slaveByName(inB, "s1")
	assert.False(t, s1.Carrier)
	assert.Greater(t, s1.LinkFailureCount, failsBefore.LinkFailureCount)
	s2, _ := slaveByName(inB, "s2")
	assert.Equal(t, "up", s2.MIIStatus, "s2 is unaffected")
	assert.True(t, inB.Bond.Carrier, "the bond keeps carrier on s2")
	m = d.metrics()
	v, ok = metricValue(m, "bondcni_slave_up", withSlave(labelsB, "s1"))
	assert.True(t, ok && v == 0, "bondcni_slave_up s1 is 0 after its far side went down")
	v, ok = metricValue(m, "bondcni_slave_link_failures_total", withSlave(labelsB, "s1"))
	assert.True(t, ok && v >= 1, "bondcni_slave_link_failures_total s1 counts the failure")
	v, ok = metricValue(m, "bondcni_bond_slaves_up", labelsB)
	assert.True(t, ok && v == 1, "bondcni_bond_slaves_up")

	// Pod A's netns dies without a DEL: the API reports it gone, and the
	// NICs come back to the host, which they could not if the daemon held
	// a socket in that netns.
	require.NoError(t, kit.DeleteNetns(podA))
	var gone httpdebug.InspectionJSON
	require.Eventually(t, func() bool {
		gone = d.inspect(a)
		return gone.Netns.Status == "gone" && len(gone.Stranded) == 2
	}, 20*time.Second, 250*time.Millisecond, "pod A's netns not reported gone with its NICs back on the host: %+v", gone)
	assert.Nil(t, gone.Bond)
	m = d.metrics()
	v, ok = metricValue(m, "bondcni_netns_present", labelsA)
	assert.True(t, ok && v == 0, "bondcni_netns_present of pod A is 0")
	require.NoError(t, e.del(a), "DEL after the netns died returns the NICs")
	assert.False(t, absent(t, "", hostNIC1) || absent(t, "", hostNIC2), "NICs are on the host")
	assert.Equal(t, http.StatusNotFound, d.get("/v1/attachments/"+a.ContainerID+"/net1", nil), "a DELeted attachment is gone from the API")

	// Nothing the daemon did wrote a record or took a lock: ADD and DEL
	// of pod B still work while it runs.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ { // concurrent reads while DEL runs
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if r, err := http.Get(d.base + "/v1/attachments/" + b.ContainerID + "/bond0"); err == nil {
					_, _ = io.Copy(io.Discard, r.Body)
					r.Body.Close()
				}
			}
		}()
	}
	start = time.Now()
	require.NoError(t, e.del(b))
	t.Logf("DEL under 5 concurrent readers took %v", time.Since(start))
	cancel()
	wg.Wait()
	assert.Equal(t, http.StatusNotFound, d.get("/v1/attachments/"+b.ContainerID+"/bond0", nil))
}
