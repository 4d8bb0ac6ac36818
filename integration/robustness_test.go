package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/integration/kit"
)

// Two pods ask for the same host NICs at the same moment, 20 times: exactly
// one wins, the other fails naming the link and who holds it, and after
// both DELs the NICs are back exactly as they were.
func TestRaceTwoPodsForSameHostNICs(t *testing.T) {
	e := newCNI(t)
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	const rounds = 20
	for round := 0; round < rounds; round++ {
		podA, podB := kit.NewNetns(t, "raceA"), kit.NewNetns(t, "raceB")
		conf := kit.SeedHostConf("1.1.0", `{"type":"host-local","subnet":"10.10.21.0/24","dataDir":"/tmp/race-host-local"}`)
		a, b := e.attachment(conf, podA, "net1"), e.attachment(conf, podB, "net1")
		var errA, errB error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() { defer wg.Done(); <-start; _, errA = e.add(a) }()
		go func() { defer wg.Done(); <-start; _, errB = e.add(b) }()
		close(start)
		wg.Wait()
		require.True(t, (errA == nil) != (errB == nil), "round %d: exactly one ADD wins (A: %v, B: %v)", round, errA, errB)
		winner, loserErr := a, errB
		if errA != nil {
			winner, loserErr = b, errA
		}
		msg := loserErr.Error()
		assert.True(t, strings.Contains(msg, hostNIC1) || strings.Contains(msg, hostNIC2), "round %d: the error names the link: %s", round, msg)
		assert.True(t, strings.Contains(msg, "held by another attachment") || strings.Contains(msg, "try again"), "round %d: the error says the link is held: %s", round, msg)
		assert.NotContains(t, msg, winner.ContainerID, "round %d: the loser's pod events must not name the winner's container", round)
		assert.NotContains(t, msg, "pod-"+winner.ContainerID, "round %d: nor its pod", round)
		assert.Len(t, kit.BondSlaves(mustProc(t, winner.Netns, "net1")), 2)
		require.NoError(t, e.del(a))
		require.NoError(t, e.del(b))
		require.Equal(t, before1, snap(t, "", hostNIC1), "round %d", round)
		require.Equal(t, before2, snap(t, "", hostNIC2), "round %d", round)
	}
	t.Logf("FIGURE race-rounds=%d", rounds)
}

func mustProc(t *testing.T, ns, bond string) string {
	t.Helper()
	p, err := kit.ProcBonding(ns, bond)
	require.NoError(t, err)
	return p
}

// 32 pods attach at once, each with its own two links, then detach at once.
func TestManyPodsAtOnce(t *testing.T) {
	e := newCNI(t)
	const pods = 32
	conf := `{"cniVersion":"1.1.0","name":"many","type":"bond","mode":"active-backup","miimon":100,
"linksInContainer":true,"links":[{"name":"s1"},{"name":"s2"}],
"ipam":{"type":"host-local","subnet":"10.96.0.0/24","dataDir":"/tmp/many-host-local"}}`
	atts := make([]attachment, pods)
	for i := range atts {
		atts[i] = e.attachment(conf, vethPod(t), "bond0")
	}
	run := func(f func(attachment) error) (time.Duration, []error) {
		errs := make([]error, pods)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range atts {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = f(atts[i]) }()
		}
		wg.Wait()
		return time.Since(start), errs
	}
	addTime, errs := run(func(a attachment) error { _, err := e.add(a); return err })
	require.NoError(t, errors.Join(errs...))
	ips := map[string]bool{}
	for _, a := range atts {
		got := ipsOf(t, a.Netns, "bond0")
		require.Len(t, got, 1)
		ips[got[0]] = true
		assert.ElementsMatch(t, []string{"s1", "s2"}, kit.BondSlaves(mustProc(t, a.Netns, "bond0")))
	}
	assert.Len(t, ips, pods, "every pod got its own address")
	delTime, errs := run(e.del)
	require.NoError(t, errors.Join(errs...))
	for _, a := range atts {
		assert.True(t, absent(t, a.Netns, "bond0"))
	}
	t.Logf("FIGURE pods-at-once=%d add-total-ms=%d del-total-ms=%d", pods, addTime.Milliseconds(), delTime.Milliseconds())
}

