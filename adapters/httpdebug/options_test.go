package httpdebug

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// TestOptionsJSONShowsEveryOption: every bonding option of the option
// table appears in the API under its config key, as the config writes it
// (its row's Sample is written that way: numbers, enum names), and an
// option not set is left out.
func TestOptionsJSONShowsEveryOption(t *testing.T) {
	rows := slices.Collect(domain.BondOptionRows())
	var o domain.BondOptions
	for _, r := range rows {
		require.NoError(t, r.SetSample(&o))
	}
	m := optionsJSON(o)
	assert.Len(t, m, len(rows))
	for _, r := range rows {
		v, ok := m[r.Key]
		if assert.True(t, ok, "%s missing from the options JSON", r.Key) {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			assert.JSONEq(t, r.Sample(), string(b), r.Key)
		}
	}
	assert.Empty(t, optionsJSON(domain.BondOptions{Mode: domain.ModeActiveBackup}))
}
