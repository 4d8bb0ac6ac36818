package integration

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/integration/kit"
)

// 802.3ad against a partner bond on the far side of the links (issue 4,
// item 4): LACP negotiates, lacpRate is honoured by both ends, a port going
// down keeps traffic on the other, minLinks drops the bond's carrier.

// LACP actor/partner state bits (IEEE 802.1AX).
const (
	lacpStateTimeout = 0x02 // short timeout: LACPDUs every second
)

// portStates returns each slave's actor (or, partner true, the partner's)
// LACP port state from /proc/net/bonding.
func portStates(t *testing.T, ns, bond string, partner bool) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, s := range kit.ProcSlaves(mustProc(t, ns, bond)) {
		m := s.Actor
		if partner {
			m = s.Partner
		}
		var v int
		_, err := fmt.Sscan(m["port state"], &v)
		require.NoError(t, err, "%s: port state in %v", s.Name, m)
		out[s.Name] = v
	}
	return out
}

// adInfo reads the bond's active aggregator through rtnetlink
// (IFLA_BOND_AD_INFO), independently of /proc.
func adInfo(t *testing.T, ns, bond string) *driver.BondAdInfo {
	t.Helper()
	l := kit.MustLink(t, ns, bond)
	b, ok := l.Attributes.Info.Data.(*driver.Bond)
	require.True(t, ok, "%s is a bond", bond)
	require.NotNil(t, b.AdInfo, "the kernel reports 802.3ad info")
	return b.AdInfo
}

func TestLACPNegotiatesAndHonoursLacpRate(t *testing.T) {
	for _, rate := range []string{"fast", "slow"} {
		t.Run(rate, func(t *testing.T) {
			e := newCNI(t)
			tp := kit.NewTopology(t, kit.TopologyConfig{Partner: kit.PartnerLACP})
			echo := kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
			partnerMAC := kit.MustLink(t, tp.Switch, tp.Master).Attributes.Address
			a := e.attachment(trafficConf(tp, "802.3ad", map[string]any{"lacpRate": rate, "xmitHashPolicy": "layer3+4"}), tp.Pod, "bond0")
			start := time.Now()
			e.mustAdd(a)
			added := time.Since(start)
			took := waitLACP(t, tp, "bond0", 20*time.Second)
			t.Logf("FIGURE lacp-negotiation-ms=%d (lacpRate %s, partner fast; from the end of ADD, which took %d ms, to both ports in sync, collecting and distributing in one aggregator)",
				took.Milliseconds(), rate, added.Milliseconds())

			// One aggregator with both ports, facing the partner bond: /proc
			// (checked by waitLACP) and rtnetlink agree.
			ai := adInfo(t, tp.Pod, "bond0")
			assert.Equal(t, uint16(2), ai.NumPorts)
			assert.Equal(t, partnerMAC.String(), ai.PartnerMac.String(), "the partner is the partner bond")
			for _, s := range kit.ProcSlaves(mustProc(t, tp.Pod, "bond0")) {
				assert.Equal(t, fmt.Sprint(ai.AggregatorId), s.Fields["Aggregator ID"], "%s is in the active aggregator", s.Name)
				assert.Equal(t, partnerMAC.String(), s.Partner["system mac address"], "%s faces the partner bond", s.Name)
			}

			// lacpRate as the kernel stores it, as the pod announces it, and
			// as the partner understood it.
			got, err := kit.SysfsBond(tp.Pod, "bond0", "lacp_rate")
			require.NoError(t, err)
			want := map[string]string{"fast": "fast 1", "slow": "slow 0"}[rate]
			assert.Equal(t, want, got)
			wantBit := 0
			if rate == "fast" {
				wantBit = lacpStateTimeout
			}
			for s, st := range portStates(t, tp.Pod, "bond0", false) {
				assert.Equal(t, wantBit, st&lacpStateTimeout, "%s announces lacpRate %s (actor state %#x)", s, rate, st)
			}
			for p, st := range portStates(t, tp.Switch, tp.Master, true) {
				assert.Equal(t, wantBit, st&lacpStateTimeout, "the partner's %s sees lacpRate %s (partner state %#x)", p, rate, st)
			}
			// And the partner acts on it: it sends LACPDUs every second for
			// fast, every 30 s for slow. The pod's own rate (the partner asks
			// fast) is the control that the count works.
			time.Sleep(time.Second) // past the negotiation's own LACPDUs
			const window = 3500 * time.Millisecond
			var fromPartner, fromPod int
			var errPartner, errPod error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); fromPartner, errPartner = kit.LACPDUs(tp.Switch, tp.Peers[0], true, window) }()
			go func() { defer wg.Done(); fromPod, errPod = kit.LACPDUs(tp.Pod, tp.Slaves[0], true, window) }()
			wg.Wait()
			require.NoError(t, errPartner)
			require.NoError(t, errPod)
			t.Logf("LACPDUs in %v on link 1: partner sent %d (pod asked %s), pod sent %d (partner asked fast)", window, fromPartner, rate, fromPod)
			assert.GreaterOrEqual(t, fromPod, 2, "control: the pod sends every second, as the partner asked")
			if rate == "fast" {
				assert.GreaterOrEqual(t, fromPartner, 2, "lacpRate fast: the partner sends every second")
			} else {
				assert.LessOrEqual(t, fromPartner, 1, "lacpRate slow: the partner sends every 30 s")
			}

			require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second))
			if rate == "fast" {
				portDownKeepsTraffic(t, tp, echo)
			}
			require.NoError(t, e.check(a))
			require.NoError(t, e.del(a))
		})
	}
}