// The plugin is SIGKILLed before each named step of an ADD; the DEL that
// the runtime always sends afterwards returns the host NICs exactly, and
// leaves no bond, record or IP reservation behind.
func TestKill9DuringAddThenDelRestores(t *testing.T) {
	e := newCNI(t)
	hooks := e.hooksBin()
	before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
	steps := []string{"record", "move-to-pod eth1000", "move-to-pod eth1001", "create-bond",
		"enslave eth1000", "enslave eth1001", "bond-up", "ipam-add", "configure-ip", "mark-ready"}
	dataDir := "/tmp/kill-host-local"
	for _, step := range steps {
		t.Run(strings.ReplaceAll(step, " ", "_"), func(t *testing.T) {
			conf := kit.SeedHostConf("1.1.0", fmt.Sprintf(`{"type":"host-local","subnet":"10.10.22.0/24","dataDir":%q}`, dataDir))
			killAtStepThenDel(t, e, hooks, conf, step, dataDir, before1, before2)
		})
	}
	t.Logf("FIGURE kill9-points=%d", len(steps))
}

// killAtStepThenDel runs the test-hook build of the plugin with conf (on
// the host NICs, CNI_IFNAME net1), SIGKILLs it before step, runs DEL, and
// requires the NICs as before1/before2, nothing in the pod, no record and
// no host-local reservation under dataDir.
func killAtStepThenDel(t *testing.T, e *cniEnv, hooks, conf, step, dataDir string, before1, before2 linkSnap) {
	t.Helper()
	pod := kit.NewNetns(t, "kill")
	ctr := fmt.Sprintf("kill%d%d", os.Getpid(), ctrSeq.Add(1))
	marker := filepath.Join(t.TempDir(), "paused")
	env := map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": ctr, "CNI_NETNS": pod, "CNI_IFNAME": "net1",
		"BOND_TEST_PAUSE_AT": step, "BOND_TEST_PAUSE_FILE": marker}
	cmd := exec.Command(hooks)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "CNI_PATH=" + e.binDir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(conf)
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool { _, err := os.Stat(marker); return err == nil }, 20*time.Second, 10*time.Millisecond, "plugin reached %q", step)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	out, stderr, code := e.execBond(map[string]string{"CNI_COMMAND": "DEL", "CNI_CONTAINERID": ctr, "CNI_NETNS": pod, "CNI_IFNAME": "net1"}, conf)
	require.Equal(t, 0, code, "DEL after kill at %q: %s %s", step, out, stderr)
	assert.Equal(t, before1, snap(t, "", hostNIC1))
	assert.Equal(t, before2, snap(t, "", hostNIC2))
	assert.ElementsMatch(t, []string{"lo"}, kit.Links(t, pod), "nothing left in the pod")
	_, err := os.Stat(filepath.Join(e.stateDir, ctr+"_net1.json"))
	assert.True(t, os.IsNotExist(err), "record removed")
	assert.Empty(t, reservations(t, filepath.Join(dataDir, "bond0"), ctr), "IP released")
}

// reservations lists host-local reservation files held by ctr.
func reservations(t *testing.T, dir, ctr string) []string {
	t.Helper()
	files, _ := os.ReadDir(dir)
	var held []string
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(data)), ctr) {
			held = append(held, f.Name())
		}
	}
	return held
}

