package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/integration/kit"
)

// MACs and MTU on the real kernel (issue 4, items 8 and 9).

// addWithCaps is ADD with runtime capability arguments (libcni injects
// them as runtimeConfig for the capabilities the config declares), as
// Multus passes a pod's "mac" request.
func (e *cniEnv) addWithCaps(a attachment, caps map[string]any) (*types100.Result, error) {
	rt := a.rt()
	rt.CapabilityArgs = caps
	r, err := e.cni.AddNetworkList(context.Background(), a.list, rt)
	if err != nil {
		return nil, err
	}
	return types100.NewResultFromResult(r)
}

// cniCode returns the code of a CNI error from libcni.
func cniCode(t *testing.T, err error) (uint, string) {
	t.Helper()
	var ce *types.Error
	require.True(t, errors.As(err, &ce), "a CNI error: %v", err)
	return ce.Code, ce.Msg
}

// podState is what a refused ADD must leave unchanged in the pod.
type podState struct {
	Links  []string
	Slaves []linkSnap
}

func snapPod(t *testing.T, tp *kit.Topology) podState {
	t.Helper()
	s := podState{Links: kit.Links(t, tp.Pod)}
	slices.Sort(s.Links)
	for _, l := range tp.Slaves {
		s.Slaves = append(s.Slaves, snap(t, tp.Pod, l))
	}
	return s
}

// requireNoRecord checks that a refused ADD left no attachment record.
func requireNoRecord(t *testing.T, e *cniEnv, a attachment) {
	t.Helper()
	_, err := os.Stat(filepath.Join(e.stateDir, a.ContainerID+"_"+a.IfName+".json"))
	assert.True(t, os.IsNotExist(err), "no attachment record")
}

// macVariant is a bonding mode and, for active-backup, a failOverMac
// ("" = the driver's default, none): the settings that decide whose MAC
// the bond and its slaves carry.
type macVariant struct {
	mode domain.Mode
	fom  string
}

// macVariants is every mode with the default failOverMac, then
// active-backup with each of foms.
func macVariants(foms ...string) []macVariant {
	var vs []macVariant
	for _, m := range domain.AllModes() {
		vs = append(vs, macVariant{mode: m})
	}
	for _, f := range foms {
		vs = append(vs, macVariant{domain.ModeActiveBackup, f})
	}
	return vs
}

func (v macVariant) name() string {
	if v.fom == "" {
		return v.mode.String()
	}
	return v.mode.String() + " failOverMac " + v.fom
}

// opts adds the variant's failOverMac, if any, to a config's options.
func (v macVariant) opts(opts map[string]any) map[string]any {
	if v.fom != "" {
		opts["failOverMac"] = v.fom
	}
	return opts
}

// TestDuplicateSlaveMACsPerMode: links sharing one MAC (SR-IOV VFs can) are
// refused in balance-tlb/alb, where each slave needs its own MAC, before
// anything changes; in every other mode they are bonded, carry traffic,
// never get an invalid MAC, and get their MAC back on DEL (bond-cni wrote
// "random" MACs like 30:32:3a:xx:yy:3a onto them).
func TestDuplicateSlaveMACsPerMode(t *testing.T) {
	dup := mustMAC(t, "02:00:00:00:d0:01")
	for _, v := range macVariants("active", "follow") {
		name := v.name()
		t.Run(name, func(t *testing.T) {
			e := newCNI(t)
			tp := kit.NewTopology(t, kit.TopologyConfig{MACs: []net.HardwareAddr{dup, dup}})
			kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
			opts := v.opts(map[string]any{})
			before := snapPod(t, tp)
			a := e.attachment(trafficConf(tp, v.mode.String(), opts), tp.Pod, "bond0")
			_, err := e.add(a)
			if v.mode == domain.ModeBalanceTLB || v.mode == domain.ModeBalanceALB {
				require.Error(t, err, "duplicate MACs cannot work in %s", v.mode)
				code, msg := cniCode(t, err)
				assert.Equal(t, uint(domain.CodeLinkUnusable), code)
				assert.Contains(t, msg, `"s1" and "s2" share MAC `+dup.String())
				assert.Contains(t, msg, "mode "+v.mode.String()+" needs a distinct MAC on every slave")
				assert.Equal(t, before, snapPod(t, tp), "refused before anything changed")
				requireNoRecord(t, e, a)
				return
			}
			require.NoError(t, err)
			requireValidMACs(t, tp.Pod, "bond0", tp.Slaves)
			var macs []string
			for _, s := range append([]string{"bond0"}, tp.Slaves...) {
				macs = append(macs, s+"="+kit.MustLink(t, tp.Pod, s).Attributes.Address.String())
			}
			t.Logf("%s with duplicate link MACs: %v", name, macs)
			require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second), "traffic flows")
			x := kit.SendBurst(t, tp.Pod, tp.Server(echoPort), 8, 4, 100, 0, 5*time.Second)
			assert.Equal(t, x.Sent, x.Echoed, "%s", x)
			require.NoError(t, e.del(a))
			assert.Equal(t, before, snapPod(t, tp), "DEL gives the links their MAC back")
		})
	}
}

