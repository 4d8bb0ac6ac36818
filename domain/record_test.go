package domain

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeRecordSaysWhyItCannot(t *testing.T) {
	good := `{"version":2,"id":{"containerID":"c1","ifname":"net1"}}`
	a, err := DecodeRecord([]byte(good))
	require.NoError(t, err)
	assert.Equal(t, AttachmentID{ContainerID: "c1", IfName: "net1"}, a.ID)
	_, err = DecodeRecord([]byte(`{"id":{"containerID":"c1","ifname":"net1"}}`))
	require.NoError(t, err, "version 0 had no version key")

	for name, c := range map[string]struct{ data, want string }{
		"not JSON":                    {`{"version":`, "not a JSON record"},
		"data after the record":       {good + ` {}`, "not a JSON record"},
		"a later version":             {`{"version":3,"id":{"containerID":"c1","ifname":"net1"}}`, "format version 3; this plugin reads versions 0 to 2"},
		"a later version, new keys":   {`{"version":3,"id":{"containerID":"c1","ifname":"net1"},"shiny":1}`, "format version 3"},
		"a negative version":          {`{"version":-1,"id":{"containerID":"c1","ifname":"net1"}}`, "format version -1"},
		"an unknown key":              {`{"version":2,"id":{"containerID":"c1","ifname":"net1"},"shiny":1}`, `unknown field "shiny"`},
		"a wrong type":                {`{"version":2,"id":{"containerID":7,"ifname":"net1"}}`, "cannot unmarshal number"},
		"a version that is no number": {`{"version":"2","id":{"containerID":"c1","ifname":"net1"}}`, "not a JSON record"},
		"no identity":                 {`{"version":2,"id":{"containerID":"c1"}}`, "no containerID or ifname"},
	} {
		_, err := DecodeRecord([]byte(c.data))
		require.ErrorIs(t, err, ErrUnreadable, name)
		assert.ErrorContains(t, err, c.want, name)
	}
}
