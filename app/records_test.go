package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

// A record this version cannot read makes DEL fail with code 5 naming the
// record, never succeed with nothing returned; GC leaves it alone, and the
// debug view lists it.
func TestUnreadableRecordFailsDelAndSurvivesGC(t *testing.T) {
	ctx := context.Background()
	for name, body := range map[string]string{
		"truncated":          `{"version":1,"id":{"containerID":"c1","ifname":"net1"},"links":[{"na`,
		"links as an object": `{"id":{"containerID":"c1","ifname":"net1"},"network":"bond0","links":{"name":"eth1000"}}`,
		"newer format":       `{"version":99,"id":{"containerID":"c1","ifname":"net1"},"network":"bond0"}`,
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			id := domain.AttachmentID{ContainerID: "c1", IfName: "net1"}
			w.store.PutRaw(id, []byte(body))

			err := w.svc.Del(ctx, w.req(hostBondConf, "c1"))
			require.Error(t, err)
			assert.Equal(t, domain.CodeIOFailure, domain.CodeOf(err, 0), err.Error())
			assert.Contains(t, err.Error(), "c1_net1.json")
			assert.Equal(t, 1, w.store.Len(), "the record stays")

			gc := strings.Replace(hostBondConf, `"name":"bond0"`, `"name":"bond0","cni.dev/valid-attachments":[]`, 1)
			require.NoError(t, w.svc.GC(ctx, app.Request{Config: []byte(gc)}))
			assert.Equal(t, 1, w.store.Len(), "GC leaves what it cannot read")

			bad, err := w.svc.UnreadableRecords(ctx)
			require.NoError(t, err)
			require.Len(t, bad, 1)
			assert.Equal(t, "c1_net1.json", bad[0].File)
			assert.Contains(t, bad[0].Err, domain.ErrUnreadable.Error())
		})
	}
}

// Network names are not unique across namespaces: GC of one "bond0" must
// not DEL the attachments of another tenant's "bond0" with another config.
func TestGCOnlyCleansItsOwnNetwork(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.k.AddVirtual(w.pod, "veth", "v1", 1500, nil)
	w.k.AddVirtual(w.pod, "veth", "v2", 1500, nil)
	other := `{"cniVersion":"1.1.0","name":"bond0","type":"bond","mode":"balance-rr","miimon":100,"linksInContainer":true,"links":["v1","v2"]}`
	b := w.req(other, "tenant-b")
	b.IfName = "net2"
	_, err := w.svc.Add(ctx, b)
	require.NoError(t, err)
	_, err = w.svc.Add(ctx, w.req(hostBondConf, "tenant-a"))
	require.NoError(t, err)
	require.Equal(t, 2, w.store.Len())

	// The GC of tenant A's network, in the spec version GC is sent in, with
	// a different key order: only tenant A's stale attachment goes.
	gc := `{"type":"bond","name":"bond0","cniVersion":"1.1.0","mode":"active-backup","miimon":"100","failOverMac":1,
"links":[{"name":"eth1000"},{"name":"eth1001"}],"ipam":{"type":"host-local"},"kubernetes":{"kubeconfig":"/x"},
"datastore_type":"kubernetes","cni.dev/valid-attachments":[]}`
	require.NoError(t, w.svc.GC(ctx, app.Request{Config: []byte(gc)}))
	recs, err := w.store.List(ctx)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "tenant-b", recs[0].ID.ContainerID, "the other network's attachment is left alone")
}
