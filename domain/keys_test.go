package domain

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyHints(t *testing.T) {
	tests := []struct {
		key  string
		want string // "" = no hint; "-" = unsupported kernel option
	}{
		{"lacp_rate", "lacpRate"},
		{"xmit_hash_policy", "xmitHashPolicy"},
		{"lacp-rate", "lacpRate"},
		{"miimom", "miimon"},
		{"miimmon", "miimon"},
		{"fail_over_mac", "failOverMac"},
		{"arp_ip_target", "arpIpTargets"},
		{"arpIpTarget", "arpIpTargets"},
		{"slaves", "links"},
		{"num_peer_notif", "numGratArp"},
		{"log-level", "logLevel"},
		{"linksInContainers", "linksInContainer"},
		{"cni_version", "cniVersion"},
		{"resend_igmp", "-"},
		{"use_carrier", "-"},
		// What IPAM plugins read at the top level is never hinted.
		{"log_level", ""},
		{"kubernetes", ""},
		{"datastore_type", ""},
		{"etcd_endpoints", ""},
		{"nodename", ""},
		{"policy", ""},
		// Far from every key.
		{"color", ""},
		{"x", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			h, ok := hintFor(tt.key)
			switch tt.want {
			case "":
				assert.False(t, ok, "hint %+v", h)
			case "-":
				require.True(t, ok)
				assert.True(t, h.Unsupported)
				assert.Contains(t, h.String(), "kernel bonding option this plugin does not set")
			default:
				require.True(t, ok)
				assert.Equal(t, tt.want, h.Want)
				assert.Equal(t, tt.key+" is not a bond plugin key and is ignored; did you mean "+tt.want+"?", h.String())
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	assert.Equal(t, 0, editDistance("miimon", "miimon", 3))
	assert.Equal(t, 1, editDistance("miimom", "miimon", 3))
	assert.Equal(t, 1, editDistance("miimmon", "miimon", 3))
	assert.Equal(t, 2, editDistance("mimmon", "miimo", 3))
	assert.Equal(t, 3, editDistance("abc", "xyzuvw", 3), "capped at max")
}

func TestParseConfigKernelSpellingsAreHinted(t *testing.T) {
	c, err := ParseConfig(conf(map[string]any{"mode": "802.3ad", "lacp_rate": "fast", "xmit_hash_policy": "layer3+4", "kubernetes": map[string]any{}, "log_level": "info"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"kubernetes", "lacp_rate", "log_level", "xmit_hash_policy"}, c.UnknownKeys)
	assert.Equal(t, []KeyHint{{Key: "lacp_rate", Want: "lacpRate"}, {Key: "xmit_hash_policy", Want: "xmitHashPolicy"}}, c.KeyHints)
	assert.Nil(t, c.LacpRate, "a misspelt option is not applied")

	spec, err := c.Spec("bond0")
	require.NoError(t, err, "by default a look-alike key is a warning, not an error")
	assert.Nil(t, spec.Options.LacpRate)
}

func TestParseSpecRefusesLookalikeKeysWhenTheNodeSaysSo(t *testing.T) {
	data := conf(map[string]any{"mode": "802.3ad", "lacp_rate": "fast", "kubernetes": map[string]any{"kubeconfig": "/x"}, "datastore_type": "kubernetes"})
	_, _, err := ParseSpec(data, "bond0", SpecOptions{RefuseLookalikeKeys: true})
	require.Error(t, err)
	assert.Equal(t, CodeInvalidConfig, CodeOf(err, 0))
	assert.Equal(t, `lacp_rate is not a bond plugin key and is ignored; did you mean lacpRate? (the node settings refuse unknown keys that look like bond keys: "unknownKeys": "error")`, err.Error())

	// IPAM's own top-level keys pass, switch or not.
	ok := conf(map[string]any{"kubernetes": map[string]any{"kubeconfig": "/x"}, "datastore_type": "kubernetes", "log_level": "debug", "etcd_endpoints": "http://e:2379"})
	c, _, err := ParseSpec(ok, "bond0", SpecOptions{RefuseLookalikeKeys: true})
	require.NoError(t, err)
	assert.Empty(t, c.KeyHints)
	assert.Equal(t, ok, c.Raw, "IPAM gets the config unchanged")
}

// A required key that is missing because it is misspelt says so.
func TestMissingKeyNamesItsTypo(t *testing.T) {
	data := conf(map[string]any{"miimon": nil, "miimmon": 100})
	_, _, err := ParseSpec(data, "bond0", SpecOptions{})
	require.Error(t, err)
	assert.Equal(t, "miimon: missing (the config has miimmon: did you mean miimon?); link monitoring is required: set miimon in ms (e.g. 100) or arpInterval with arpIpTargets", err.Error())

	_, _, err = ParseSpec(conf(map[string]any{"links": nil, "slaves": []string{"a", "b"}}), "bond0", SpecOptions{})
	assert.ErrorContains(t, err, "links: missing (the config has slaves: did you mean links?)")
}

func TestLogLevel(t *testing.T) {
	for _, l := range []string{"debug", "info", "warn", "warning", "error", "DEBUG", ""} {
		c, err := ParseConfig(conf(map[string]any{"logLevel": l}))
		require.NoError(t, err)
		_, err = c.Spec("bond0")
		assert.NoError(t, err, l)
	}
	c, err := ParseConfig(conf(map[string]any{"logLevel": "verbose", "logFile": "b.log"}))
	require.NoError(t, err)
	assert.Empty(t, c.UnknownKeys, "logLevel and logFile are the plugin's keys")
	assert.Equal(t, "b.log", c.LogFile)
	_, err = c.Spec("bond0")
	require.Error(t, err)
	assert.Equal(t, `logLevel: "verbose" is not a level; allowed: debug, info, warn, error`, err.Error())

	_, err = ParseConfig(conf(map[string]any{"logLevel": 3}))
	assert.EqualError(t, err, "logLevel: got number 3, want a string")
}

func TestParseSpecReportsEveryProblemAtOnce(t *testing.T) {
	// Five mistakes: three type/range errors, a cross-key one and a bad log level.
	data := conf(map[string]any{
		"mode": "active-backup", "miimon": -1, "updelay": "soon", "mtu": 10,
		"primary": "net9", "logLevel": "verbose", "arpIpTargets": []string{"10.0.0.1"},
	})
	_, _, err := ParseSpec(data, "bond0", SpecOptions{})
	require.Error(t, err)
	var de *Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, CodeInvalidConfig, de.Code)
	msg := err.Error()
	for _, want := range []string{"miimon: got number -1", "updelay: got string \"soon\"", "mtu: got number 10",
		`primary: "net9" is not one of the links`, `logLevel: "verbose"`, "arpIpTargets:"} {
		assert.Contains(t, msg, want)
	}
	assert.Len(t, de.Problems, 6, "%q", de.Problems)
	// A key that failed to decode is not guessed about by the rules that use it:
	// no "miimon: missing" and no "updelay needs miimon".
	assert.NotContains(t, msg, "miimon: missing")
	assert.NotContains(t, msg, "needs miimon")

	// ParseConfig alone reports every decoding problem too.
	_, err = ParseConfig(data)
	require.ErrorAs(t, err, &de)
	assert.Len(t, de.Problems, 3, "%q", de.Problems)
}

// A kernel option the table gained must leave the unsupported list, or its
// kernel spelling would be hinted as unsupported.
func TestUnsupportedKernelOptionsAreNotInTheTable(t *testing.T) {
	for _, r := range rules() {
		for _, u := range unsupportedKernelOptions {
			assert.NotEqual(t, normKey(u), normKey(r.Kernel), "%s is in the option table (%s)", u, r.Key)
			assert.NotEqual(t, normKey(u), normKey(r.Key), "%s is in the option table (%s)", u, r.Key)
		}
	}
}
