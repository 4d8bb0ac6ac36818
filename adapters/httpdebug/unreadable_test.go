package httpdebug_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/httpdebug"
	"github.com/bondcni/bond/domain"
)

// A record the plugin cannot read is listed as unreadable and counted in a
// metric: its NICs are stranded until the node admin acts, so it must show.
func TestUnreadableRecordIsListedAndCounted(t *testing.T) {
	f := newFixture(t)
	var l httpdebug.ListJSON
	f.getJSON("/v1/attachments", &l)
	assert.Empty(t, l.Unreadable)
	got, ok := value(scrape(t, f), "bondcni_records_unreadable", nil)
	require.True(t, ok)
	assert.Equal(t, 0.0, got)

	f.store.PutRaw(domain.AttachmentID{ContainerID: "broken", IfName: "net1"}, []byte(`{"id":{"containerID":"broken","ifname":"net1"},"links":{}}`))
	l = httpdebug.ListJSON{}
	f.getJSON("/v1/attachments", &l)
	assert.Equal(t, 2, l.Count, "the readable ones are still listed")
	require.Len(t, l.Unreadable, 1)
	assert.Equal(t, "broken_net1.json", l.Unreadable[0].File)
	assert.Contains(t, l.Unreadable[0].Error, "unreadable")
	got, ok = value(scrape(t, f), "bondcni_records_unreadable", nil)
	require.True(t, ok)
	assert.Equal(t, 1.0, got)
}
