package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// calicoKeys are what calico-ipam reads at the top level of the config.
const calicoKeys = `"kubernetes":{"kubeconfig":"/etc/cni/net.d/calico-kubeconfig"},"datastore_type":"kubernetes",
"log_level":"info","etcd_endpoints":"http://127.0.0.1:2379","nodename":"node-1","policy":{"type":"k8s"}`

const typoConf = `{"cniVersion":"1.1.0","name":"bond0","type":"bond","mode":"active-backup","miimon":"100",
"failOverMac":1,"links":[{"name":"eth1000"},{"name":"eth1001"}],"ipam":{"type":"calico-ipam"},
"fail_over_mac":"active","primary_reselect":"always",` + calicoKeys + `}`

// Every verb warns at the default level (warn) about each look-alike key,
// naming it and the key it probably means; IPAM's own keys are not warned
// about.
func TestLookalikeKeysWarnOnEveryVerb(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	var logs bytes.Buffer
	svc := w.serviceWith(w.ipam, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
	req := w.req(typoConf, "c1")

	_, err := svc.Add(ctx, req)
	require.NoError(t, err, "a look-alike key is a warning by default")
	require.NoError(t, svc.Check(ctx, req))
	require.NoError(t, svc.Status(ctx, req))
	require.NoError(t, svc.Del(ctx, req))
	require.NoError(t, svc.GC(ctx, req))

	for _, verb := range []string{"ADD", "CHECK", "STATUS", "GC", "DEL"} {
		var lines []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "verb="+verb+" ") {
				lines = append(lines, l)
			}
		}
		require.Len(t, lines, 2, "%s: %q", verb, lines)
		assert.Contains(t, lines[0], `level=WARN msg="fail_over_mac is not a bond plugin key and is ignored; did you mean failOverMac?"`)
		assert.Contains(t, lines[0], "key=fail_over_mac didYouMean=failOverMac")
		assert.Contains(t, lines[1], `msg="primary_reselect is not a bond plugin key and is ignored; did you mean primaryReselect?"`)
	}
	for _, k := range []string{"kubernetes", "datastore_type", "log_level", "etcd_endpoints", "nodename", "policy"} {
		assert.NotContains(t, logs.String(), "key="+k, "IPAM's keys are not warned about")
	}
}

// The node's switch refuses look-alike keys on ADD with code 7 before
// anything changes, but never calico's keys, which reach IPAM unchanged.
func TestNodeSwitchRefusesLookalikeKeys(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.node.RefuseLookalikeKeys = true
	svc := w.serviceWith(w.ipam, nil, nil)
	before := w.state()

	_, err := svc.Add(ctx, w.req(typoConf, "c1"))
	require.Error(t, err)
	assert.Equal(t, domain.CodeInvalidConfig, domain.CodeOf(err, 0))
	assert.Contains(t, err.Error(), `fail_over_mac is not a bond plugin key and is ignored; did you mean failOverMac? (the node settings refuse unknown keys that look like bond keys: "unknownKeys": "error")`)
	assert.Contains(t, err.Error(), "primary_reselect")
	assert.Equal(t, before, w.state(), "nothing changed")

	res, err := svc.Validate(ctx, []byte(typoConf), "net1")
	require.NoError(t, err)
	assert.False(t, res.Valid, "validate agrees with ADD")
	assert.Equal(t, domain.CodeInvalidConfig, domain.CodeOf(res.Error, 0))

	clean := strings.Replace(typoConf, `"fail_over_mac":"active","primary_reselect":"always",`, "", 1)
	_, err = svc.Add(ctx, w.req(clean, "c1"))
	require.NoError(t, err, "calico's top-level keys pass the switch")
	assert.Equal(t, clean, string(w.ipam.LastConf()), "IPAM got the config unchanged")

	// DEL never refuses: a node switched to strict keys can still tear
	// down what it built before.
	require.NoError(t, svc.Del(ctx, w.req(typoConf, "c1")))
	assert.Equal(t, before, w.state())
}
