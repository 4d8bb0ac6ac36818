package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

// vfWorld is a node with two SR-IOV PFs whose VFs net1 (of pf0) and net2
// (of pf0 when samePF, else of pf1) the SR-IOV step put into the pod, up.
// With adminMAC the PFs set the VFs' MACs; trust is as given.
func vfWorld(t *testing.T, adminMAC, trust, samePF bool) (*world, *bytes.Buffer) {
	w := newWorld(t)
	pf2, pci2, idx2 := "pf1", "0000:02:00.0", 0
	if samePF {
		pf2, pci2, idx2 = "pf0", "0000:01:00.0", 1
	}
	var m1, m2 net.HardwareAddr
	if adminMAC {
		m1, m2 = net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	}
	w.k.AddVF(w.pod, "net1", "pf0", "0000:01:00.0", 0, m1, trust)
	w.k.AddVF(w.pod, "net2", pf2, pci2, idx2, m2, trust)
	w.k.SetAdminUp(w.pod, "net1", true)
	w.k.SetAdminUp(w.pod, "net2", true)
	var logs bytes.Buffer
	svc, err := app.New(app.Deps{Links: w.k, Bonds: w.k, Addresses: w.k, Namespaces: w.k, Props: w.k, VFs: w.k,
		IPAM: w.ipam, Store: w.store, Locks: w.locks, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	w.svc = svc
	return w, &logs
}

// vfReq is an ADD or DEL of the bond bond0 over the pod's VFs.
func (w *world) vfReq(conf, ctr string) app.Request {
	r := w.req(conf, ctr)
	r.IfName = "bond0"
	return r
}

func vfConf(opts string) string {
	return `{"cniVersion":"1.1.0","name":"vfbond","type":"bond","miimon":100,"linksInContainer":true,
"links":[{"name":"net1"},{"name":"net2"}],"ipam":{"type":"host-local"}` + opts + `}`
}

// Modes that give slaves another MAC cannot take VFs whose MAC the PF
// locked: refused before any change, saying what to set.
func TestVFWithAdminMACRefusedWhereTheBondRewritesMACs(t *testing.T) {
	for _, opts := range []string{
		`,"mode":"802.3ad"`,
		`,"mode":"active-backup","failOverMac":0`,
		`,"mode":"active-backup"`,
		`,"mode":"balance-xor"`,
	} {
		t.Run(opts, func(t *testing.T) {
			w, _ := vfWorld(t, true, false, false)
			initial := w.state()
			_, err := w.svc.Add(context.Background(), w.vfReq(vfConf(opts), "c1"))
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, domain.CodeLinkUnusable, de.Code)
			assert.Contains(t, de.Msg, `"net1" is SR-IOV VF 0 of PF pf0 (0000:01:00.1) whose MAC 02:00:00:00:00:01 the PF set administratively, with trust off`)
			assert.Contains(t, de.Msg, `"failOverMac": 1`)
			assert.Contains(t, de.Msg, `"trust": "on"`)
			assert.Equal(t, initial, w.state(), "nothing changed")
			assert.Empty(t, w.k.Ops(), "no change was even tried")
		})
	}
}

// The same VFs work in active-backup with failOverMac 1, and in 802.3ad
// once trusted; their MACs are untouched in the first case.
func TestVFWithAdminMACWorksWithFailOverMacActiveOrTrust(t *testing.T) {
	for _, c := range []struct {
		opts  string
		trust bool
	}{{`,"mode":"active-backup","failOverMac":1`, false}, {`,"mode":"802.3ad"`, true}, {`,"mode":"balance-xor"`, true}} {
		t.Run(fmt.Sprintf("%s trust=%t", c.opts, c.trust), func(t *testing.T) {
			w, _ := vfWorld(t, true, c.trust, false)
			initial := w.state()
			_, err := w.svc.Add(context.Background(), w.vfReq(vfConf(c.opts), "c1"))
			require.NoError(t, err)
			st, err := w.k.Bond(context.Background(), w.pod, "bond0")
			require.NoError(t, err)
			require.Len(t, st.Slaves, 2)
			require.NoError(t, w.svc.Del(context.Background(), w.vfReq(vfConf(c.opts), "c1")))
			assert.Equal(t, initial, w.state(), "DEL leaves the VFs as the SR-IOV step left them")
		})
	}
}

// A MAC lock the plugin could not see coming (the kernel refuses the
// enslave): rolled back completely, with the same advice.
func TestVFRefusingTheBondMACAtEnslaveIsRolledBack(t *testing.T) {
	w, _ := vfWorld(t, true, false, false)
	// Hide the lock from the pre-check: the VF reports no permanent MAC,
	// as a VF whose MAC the PF set after the driver bound.
	w.k.ForgetPermMAC(w.pod, "net1")
	w.k.ForgetPermMAC(w.pod, "net2")
	initial := w.state()
	_, err := w.svc.Add(context.Background(), w.vfReq(vfConf(`,"mode":"active-backup","failOverMac":0`), "c1"))
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, domain.CodeLinkUnusable, de.Code)
	assert.Contains(t, de.Msg, `"net2" is SR-IOV VF 0 of PF pf1 (0000:02:00.1), whose PF refused it a new MAC`)
	assert.Contains(t, de.Error(), "EADDRNOTAVAIL")
	assert.Equal(t, initial, w.state(), "both VFs as before: released, MACs and up state back")
}