// TestRuntimeMACCapability: runtimeConfig.mac (the "mac" capability,
// Multus and the tuning plugin's convention) becomes the bond's MAC in
// every mode where the kernel keeps it, and is refused with a clear
// message where it would not (active-backup with failOverMac active).
func TestRuntimeMACCapability(t *testing.T) {
	const want = "02:42:0a:63:00:02"
	for _, v := range macVariants("follow", "active") {
		name := v.name()
		t.Run(name, func(t *testing.T) {
			e := newCNI(t)
			cfg := kit.TopologyConfig{}
			if v.mode == domain.Mode8023AD {
				cfg.Partner = kit.PartnerLACP
			}
			tp := kit.NewTopology(t, cfg)
			kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
			opts := v.opts(map[string]any{"capabilities": map[string]bool{"mac": true}})
			before := snapPod(t, tp)
			a := e.attachment(trafficConf(tp, v.mode.String(), opts), tp.Pod, "bond0")
			res, err := e.addWithCaps(a, map[string]any{"mac": want})
			if v.fom == "active" {
				require.Error(t, err, "the kernel would ignore the MAC: refuse it")
				code, msg := cniCode(t, err)
				assert.Equal(t, uint(domain.CodeInvalidConfig), code)
				assert.Contains(t, msg, "runtimeConfig.mac: "+want+" cannot be applied with mode active-backup and failOverMac active")
				assert.Equal(t, before, snapPod(t, tp), "refused before anything changed")
				requireNoRecord(t, e, a)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, want, kit.MustLink(t, tp.Pod, "bond0").Attributes.Address.String(), "the bond has the requested MAC")
			require.Len(t, res.Interfaces, 1)
			assert.Equal(t, want, res.Interfaces[0].Mac, "and the result says so")
			requireValidMACs(t, tp.Pod, "bond0", tp.Slaves)
			if v.mode == domain.Mode8023AD {
				waitLACP(t, tp, "bond0", 20*time.Second)
				proc := mustProc(t, tp.Pod, "bond0")
				assert.Equal(t, want, kit.BondField(proc, "System MAC address"), "LACP speaks for the bond's MAC")
			}
			require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second), "traffic flows with the requested MAC")
			require.NoError(t, e.del(a))
			assert.Equal(t, before, snapPod(t, tp), "DEL gives the links their MACs back")
		})
	}
}

