package domain_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

func TestRewritesSlaveMACs(t *testing.T) {
	fom := func(f domain.FailOverMac) *domain.FailOverMac { return &f }
	for _, m := range domain.AllModes() {
		o := domain.BondOptions{Mode: m}
		assert.True(t, o.RewritesSlaveMACs(), "%s with the default failOverMac", m)
		o.FailOverMac = fom(domain.FailOverMacActive)
		assert.Equal(t, m != domain.ModeActiveBackup, o.RewritesSlaveMACs(), "%s with failOverMac active", m)
		o.FailOverMac = fom(domain.FailOverMacFollow)
		assert.True(t, o.RewritesSlaveMACs(), "%s with failOverMac follow swaps MACs", m)
	}
}

func TestMACLocked(t *testing.T) {
	admin := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	random := net.HardwareAddr{0xae, 0, 0, 0, 0, 1}
	for _, c := range []struct {
		name string
		vf   domain.VF
		perm net.HardwareAddr
		want bool
	}{
		{"admin MAC the driver took, trust off", domain.VF{AdminMAC: admin}, admin, true},
		{"admin MAC, trusted", domain.VF{AdminMAC: admin, Trust: true}, admin, false},
		{"no admin MAC", domain.VF{AdminMAC: make(net.HardwareAddr, 6)}, nil, false},
		{"the PF only mirrors the MAC the VF chose", domain.VF{AdminMAC: random}, nil, false},
		{"admin MAC set since the driver took one", domain.VF{AdminMAC: admin}, random, false},
	} {
		assert.Equal(t, c.want, c.vf.MACLocked(domain.Link{PermMAC: c.perm}), c.name)
	}
}

func TestCheckVFs(t *testing.T) {
	admin1, admin2 := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	links := []domain.Link{{Name: "net1", PermMAC: admin1}, {Name: "net2", PermMAC: admin2}, {Name: "veth0"}}
	vfs := map[string]domain.VF{
		"net1": {PF: "ens1f0", PFPCI: "0000:3b:00.0", Index: 0, PCI: "0000:3b:00.1", AdminMAC: admin1},
		"net2": {PF: "ens1f0", PFPCI: "0000:3b:00.0", Index: 1, PCI: "0000:3b:00.2", AdminMAC: admin2},
	}
	fom := domain.FailOverMacActive
	ab := domain.BondSpec{Links: []string{"net1", "net2", "veth0"}, Options: domain.BondOptions{Mode: domain.ModeActiveBackup, FailOverMac: &fom}}

	chk, err := domain.CheckVFs(ab, links, vfs)
	require.NoError(t, err, "active-backup with failOverMac active keeps the VFs' MACs")
	assert.Equal(t, map[string]string{"net1": "net2", "net2": "net1"}, chk.SharedPF)
	require.Len(t, chk.Warnings, 1)
	assert.Contains(t, chk.Warnings[0], "same PF ens1f0")

	strict := ab
	strict.RequireDistinctPFs = true
	_, err = domain.CheckVFs(strict, links, vfs)
	assert.Equal(t, domain.CodeLinkUnusable, domain.CodeOf(err, 0))
	assert.ErrorContains(t, err, `"requireDistinctPFs" is true`)

	lacp := domain.BondSpec{Links: ab.Links, Options: domain.BondOptions{Mode: domain.Mode8023AD}}
	_, err = domain.CheckVFs(lacp, links, vfs)
	assert.Equal(t, domain.CodeLinkUnusable, domain.CodeOf(err, 0))
	assert.ErrorContains(t, err, `"net1" is SR-IOV VF 0 of PF ens1f0 (0000:3b:00.1) whose MAC 02:00:00:00:00:01 the PF set administratively, with trust off: mode 802.3ad would give it another MAC`)

	_, err = domain.CheckVFs(lacp, links[2:], vfs)
	assert.NoError(t, err, "no VFs, no VF rules")
}