// Malformed configs and environments get a CNI error JSON with the right
// code, exit status 1, and no change on the node.
func TestBadInputRefusedWithoutChange(t *testing.T) {
	e := newCNI(t)
	pod := kit.NewNetns(t, "bad")
	notNetns := filepath.Join(t.TempDir(), "plain-file")
	require.NoError(t, os.WriteFile(notNetns, nil, 0o600))
	good := kit.SeedHostConf("1.1.0", "")
	var thousand []string
	for i := 0; i < 1000; i++ {
		thousand = append(thousand, fmt.Sprintf(`{"name":"l%d"}`, i))
	}
	huge := `{"cniVersion":"1.1.0","name":"n","type":"bond","mode":"active-backup","miimon":100,"links":[{"name":"eth1000"},{"name":"eth1001"}],"pad":"` + strings.Repeat("x", 10<<20) + `"}`
	env := func(over map[string]string) map[string]string {
		m := map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "badctr", "CNI_NETNS": pod, "CNI_IFNAME": "net1"}
		for k, v := range over {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	repl := func(old, new string) string { return strings.Replace(good, old, new, 1) }
	cases := []struct {
		name  string
		env   map[string]string
		conf  string
		code  uint
		words []string
	}{
		{"not JSON", env(nil), "this is not json", 6, nil},
		{"JSON array", env(nil), "[1,2]", 6, nil},
		{"mode wrong type", env(nil), repl(`"mode": "active-backup"`, `"mode": 1`), 7, []string{"mode"}},
		{"miimon negative", env(nil), repl(`"miimon": "100"`, `"miimon": -5`), 7, []string{"miimon", "-5"}},
		{"miimon huge", env(nil), repl(`"miimon": "100"`, `"miimon": 99999999999999999999`), 7, []string{"miimon"}},
		{"mtu huge", env(nil), repl(`"ifname": "net1",`, `"ifname": "net1", "mtu": 1000000,`), 7, []string{"mtu"}},
		{"1000 links", env(nil), repl(`[{"name": "eth1000"}, {"name": "eth1001"}]`, "["+strings.Join(thousand, ",")+"]"), 7, []string{"links", "1000"}},
		{"duplicate links", env(nil), repl(`{"name": "eth1001"}`, `{"name": "eth1000"}`), 7, []string{"links", "eth1000"}},
		{"link with slash", env(nil), repl(`"eth1001"`, `"eth/1"`), 7, []string{"eth/1"}},
		{"link dotdot", env(nil), repl(`"eth1001"`, `".."`), 7, []string{`".."`}},
		{"link with space", env(nil), repl(`"eth1001"`, `"eth 1"`), 7, []string{"eth 1"}},
		{"link non-ASCII", env(nil), repl(`"eth1001"`, `"ethé"`), 7, []string{"links"}},
		{"link over 15 bytes", env(nil), repl(`"eth1001"`, `"abcdefghijklmnop"`), 7, []string{"abcdefghijklmnop"}},
		{"10 MB config", env(nil), huge, 7, []string{"bytes", "at most"}},
		{"missing CNI_IFNAME", env(map[string]string{"CNI_IFNAME": ""}), good, 4, []string{"CNI_IFNAME"}},
		{"missing CNI_NETNS", env(map[string]string{"CNI_NETNS": ""}), good, 4, []string{"CNI_NETNS"}},
		{"missing CNI_CONTAINERID", env(map[string]string{"CNI_CONTAINERID": ""}), good, 4, []string{"CNI_CONTAINERID"}},
		{"netns not a netns", env(map[string]string{"CNI_NETNS": notNetns}), good, 4, []string{"CNI_NETNS"}},
		{"netns missing", env(map[string]string{"CNI_NETNS": "/run/netns/does-not-exist"}), good, 4, []string{"CNI_NETNS"}},
		{"bogus mode", env(nil), repl(`"active-backup"`, `"bogus"`), 7, []string{"mode", "bogus"}},
		{"link missing on host", env(nil), repl(`"eth1001"`, `"nosuch0"`), 100, []string{"nosuch0"}},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			h1, h2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
			out, _, code := e.execBond(c.env, c.conf)
			assert.Equal(t, 1, code, "exit status")
			ce := cniError(t, out)
			if c.code != 0 {
				assert.Equal(t, c.code, ce.Code, ce.Msg)
			} else {
				assert.NotZero(t, ce.Code, ce.Msg)
			}
			for _, w := range c.words {
				assert.Contains(t, ce.Msg, w)
			}
			assert.Equal(t, h1, snap(t, "", hostNIC1), "host NIC unchanged")
			assert.Equal(t, h2, snap(t, "", hostNIC2), "host NIC unchanged")
			assert.ElementsMatch(t, []string{"lo"}, kit.Links(t, pod), "pod unchanged")
		})
	}
	t.Logf("FIGURE bad-inputs-on-kernel=%d", len(cases))
}

