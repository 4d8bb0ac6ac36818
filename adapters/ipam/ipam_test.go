package ipam_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/ipam"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// plugin writes an executable shell script named name into dir.
func plugin(t *testing.T, dir, name, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
}

func inv(dir string) ports.Invocation {
	return ports.Invocation{ContainerID: "c1", Netns: "/run/netns/p", IfName: "net1", Args: "K8S_POD_NAME=p", Path: dir}
}

const conf = `{"cniVersion":"1.0.0","name":"b","type":"bond","ipam":{"type":"x"}}`

// The IPAM plugin gets the call's CNI variables and PATH, plus what the
// node admin lists, and nothing else of the plugin's environment.
func TestIPAMGetsAMinimalEnvironment(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env.txt")
	plugin(t, dir, "envdump", "env > "+out+"\necho '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.2/24\"}]}'")
	t.Setenv("BOND_SECRET_TOKEN", "s3cret")
	t.Setenv("KUBECONFIG", "/etc/k")
	d := ipam.New(nil)
	d.PassEnv = []string{"KUBECONFIG"}
	res, err := d.Add(context.Background(), "envdump", []byte(conf), inv(dir))
	require.NoError(t, err)
	require.Len(t, res.IPs, 1)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	delete(env, "PWD") // set by the shell itself
	delete(env, "SHLVL")
	delete(env, "_")
	assert.Equal(t, map[string]string{
		"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/p", "CNI_IFNAME": "net1",
		"CNI_ARGS": "K8S_POD_NAME=p", "CNI_PATH": dir, "PATH": os.Getenv("PATH"), "KUBECONFIG": "/etc/k",
	}, env)
}

func TestEnvironmentDefaultsPATH(t *testing.T) {
	got := ipam.Environment([]string{"HOME=/root", "CNI_COMMAND=DEL", "AWS_SECRET=x"}, nil)
	assert.Equal(t, []string{"CNI_COMMAND=DEL", "PATH=" + ipam.DefaultPATH}, got)
}

// An IPAM failure keeps its code, message and details; one without output
// is code 106, never 0.
func TestIPAMFailuresKeepTheirCode(t *testing.T) {
	dir := t.TempDir()
	plugin(t, dir, "silent", "exit 1")
	plugin(t, dir, "full", `echo '{"cniVersion":"1.0.0","code":11,"msg":"no addresses left","details":"pool blue"}'; exit 1`)
	ctx := context.Background()

	_, err := ipam.New(nil).Add(ctx, "silent", []byte(conf), inv(dir))
	require.Error(t, err)
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, domain.CodeIPAMFailed, de.Code)
	assert.Contains(t, de.Msg, `IPAM plugin "silent" ADD failed`)
	assert.Contains(t, de.Details, "IPAM plugin error code 0")

	err = ipam.New(nil).Del(ctx, "full", []byte(conf), inv(dir))
	require.ErrorAs(t, err, &de)
	assert.Equal(t, domain.CodeTryAgainLater, de.Code, "the IPAM plugin's own code")
	assert.Equal(t, `IPAM plugin "full" DEL failed: no addresses left`, de.Msg)
	assert.Equal(t, "IPAM plugin error code 11: pool blue", de.Details)
}
