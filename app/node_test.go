package app_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// The node admin's allowlist decides which host NICs a network config may
// take; a refusal changes nothing and says who decides.
func TestHostLinkAllowlist(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		node    domain.NodePolicy
		wantErr string
	}{
		{"no node file: any host link", domain.NodePolicy{}, ""},
		{"globs allow both", domain.NodePolicy{RestrictHostLinks: true, HostLinks: []string{"eth10*"}}, ""},
		{"names allow both", domain.NodePolicy{RestrictHostLinks: true, HostLinks: []string{"eth1001", "eth1000"}}, ""},
		{"one not listed", domain.NodePolicy{Source: "/n.json", RestrictHostLinks: true, HostLinks: []string{"eth1000"}},
			`links: host link "eth1001" is not one the node admin lets pods take; allowed: "eth1000" (set by "hostLinks" in /n.json)`},
		{"file lists none", domain.NodePolicy{Source: "/n.json", RestrictHostLinks: true},
			`links: host link "eth1000", "eth1001" is not one the node admin lets pods take; allowed: none`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.node = c.node
			w.svc = w.service(nil)
			before := w.state()
			_, err := w.svc.Add(ctx, w.req(hostBondConf, "c1"))
			if c.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, domain.CodeInvalidConfig, domain.CodeOf(err, 0))
			assert.Contains(t, err.Error(), c.wantErr)
			assert.Equal(t, before, w.state(), "nothing changed, no lock taken")
		})
	}
}

// In-pod links (SR-IOV VFs a device plugin gave the pod) are the pod's own:
// the host-link allowlist does not apply to them.
func TestAllowlistDoesNotApplyToLinksInContainer(t *testing.T) {
	w := newWorld(t)
	w.node = domain.NodePolicy{RestrictHostLinks: true}
	w.svc = w.service(nil)
	ctx := context.Background()
	w.k.AddVirtual(w.pod, "veth", "net2", 1500, net.HardwareAddr{2, 0, 0, 0, 0, 2})
	w.k.AddVirtual(w.pod, "veth", "net3", 1500, net.HardwareAddr{2, 0, 0, 0, 0, 3})
	conf := strings.NewReplacer(`"eth1000"`, `"net2"`, `"eth1001"`, `"net3"`, `"failOverMac":1,`, `"failOverMac":1,"linksInContainer":true,`).Replace(hostBondConf)
	_, err := w.svc.Add(ctx, w.req(conf, "c1"))
	require.NoError(t, err)
}