func TestBondMTU(t *testing.T) {
	t.Run("configured jumbo", func(t *testing.T) {
		e := newCNI(t)
		tp := kit.NewTopology(t, kit.TopologyConfig{SwitchMTU: 9000})
		kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
		before := snapPod(t, tp)
		a := e.attachment(trafficConf(tp, "balance-xor", map[string]any{"mtu": 9000}), tp.Pod, "bond0")
		res := e.mustAdd(a)
		requireMTUs(t, tp, 9000)
		assert.Equal(t, 9000, res.Interfaces[0].Mtu)
		require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second))
		echoed, err := kit.SendDF(t, tp.Pod, tp.Server(echoPort), 8000, 2*time.Second)
		require.NoError(t, err)
		assert.True(t, echoed, "an 8000-byte datagram crosses the bond unfragmented")
		require.NoError(t, e.del(a))
		assert.Equal(t, before, snapPod(t, tp), "the links get their MTU back")
	})
	t.Run("configured smaller", func(t *testing.T) {
		e := newCNI(t)
		tp := kit.NewTopology(t, kit.TopologyConfig{})
		kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
		before := snapPod(t, tp)
		a := e.attachment(trafficConf(tp, "active-backup", map[string]any{"mtu": 1400}), tp.Pod, "bond0")
		e.mustAdd(a)
		requireMTUs(t, tp, 1400)
		require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second))
		_, err := kit.SendDF(t, tp.Pod, tp.Server(echoPort), 1400, time.Second)
		assert.ErrorIs(t, err, kit.ErrMsgSize, "1428 bytes with headers do not fit MTU 1400")
		echoed, err := kit.SendDF(t, tp.Pod, tp.Server(echoPort), 1372, 2*time.Second)
		require.NoError(t, err)
		assert.True(t, echoed, "1400 bytes with headers do")
		require.NoError(t, e.del(a))
		assert.Equal(t, before, snapPod(t, tp))
	})
	t.Run("omitted keeps the links' MTU", func(t *testing.T) {
		// bond-cni assumed 1500: jumbo links would have been cut down.
		e := newCNI(t)
		tp := kit.NewTopology(t, kit.TopologyConfig{MTU: 9000})
		kit.SetMTU(t, tp.Pod, "s2", 8000)
		kit.StartEcho(t, tp.Switch, tp.Server(echoPort))
		before := snapPod(t, tp)
		a := e.attachment(trafficConf(tp, "balance-rr", nil), tp.Pod, "bond0")
		res := e.mustAdd(a)
		requireMTUs(t, tp, 8000)
		assert.Equal(t, 8000, res.Interfaces[0].Mtu, "the smallest of the links' MTUs, 8000, not 1500")
		require.True(t, kit.WaitReachable(t, tp.Pod, tp.Server(echoPort), 5*time.Second))
		echoed, err := kit.SendDF(t, tp.Pod, tp.Server(echoPort), 7000, 2*time.Second)
		require.NoError(t, err)
		assert.True(t, echoed, "7000-byte datagrams cross the bond")
		require.NoError(t, e.del(a))
		assert.Equal(t, before, snapPod(t, tp), "s1 gets 9000 back, s2 8000")
	})
	t.Run("impossible MTU refused before anything changes", func(t *testing.T) {
		e := newCNI(t)
		tp := kit.NewTopology(t, kit.TopologyConfig{})
		// An XDP program on p1 caps s1's MTU at a page's worth, as a NIC
		// without jumbo frames: the kernel says how much.
		kit.AttachXDPPass(t, tp.Switch, "p1")
		_, maxMTU, err := kit.MTULimits(tp.Pod, "s1")
		require.NoError(t, err)
		require.NotZero(t, maxMTU)
		require.Less(t, maxMTU, uint32(9000), "precondition: s1 cannot take 9000")
		t.Logf("s1 takes at most MTU %d", maxMTU)
		before := snapPod(t, tp)
		a := e.attachment(trafficConf(tp, "active-backup", map[string]any{"mtu": 9000}), tp.Pod, "bond0")
		_, err = e.add(a)
		require.Error(t, err)
		code, msg := cniCode(t, err)
		t.Logf("refused: %s", msg)
		assert.Equal(t, uint(domain.CodeLinkUnusable), code)
		assert.Contains(t, msg, fmt.Sprintf(`mtu: 9000 is outside the MTU range of link "s1" in the pod netns (68..%d`, maxMTU))
		assert.Contains(t, msg, fmt.Sprintf(`set "mtu" within 68..%d`, maxMTU))
		assert.Equal(t, before, snapPod(t, tp), "refused before anything changed")
		requireNoRecord(t, e, a)

		// The largest MTU the kernel allows works.
		b := e.attachment(trafficConf(tp, "active-backup", map[string]any{"mtu": maxMTU}), tp.Pod, "bond0")
		e.mustAdd(b)
		requireMTUs(t, tp, int(maxMTU))
		require.NoError(t, e.del(b))
		assert.Equal(t, before, snapPod(t, tp))
	})
}

// requireMTUs checks the bond's and every link's MTU.
func requireMTUs(t *testing.T, tp *kit.Topology, mtu int) {
	t.Helper()
	for _, l := range append([]string{"bond0"}, tp.Slaves...) {
		assert.Equal(t, uint32(mtu), kit.MustLink(t, tp.Pod, l).Attributes.MTU, "MTU of %s", l)
	}
}
