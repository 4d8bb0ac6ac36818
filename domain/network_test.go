package domain_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

func TestNetworkIdentity(t *testing.T) {
	add := `{"cniVersion":"1.0.0","name":"bond0","mode":"802.3ad","miimon":100,"ipam":{"type":"static","addresses":[{"address":"10.0.0.1/24"}]},"runtimeConfig":{"mac":"02:00:00:00:00:01"}}`
	gc := `{ "name":"bond0", "ipam":{"addresses":[{"address":"10.0.0.1/24"}],"type":"static"}, "miimon":100, "mode":"802.3ad",
		"cniVersion":"1.1.0", "cni.dev/valid-attachments":[], "cni.dev/attachments":[] }`
	a, err := domain.NetworkIdentity([]byte(add))
	require.NoError(t, err)
	g, err := domain.NetworkIdentity([]byte(gc))
	require.NoError(t, err)
	assert.Equal(t, a, g, "per-call keys, key order and spacing do not change the network")

	other, err := domain.NetworkIdentity([]byte(`{"name":"bond0","mode":"802.3ad","miimon":200}`))
	require.NoError(t, err)
	assert.NotEqual(t, a, other)
	_, err = domain.NetworkIdentity(nil)
	assert.Error(t, err)
	_, err = domain.NetworkIdentity([]byte(`null`))
	assert.Error(t, err)
}
