package wiring

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNodePolicy(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == UnknownKeysEnv {
				return v
			}
			return ""
		}
	}
	for v, want := range map[string]bool{"": false, "warn": false, "error": true} {
		p := nodePolicy(env(v))
		require.NoError(t, p.Err)
		assert.Equal(t, want, p.RefuseLookalikeKeys, v)
	}
	assert.EqualError(t, nodePolicy(env("strict")).Err, `node setting BOND_UNKNOWN_KEYS="strict": want warn or error`)
}
