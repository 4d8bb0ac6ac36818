package nodefile_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/nodefile"
	"github.com/bondcni/bond/domain"
)

func write(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "node.json")
	require.NoError(t, os.WriteFile(p, []byte(body), mode))
	require.NoError(t, os.Chmod(p, mode))
	return p
}

func TestMissingFileIsDropIn(t *testing.T) {
	n, err := nodefile.Load(filepath.Join(t.TempDir(), "absent.json"))
	require.NoError(t, err)
	assert.False(t, n.Found)
	p := n.Policy()
	assert.True(t, p.AllowsHostLink("eth0"), "no file: any host link, as bond-cni")
	assert.False(t, p.AllowUnsafeHostLinks, "no file: the unsafe-link opt-in is refused")
	assert.Equal(t, nodefile.DefaultLogDir, n.EffectiveLogDir())
}

func TestLoadsEverySetting(t *testing.T) {
	p := write(t, `{"hostLinks":["ens1f*","eth9"],"allowUnsafeHostLinks":true,"logDir":"/var/log/b","logFile":"bond.log",
		"logLevel":"info","stateDir":"/var/lib/b","lockDir":"/run/b","ipamEnv":["KUBECONFIG"],"unknownKeys":"error"}`, 0o644)
	n, err := nodefile.Load(p)
	require.NoError(t, err)
	assert.True(t, n.Found)
	pol := n.Policy()
	assert.Equal(t, p, pol.Source)
	assert.True(t, pol.AllowsHostLink("ens1f0"))
	assert.True(t, pol.AllowsHostLink("eth9"))
	assert.False(t, pol.AllowsHostLink("eth0"))
	assert.True(t, pol.AllowUnsafeHostLinks)
	assert.True(t, pol.RefuseLookalikeKeys, `"unknownKeys": "error"`)
	assert.Equal(t, "/var/log/b", n.EffectiveLogDir())
	assert.Equal(t, nodefile.Settings{HostLinks: &[]string{"ens1f*", "eth9"}, AllowUnsafeHostLinks: true, LogDir: "/var/log/b",
		LogFile: "bond.log", LogLevel: "info", StateDir: "/var/lib/b", LockDir: "/run/b", IPAMEnv: []string{"KUBECONFIG"}, UnknownKeys: "error"}, n.Settings)
}

// A node file that names no host NIC lets pods take none: once the admin
// writes the file, host NICs are theirs to list ("*" for any).
func TestHostLinksNamingNoneAllowsNone(t *testing.T) {
	for _, body := range []string{`{"hostLinks":[]}`, `{}`, `{"logDir":"/var/log/b"}`} {
		n, err := nodefile.Load(write(t, body, 0o600))
		require.NoError(t, err)
		assert.False(t, n.Policy().AllowsHostLink("eth0"), body)
	}
	n, err := nodefile.Load(write(t, `{"hostLinks":["*"]}`, 0o600))
	require.NoError(t, err)
	assert.True(t, n.Policy().AllowsHostLink("eth0"), `"*": any`)
	assert.False(t, n.Policy().RefuseLookalikeKeys, "no unknownKeys key: warn")
	n, err = nodefile.Load(write(t, `{"unknownKeys":"warn"}`, 0o600))
	require.NoError(t, err)
	assert.False(t, n.Policy().RefuseLookalikeKeys)
}

// A bad file never means permissive defaults: the error names the file and
// what is wrong.
func TestMalformedFileFails(t *testing.T) {
	cases := map[string]string{
		"not JSON":          `{"hostLinks":`,
		"unknown key":       `{"hostLinks":["eth0"],"allowUnsafe":true}`,
		"key in wrong case": `{"hostlinks":["eth0"]}`,
		"wrong type":        `{"allowUnsafeHostLinks":"yes"}`,
		"trailing data":     `{} {"allowUnsafeHostLinks":true}`,
		"bad glob":          `{"hostLinks":["eth["]}`,
		"path in glob":      `{"hostLinks":["../eth0"]}`,
		"relative dir":      `{"stateDir":"var/lib/bond"}`,
		"unclean dir":       `{"logDir":"/var/log/../../etc"}`,
		"path as log file":  `{"logFile":"/etc/profile"}`,
		"bad level":         `{"logLevel":"loud"}`,
		"bad env name":      `{"ipamEnv":["A=B"]}`,
		"bad unknownKeys":   `{"unknownKeys":"strict"}`,
		"array":             `["eth0"]`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			p := write(t, body, 0o644)
			_, err := nodefile.Load(p)
			require.Error(t, err)
			var ne *nodefile.Error
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, domain.CodeInvalidConfig, ne.Code())
			assert.Contains(t, err.Error(), "node settings file "+p)
			assert.Contains(t, err.Error(), "node admin must fix it")
		})
	}
}

func TestUntrustedFileFails(t *testing.T) {
	t.Run("group-writable", func(t *testing.T) {
		_, err := nodefile.Load(write(t, `{}`, 0o664))
		require.ErrorContains(t, err, "lets group or others write it")
	})
	t.Run("not root's", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("needs root to chown")
		}
		p := write(t, `{}`, 0o644)
		require.NoError(t, os.Chown(p, 1000, 1000))
		_, err := nodefile.Load(p)
		require.ErrorContains(t, err, "owned by uid 1000")
	})
	t.Run("a directory", func(t *testing.T) {
		_, err := nodefile.Load(t.TempDir())
		require.ErrorContains(t, err, "want a regular file")
	})
	t.Run("a FIFO fails, never waits for a writer", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "node.json")
		require.NoError(t, syscall.Mkfifo(p, 0o600))
		_, err := nodefile.Load(p)
		require.ErrorContains(t, err, "want a regular file")
	})
	t.Run("unreadable is I/O", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "loop")
		require.NoError(t, os.Symlink(p, p))
		_, err := nodefile.Load(p)
		var ne *nodefile.Error
		require.ErrorAs(t, err, &ne)
		assert.Equal(t, domain.CodeIOFailure, ne.Code())
	})
}
