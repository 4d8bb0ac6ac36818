package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/integration/kit"
)

// typoLACPConf writes the kernel's spellings of lacpRate and
// xmitHashPolicy, next to the keys calico-ipam reads at the top level,
// with the recording IPAM stub standing in for calico-ipam.
const typoLACPConf = `{"cniVersion":"1.1.0","name":"lacp","type":"bond","mode":"802.3ad","miimon":100,
"lacp_rate":"fast","xmit_hash_policy":"layer3+4",
"linksInContainer":true,"links":[{"name":"s1"},{"name":"s2"}],
"kubernetes":{"kubeconfig":"/etc/cni/net.d/calico-kubeconfig"},"datastore_type":"kubernetes","log_level":"info",
"ipam":{"type":"recording-ipam"}}`

// The real binary on the real kernel: a config with the kernel's spellings
// attaches a bond without those options (as the old plugin did) and says
// so on stderr at the default level; with "unknownKeys": "error" in the
// node settings the same ADD is refused with code 7 before anything
// changes; calico's keys pass either way and reach IPAM unchanged.
func TestLookalikeKeysWarnOrRefuse(t *testing.T) {
	e := newCNI(t)
	dir := t.TempDir()
	pod := vethPod(t)
	// The recording stub needs its directory: the node lets IPAM see it.
	warnNode := writeNodeFile(t, `{"ipamEnv": ["RECORDING_IPAM_DIR"]}`)
	strictNode := writeNodeFile(t, `{"ipamEnv": ["RECORDING_IPAM_DIR"], "unknownKeys": "error"}`)
	env := func(cmd, ctr, node string) map[string]string {
		return map[string]string{"CNI_COMMAND": cmd, "CNI_CONTAINERID": ctr, "CNI_NETNS": pod, "CNI_IFNAME": "bond0",
			"RECORDING_IPAM_DIR": dir, "BOND_STATE_DIR": e.stateDir, "BOND_NODE_CONFIG": node}
	}

	out, stderr, code := e.execBond(env("ADD", "typo1", warnNode), typoLACPConf)
	require.Equal(t, 0, code, "ADD: %s %s", out, stderr)
	t.Logf("FIGURE stderr of ADD with lacp_rate:\n%s", stderr)
	assert.Contains(t, stderr, `level=WARN msg="lacp_rate is not a bond plugin key and is ignored; did you mean lacpRate?"`)
	assert.Contains(t, stderr, `key=lacp_rate didYouMean=lacpRate`)
	assert.Contains(t, stderr, `msg="xmit_hash_policy is not a bond plugin key and is ignored; did you mean xmitHashPolicy?"`)
	for _, k := range []string{"kubernetes", "datastore_type", "log_level"} {
		assert.NotContains(t, stderr, "key="+k, "calico's keys are not warned about")
	}
	rate, err := kit.SysfsBond(pod, "bond0", "lacp_rate")
	require.NoError(t, err)
	assert.Equal(t, "slow 0", rate, "the misspelt option was not applied: that is what the warning is for")

	assertIPAMGot(t, dir, "ADD", "typo1", typoLACPConf, "kubernetes", "datastore_type", "log_level", "lacp_rate")

	// DEL warns too, and succeeds.
	out, stderr, code = e.execBond(env("DEL", "typo1", warnNode), typoLACPConf)
	require.Equal(t, 0, code, "DEL: %s %s", out, stderr)
	assert.Contains(t, stderr, "verb=DEL network=lacp key=lacp_rate")
	assert.True(t, absent(t, pod, "bond0"))

	// The node's switch: code 7 naming the key and the intended one; nothing created.
	out, stderr, code = e.execBond(env("ADD", "typo2", strictNode), typoLACPConf)
	assert.Equal(t, 1, code, "%s", stderr)
	ce := cniError(t, out)
	assert.EqualValues(t, 7, ce.Code)
	assert.Contains(t, ce.Msg, `lacp_rate is not a bond plugin key and is ignored; did you mean lacpRate? (the node settings refuse unknown keys that look like bond keys: "unknownKeys": "error")`)
	assert.Contains(t, ce.Msg, "xmit_hash_policy")
	assert.True(t, absent(t, pod, "bond0"), "nothing was created")
	_, err = os.Stat(filepath.Join(dir, "ADD-typo2.json"))
	assert.True(t, os.IsNotExist(err), "IPAM was not called")

	// Fixed spellings pass the switch, calico's keys included.
	fixed := strings.NewReplacer(`"lacp_rate"`, `"lacpRate"`, `"xmit_hash_policy"`, `"xmitHashPolicy"`).Replace(typoLACPConf)
	out, stderr, code = e.execBond(env("ADD", "typo3", strictNode), fixed)
	require.Equal(t, 0, code, "ADD: %s %s", out, stderr)
	assert.NotContains(t, stderr, "WARN")
	rate, err = kit.SysfsBond(pod, "bond0", "lacp_rate")
	require.NoError(t, err)
	assert.Equal(t, "fast 1", rate)
	out, stderr, code = e.execBond(env("DEL", "typo3", strictNode), fixed)
	require.Equal(t, 0, code, "DEL: %s %s", out, stderr)

	// An unknown logLevel is refused, not ignored.
	out, _, code = e.execBond(env("ADD", "typo4", warnNode), strings.Replace(fixed, `"miimon":100,`, `"miimon":100,"logLevel":"verbose",`, 1))
	assert.Equal(t, 1, code)
	ce = cniError(t, out)
	assert.EqualValues(t, 7, ce.Code)
	assert.Equal(t, `logLevel: "verbose" is not a level; allowed: debug, info, warn, error`, ce.Msg)
}