// A host NIC that carries the node's own traffic (a global address, the
// default route) is refused unless the config opts in explicitly.
func TestUnsafeHostNICRefused(t *testing.T) {
	e := newCNI(t)
	t.Run("global address", func(t *testing.T) {
		kit.AddAddress(t, "", hostNIC1, "192.0.2.10/24")
		before1, before2 := snap(t, "", hostNIC1), snap(t, "", hostNIC2)
		pod := kit.NewNetns(t, "unsafe")
		// The safety check runs beside IPAM ADD, which has reserved an
		// address by the time it refuses: the refusal releases it.
		lastReserved := func() string {
			b, _ := os.ReadFile("/tmp/host-local/bond0/last_reserved_ip.0")
			return string(b)
		}
		lastBefore := lastReserved()
		a := e.attachment(kit.SeedHostConf("1.1.0", ""), pod, "net1")
		_, err := e.add(a)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "192.0.2.10/24")
		assert.Contains(t, err.Error(), "allowUnsafeHostLinks")
		assert.Equal(t, before1, snap(t, "", hostNIC1))
		assert.Equal(t, before2, snap(t, "", hostNIC2))
		assert.Contains(t, ipsOf(t, "", hostNIC1), "192.0.2.10/24", "address untouched")
		assert.NotEqual(t, lastBefore, lastReserved(), "IPAM ADD ran beside the safety check")
		assert.Empty(t, reservations(t, "/tmp/host-local/bond0", a.ContainerID), "the address IPAM ADD reserved is released")
		_, err = os.Stat(filepath.Join(e.stateDir, a.ContainerID+"_net1.json"))
		assert.True(t, os.IsNotExist(err), "no record left")
	})
	t.Run("default route", func(t *testing.T) {
		kit.SetUp(t, "", hostNIC2, true)
		t.Cleanup(func() { kit.SetUp(t, "", hostNIC2, false) })
		kit.AddAddress(t, "", hostNIC2, "192.0.2.20/24")
		kit.AddDefaultRoute(t, "", hostNIC2, "192.0.2.1")
		pod := kit.NewNetns(t, "unsafe")
		_, err := e.add(e.attachment(kit.SeedHostConf("1.1.0", ""), pod, "net1"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "default route")
		assert.Contains(t, err.Error(), hostNIC2)
		assert.False(t, absent(t, "", hostNIC2))
	})
	t.Run("explicit opt-in, allowed by the node admin", func(t *testing.T) {
		nodeFile(t, `{"allowUnsafeHostLinks": true, "hostLinks": ["*"]}`)
		kit.AddAddress(t, "", hostNIC1, "192.0.2.10/24")
		pod := kit.NewNetns(t, "unsafe")
		conf := strings.Replace(kit.SeedHostConf("1.1.0", ""), `"failOverMac": 1,`, `"failOverMac": 1, "allowUnsafeHostLinks": true,`, 1)
		a := e.attachment(conf, pod, "net1")
		e.mustAdd(a)
		require.NoError(t, e.del(a))
		assert.False(t, absent(t, "", hostNIC1), "returned to the host")
	})
}

// A config naming a link that is not there is refused before IPAM is
// called: host-local reserves nothing, not even for a moment.
func TestMissingLinkNeverReachesIPAM(t *testing.T) {
	e := newCNI(t)
	dir := t.TempDir()
	pod := kit.NewNetns(t, "missing")
	conf := strings.Replace(kit.SeedHostConf("1.1.0", fmt.Sprintf(`{"type":"host-local","subnet":"10.10.23.0/24","dataDir":%q}`, dir)),
		`"name": "`+hostNIC2+`"`, `"name": "eth9999"`, 1)
	require.Contains(t, conf, "eth9999")
	_, err := e.add(e.attachment(conf, pod, "net1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"eth9999" not found`)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "host-local never ran: no network directory, no reservation")
}
