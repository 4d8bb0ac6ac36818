package domain

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryRowIsComplete fails for a row of the option table that lacks a
// part: a Sample that decodes, and for a bonding option its BondOptions
// field, copied into the spec, shown, compared by Drift and (numbers and
// enums) read and written as the kernel's number. The adapters' own
// tests check their part (nlkernel's conversion line, the debug DTO, the
// memory kernel through the contract suite, the README table).
func TestEveryRowIsComplete(t *testing.T) {
	linkAttrs := []string{"", "mode", "slaves", "mtu"} // not bonding options of BondOptions
	for _, r := range rules() {
		t.Run(r.Key, func(t *testing.T) {
			require.NotEmpty(t, r.Sample, "no Sample: every row needs the value the tests set")
			var c Config
			require.NoError(t, r.decode(&c, r.Key, json.RawMessage(r.Sample)), "Sample %s does not decode", r.Sample)
			assert.True(t, r.present(&c), "Sample %s reads as not given", r.Sample)
			if slices.Contains(linkAttrs, r.Kernel) {
				assert.Nil(t, r.bond, "a key without a bonding option has no BondOptions field")
				return
			}
			require.NotNil(t, r.bond, "bonding option %s has no BondOptions field: build its row with the helpers or set bond", r.Kernel)

			// Spec building copies it, and nothing else.
			var o BondOptions
			r.bond.spec(&c, &o)
			b := BondOption{Key: r.Key, Kernel: r.Kernel, r: &r, f: r.bond}
			require.True(t, b.IsSet(&o), "spec building does not copy %s", r.Key)
			assert.NotNil(t, b.Value(&o), "no value to show")
			var other BondOptions
			require.NoError(t, b.SetSample(&other))
			assert.Equal(t, o, other, "SetSample is the config's value")
			for x := range BondOptionRows() {
				if x.Key != r.Key {
					assert.False(t, x.IsSet(&o), "copying %s set %s too", r.Key, x.Key)
				}
			}

			// Drift sees it missing, and agrees with itself.
			assert.Contains(t, b.Drift(&o, &BondOptions{}), r.Key+": want ", "Drift does not compare %s", r.Key)
			assert.Empty(t, b.Drift(&o, &o))
			assert.Empty(t, b.Drift(&BondOptions{}, &o), "an option not asked for is not drift")

			if !b.Numeric() {
				assert.Contains(t, []string{"primary", "arp_ip_target"}, r.Kernel, "only primary and arp_ip_target are not numbers")
				return
			}
			v, ok := b.Uint(&o)
			require.True(t, ok)
			assert.LessOrEqual(t, v, b.Max())
			assert.NotZero(t, b.Max(), "no kernel maximum")
			var back BondOptions
			b.SetUint(&back, v)
			assert.Equal(t, o, back, "SetUint(Uint) is the identity")
		})
	}
}

// TestDriftNamesEveryOption: a bond whose kernel reports nothing drifts on
// every option the spec sets, in table order.
func TestDriftNamesEveryOption(t *testing.T) {
	var want BondOptions
	var keys []string
	for b := range BondOptionRows() {
		require.NoError(t, b.SetSample(&want))
		keys = append(keys, b.Key)
	}
	d := Drift(BondSpec{Name: "bond0", Options: want}, 0, BondState{Link: Link{Kind: "bond"}}, nil, nil)
	require.Len(t, d, len(keys))
	for i, k := range keys {
		assert.Regexp(t, "^"+k+": want ", d[i])
	}
	assert.Equal(t, "miimon: want 50, kernel has nothing", d[0])
	assert.Contains(t, d, `failOverMac: want follow, kernel has nothing`)
}
