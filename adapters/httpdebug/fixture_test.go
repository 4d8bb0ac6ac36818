package httpdebug_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/httpdebug"
	"github.com/bondcni/bond/adapters/httpdebug/readonly"
	"github.com/bondcni/bond/adapters/memory"
	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// fixture is a node on the memory adapter: the plugin's service (writer)
// attached two pods, and the daemon's service (reader, wired read-only as
// cmd/bond-debugd wires it) is served on a loopback httptest server.
type fixture struct {
	t        *testing.T
	k        *memory.Kernel
	store    *memory.Store
	writer   *app.Service
	srv      *httptest.Server
	podA     domain.Netns
	podB     domain.Netns
	a, b     domain.AttachmentID
	handler  http.Handler
	debugSrv *httpdebug.Server
}

const confA = `{"cniVersion":"1.0.0","name":"bond0","type":"bond","mode":"active-backup","miimon":"100","failOverMac":1,
"links":[{"name":"eth1000"},{"name":"eth1001"}],"ipam":{"type":"host-local","subnet":"10.10.20.0/24"},
"kubernetes":{"kubeconfig":"/etc/cni/net.d/calico-kubeconfig"}}`

const confB = `{"cniVersion":"1.0.0","name":"lacp","type":"bond","mode":"802.3ad","miimon":100,"lacpRate":"fast",
"linksInContainer":true,"links":["net1","net2"],"ipam":{"type":"static"}}`

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, k: memory.NewKernel(), store: memory.NewStore()}
	w, err := app.New(app.Deps{
		Links: f.k, Bonds: f.k, Addresses: f.k, Namespaces: f.k, Props: f.k,
		IPAM: memory.NewIPAM("10.10.20.0/24"), Store: f.store, Locks: memory.NewLocks(),
		Clock: memory.NewClock(time.Now().Add(-3*time.Hour), 47*time.Minute),
	})
	require.NoError(t, err)
	f.writer = w

	f.k.AddPhysical(domain.HostNetns, "eth1000", 0, mustMAC("52:54:00:00:10:00"))
	f.k.AddPhysical(domain.HostNetns, "eth1001", 0, mustMAC("52:54:00:00:10:01"))
	f.podA = f.k.AddNetns("/var/run/netns/cni-5f1c0d2e-aaaa")
	f.podB = f.k.AddNetns("/var/run/netns/cni-8b7e6a90-bbbb")
	f.k.AddVirtual(f.podB, "veth", "net1", 9000, nil)
	f.k.AddVirtual(f.podB, "veth", "net2", 9000, nil)
	f.a = f.add(confA, f.podA, "3f9a1c2b7d8e4f60a1b2c3d4e5f60718", "net1", "default/web-0")
	f.b = f.add(confB, f.podB, "8c2d4e6f10a2b3c4d5e6f708192a3b4c", "bond0", "telco/du-0")

	kr := readonly.NewKernel(f.k)
	reader, err := app.New(app.Deps{
		Links: kr, Bonds: kr, Addresses: kr,
		Namespaces: f.k, Props: f.k, IPAM: readonly.IPAM{}, Store: readonly.Store{S: f.store}, Locks: readonly.Locks{},
	})
	require.NoError(t, err)
	f.debugSrv = httpdebug.New(reader, httpdebug.Options{Version: "v0.0.0-test", Commit: "abc1234", NodeName: "worker-3", RequestTimeout: 10 * time.Second})
	f.handler = f.debugSrv.Handler()
	f.srv = httptest.NewServer(f.handler) // 127.0.0.1:<ephemeral>
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) add(conf string, ns domain.Netns, cid, ifname, pod string) domain.AttachmentID {
	f.t.Helper()
	podNS, podName, _ := strings.Cut(pod, "/")
	_, err := f.writer.Add(context.Background(), app.Request{
		Invocation: ports.Invocation{ContainerID: cid, Netns: ns, IfName: ifname,
			Args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + podNS + ";K8S_POD_NAME=" + podName},
		Config: []byte(conf),
	})
	require.NoError(f.t, err)
	return domain.AttachmentID{ContainerID: cid, IfName: ifname}
}

func (f *fixture) del(id domain.AttachmentID, ns domain.Netns, conf string) {
	f.t.Helper()
	require.NoError(f.t, f.writer.Del(context.Background(), app.Request{
		Invocation: ports.Invocation{ContainerID: id.ContainerID, Netns: ns, IfName: id.IfName}, Config: []byte(conf),
	}))
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(method, path string, body io.Reader) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	require.NoError(f.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	r, err := f.srv.Client().Do(req)
	require.NoError(f.t, err)
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	require.NoError(f.t, err)
	return response{status: r.StatusCode, header: r.Header, body: b}
}

func (f *fixture) getJSON(path string, v any) response {
	f.t.Helper()
	r := f.do("GET", path, nil)
	require.Equal(f.t, http.StatusOK, r.status, "%s: %s", path, r.body)
	require.Equal(f.t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	require.NoError(f.t, json.Unmarshal(r.body, v), "%s", r.body)
	return r
}

func (f *fixture) inspect(id domain.AttachmentID) httpdebug.InspectionJSON {
	f.t.Helper()
	var in httpdebug.InspectionJSON
	f.getJSON("/v1/attachments/"+id.ContainerID+"/"+id.IfName, &in)
	return in
}

// errorOf decodes an error answer.
func errorOf(t *testing.T, r response) httpdebug.ErrorJSON {
	t.Helper()
	var e httpdebug.ErrorJSON
	require.NoError(t, json.Unmarshal(r.body, &e), "%s", r.body)
	require.Equal(t, r.status, e.Error.Status)
	require.NotEmpty(t, e.Error.Message)
	return e
}