// An enslave that fails after its down message leaves the link up as it
// was: the port call undoes its own partial change.
func TestEnslaveFailingHalfWayLeavesTheLinkAsFound(t *testing.T) {
	for nth := 1; nth <= 2; nth++ {
		t.Run(fmt.Sprintf("enslave %d", nth), func(t *testing.T) {
			w, _ := vfWorld(t, false, false, false)
			initial := w.state()
			w.k.FailOn("Enslave/master", nth, errors.New("injected refusal after the down message"))
			_, err := w.svc.Add(context.Background(), w.vfReq(vfConf(`,"mode":"active-backup","failOverMac":1`), "c1"))
			require.ErrorContains(t, err, "injected refusal after the down message")
			assert.Equal(t, initial, w.state(), "both VFs up again, nothing else left")
		})
	}
}

// Two VFs of one PF: a warning, or an error with requireDistinctPFs.
func TestVFsOfOnePF(t *testing.T) {
	w, logs := vfWorld(t, false, false, true)
	_, err := w.svc.Add(context.Background(), w.vfReq(vfConf(`,"mode":"active-backup","failOverMac":1`), "c1"))
	require.NoError(t, err)
	assert.Contains(t, logs.String(), `level=WARN msg="links \"net1\" and \"net2\" are VFs of the same PF pf0 (0000:01:00.0): the bond does not survive a failure of that PF"`)

	w, _ = vfWorld(t, false, false, true)
	initial := w.state()
	_, err = w.svc.Add(context.Background(), w.vfReq(vfConf(`,"mode":"active-backup","failOverMac":1,"requireDistinctPFs":true`), "c1"))
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, domain.CodeLinkUnusable, de.Code)
	assert.Contains(t, de.Msg, `"net1" and "net2" are VFs of the same PF pf0 (0000:01:00.0), which is no redundancy, and "requireDistinctPFs" is true`)
	assert.Equal(t, initial, w.state())
}

// CHECK reports a VF slave that lost its link (its PF went down).
func TestCheckReportsAVFSlaveWithoutLink(t *testing.T) {
	w, _ := vfWorld(t, false, false, false)
	conf := vfConf(`,"mode":"active-backup","failOverMac":1`)
	_, err := w.svc.Add(context.Background(), w.vfReq(conf, "c1"))
	require.NoError(t, err)
	require.NoError(t, w.svc.Check(context.Background(), w.vfReq(conf, "c1")))
	w.k.SetCarrier(w.pod, "net2", false)
	err = w.svc.Check(context.Background(), w.vfReq(conf, "c1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "slave net2, SR-IOV VF 0 of PF pf1 (0000:02:00.1), has no link")
}

// The debug daemon's Validate applies ADD's VF rules to VFs named as
// host links.
func TestValidateAppliesTheVFRules(t *testing.T) {
	w, _ := vfWorld(t, true, false, false)
	w.k.AddVF(domain.HostNetns, "vf0", "pf0", "0000:01:00.0", 2, net.HardwareAddr{2, 0, 0, 0, 0, 3}, false)
	w.k.AddVF(domain.HostNetns, "vf1", "pf1", "0000:02:00.0", 2, net.HardwareAddr{2, 0, 0, 0, 0, 4}, false)
	conf := `{"cniVersion":"1.1.0","name":"vfbond","type":"bond","mode":"802.3ad","miimon":100,"links":["vf0","vf1"]}`
	res, err := w.svc.Validate(context.Background(), []byte(conf), "bond0")
	require.NoError(t, err)
	assert.False(t, res.Valid)
	assert.ErrorContains(t, res.Error, `"vf0" is SR-IOV VF 2 of PF pf0 (0000:01:00.3) whose MAC 02:00:00:00:00:03 the PF set administratively`)
}

// A VF whose driver rewrote its permanent MAC between ADD and DEL (igbvf
// takes its PF's MAC when it resets the VF, and enslaving resets it) is
// still the recorded device: its PCI address proves it, and DEL completes.
func TestDelKnowsAVFByItsDevice(t *testing.T) {
	w, _ := vfWorld(t, true, true, false)
	initial := w.state()
	conf := vfConf(`,"mode":"802.3ad"`)
	_, err := w.svc.Add(context.Background(), w.vfReq(conf, "c1"))
	require.NoError(t, err)
	w.k.SetPermMAC(w.pod, "net1", net.HardwareAddr{2, 0, 0, 0, 0, 0x77})
	require.NoError(t, w.svc.Del(context.Background(), w.vfReq(conf, "c1")))
	w.k.SetPermMAC(w.pod, "net1", net.HardwareAddr{2, 0, 0, 0, 0, 1})
	assert.Equal(t, initial, w.state(), "the VFs are back as they were (but for the rewritten permanent MAC, put back here)")
}
