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