// portDownKeepsTraffic: with one port's far side down, the bond keeps
// carrier (minLinks 0) and every flow goes through the other port.
func portDownKeepsTraffic(t *testing.T, tp *kit.Topology, echo *kit.Echo) {
	t.Helper()
	tp.SetPeerUp(t, 0, false)
	_, ok := kit.Eventually(3*time.Second, func() bool {
		for _, s := range kit.ProcSlaves(mustProc(t, tp.Pod, "bond0")) {
			if s.Name == "s1" {
				return s.Fields["MII Status"] == "down"
			}
		}
		return false
	})
	require.True(t, ok, "s1 is down in the bond")
	assert.True(t, kit.Carrier(t, tp.Pod, "bond0"), "the bond keeps carrier with one port")
	require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second))
	const flows, per = 32, 4
	before := txCounts(t, tp.Pod, tp.Slaves)
	echo.Reset()
	x := kit.SendBurst(t, tp.Pod, tp.Server(echoPort), flows, per, 100, 0, 5*time.Second)
	tx := txSince(t, tp.Pod, before)
	t.Logf("s1's far side down: %s; sent per link %v", x, tx)
	assert.Equal(t, flows*per, x.Echoed, "every flow gets through on s2")
	assert.Zero(t, tx["s1"], "nothing is sent on the dead port")
	assert.GreaterOrEqual(t, tx["s2"], flows*per)
}

func TestLACPMinLinks(t *testing.T) {
	e := newCNI(t)
	tp := kit.NewTopology(t, kit.TopologyConfig{Partner: kit.PartnerLACP})
	kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
	a := e.attachment(trafficConf(tp, "802.3ad", map[string]any{"lacpRate": "fast", "minLinks": 2}), tp.Pod, "bond0")
	e.mustAdd(a)
	waitLACP(t, tp, "bond0", 20*time.Second)
	got, err := kit.SysfsBond(tp.Pod, "bond0", "min_links")
	require.NoError(t, err)
	assert.Equal(t, "2", got)
	require.True(t, kit.Carrier(t, tp.Pod, "bond0"), "two ports up: carrier")
	require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second))

	tp.SetPeerUp(t, 1, false)
	took, ok := kit.Eventually(3*time.Second, func() bool { return !kit.Carrier(t, tp.Pod, "bond0") })
	require.True(t, ok, "minLinks 2 with one port up: the bond loses carrier")
	t.Logf("carrier lost %v after s2's far side went down", took.Round(time.Millisecond))
	assert.False(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 500*time.Millisecond), "no traffic without carrier")

	tp.SetPeerUp(t, 1, true)
	took, ok = kit.Eventually(20*time.Second, func() bool { return kit.Carrier(t, tp.Pod, "bond0") })
	require.True(t, ok, "both ports back: carrier again")
	t.Logf("carrier back %v after s2's far side came up", took.Round(time.Millisecond))
	require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second))
	require.NoError(t, e.del(a))
}
