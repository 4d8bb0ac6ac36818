package httpdebug_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/httpdebug"
	"github.com/bondcni/bond/domain"
)

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	var h map[string]string
	f.getJSON("/healthz", &h)
	assert.Equal(t, map[string]string{"status": "ok", "version": "v0.0.0-test", "commit": "abc1234", "node": "worker-3"}, h)
	assert.Equal(t, http.StatusOK, f.do("HEAD", "/healthz", nil).status)

	r := f.do("POST", "/healthz", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Equal(t, "GET, HEAD", r.header.Get("Allow"))
	errorOf(t, r)
}

// GET /v1/bonds answers every bond live in one request: the same
// inspections as one GET per attachment.
func TestBondsInOneRequest(t *testing.T) {
	f := newFixture(t)
	f.k.SetCounters(f.podB, "net1", domain.LinkCounters{RxPackets: 10, TxPackets: 20, RxBytes: 1000, TxBytes: 2000, RxErrors: 1, TxDropped: 2})
	var n httpdebug.NodeJSON
	f.getJSON("/v1/bonds", &n)
	assert.Equal(t, "worker-3", n.Node)
	assert.Equal(t, "v0.0.0-test", n.Version)
	assert.Equal(t, "abc1234", n.Commit)
	require.Equal(t, 2, n.Count)
	require.Len(t, n.Bonds, 2)
	for i, id := range []domain.AttachmentID{f.a, f.b} {
		one := f.inspect(id)
		got := n.Bonds[i]
		assert.Equal(t, one.Attachment, got.Attachment)
		assert.Equal(t, one.Slaves, got.Slaves)
		assert.Equal(t, one.AsConfigured, got.AsConfigured)
	}
	b := n.Bonds[1]
	require.Len(t, b.Slaves, 2)
	s := b.Slaves[0]
	require.NotNil(t, s.LACP, "802.3ad slaves carry their port state")
	assert.Equal(t, []string{"activity", "timeout", "aggregation", "defaulted"}, s.LACP.ActorStateFlags, "lacpRate fast, no partner")
	assert.EqualValues(t, 0x47, s.LACP.ActorState)
	assert.Equal(t, []string{}, s.LACP.PartnerStateFlags)
	assert.Equal(t, &httpdebug.CountersJSON{RxPackets: 10, TxPackets: 20, RxBytes: 1000, TxBytes: 2000, RxErrors: 1, TxDropped: 2}, s.Counters)
	assert.Nil(t, n.Bonds[0].Slaves[0].LACP, "no LACP state outside 802.3ad")
}

func TestListAttachments(t *testing.T) {
	f := newFixture(t)
	var l httpdebug.ListJSON
	f.getJSON("/v1/attachments", &l)
	require.Equal(t, 2, l.Count)
	require.Len(t, l.Attachments, 2)
	a, b := l.Attachments[0], l.Attachments[1]

	assert.Equal(t, f.a.ContainerID, a.ContainerID)
	assert.Equal(t, "net1", a.IfName)
	assert.Equal(t, string(f.podA), a.Netns)
	assert.Equal(t, "bond0", a.Network)
	assert.Equal(t, "ready", a.Phase)
	assert.Equal(t, "active-backup", a.Mode)
	assert.Equal(t, "default", a.PodNamespace)
	assert.Equal(t, "web-0", a.PodName)
	assert.False(t, a.LinksInContainer)
	require.Len(t, a.Links, 2)
	assert.Equal(t, httpdebug.LinkJSON{Name: "eth1000", Index: a.Links[0].Index, MTU: 1500, MAC: "52:54:00:00:10:00"}, a.Links[0])
	assert.Equal(t, []string{"10.10.20.2/24"}, a.IPs)
	assert.False(t, a.CreatedAt.IsZero())
	assert.Equal(t, "/v1/attachments/"+f.a.ContainerID+"/net1", a.URL)

	assert.Equal(t, "telco", b.PodNamespace)
	assert.Equal(t, "du-0", b.PodName)
	assert.True(t, b.LinksInContainer)
	assert.Equal(t, "802.3ad", b.Mode)
	assert.Equal(t, 9000, b.BondMTU)
	assert.True(t, b.CreatedAt.After(a.CreatedAt), "oldest first")

	r := f.do("DELETE", "/v1/attachments", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Contains(t, errorOf(t, r).Error.Message, "read-only")
}

func TestInspectAttachment(t *testing.T) {
	f := newFixture(t)
	in := f.inspect(f.a)
	assert.Equal(t, f.a.ContainerID, in.Attachment.ContainerID)
	assert.Equal(t, httpdebug.NetnsJSON{Path: string(f.podA), Status: "present"}, in.Netns)
	require.NotNil(t, in.Bond, in.BondError)
	assert.Equal(t, "net1", in.Bond.Name)
	assert.Equal(t, "active-backup", in.Bond.Mode)
	assert.EqualValues(t, 100, in.Bond.Options["miimon"])
	assert.Equal(t, "active", in.Bond.Options["failOverMac"])
	assert.Equal(t, 1500, in.Bond.MTU)
	assert.Equal(t, "52:54:00:00:10:00", in.Bond.MAC, "fail_over_mac active: the active slave's MAC")
	assert.True(t, in.Bond.Up)
	assert.True(t, in.Bond.Carrier)
	assert.Equal(t, "eth1000", in.Bond.ActiveSlave)
	assert.Equal(t, []string{"10.10.20.2/24"}, in.Bond.Addresses)
	assert.Nil(t, in.Bond.AD)
	require.Len(t, in.Slaves, 2)
	s0, s1 := in.Slaves[0], in.Slaves[1]
	assert.Equal(t, "eth1000", s0.Name)
	assert.Equal(t, "up", s0.MIIStatus)
	assert.True(t, s0.Up)
	assert.True(t, s0.Active)
	assert.True(t, s0.CurrentActive)
	assert.False(t, s1.CurrentActive)
	assert.Equal(t, 10000, s0.SpeedMbps)
	assert.Equal(t, "full", s0.Duplex)
	assert.Equal(t, "52:54:00:00:10:01", s1.PermMAC)
	require.NotNil(t, in.Spec)
	assert.Equal(t, []string{"eth1000", "eth1001"}, in.Spec.Links)
	assert.True(t, in.AsConfigured)
	assert.Empty(t, in.Drift)

	inB := f.inspect(f.b)
	require.NotNil(t, inB.Bond)
	assert.Equal(t, "802.3ad", inB.Bond.Mode)
	assert.Equal(t, "fast", inB.Bond.Options["lacpRate"])
	assert.Equal(t, 9000, inB.Bond.MTU)
	require.NotNil(t, inB.Bond.AD)
	assert.EqualValues(t, 2, inB.Bond.AD.NumPorts)
	assert.False(t, inB.Bond.AD.PartnerPresent, "the memory kernel has no LACP partner")
	for _, s := range inB.Slaves {
		assert.Equal(t, inB.Bond.AD.AggregatorID, s.AggregatorID, s.Name)
		assert.True(t, s.Active)
		assert.False(t, s.CurrentActive, "802.3ad has no single active slave")
	}
}

func TestInspectShowsSlaveDownAndDrift(t *testing.T) {
	f := newFixture(t)
	f.k.SetCarrier(f.podA, "eth1001", false)
	in := f.inspect(f.a)
	require.Len(t, in.Slaves, 2)
	assert.Equal(t, "down", in.Slaves[1].MIIStatus)
	assert.False(t, in.Slaves[1].Up)
	assert.False(t, in.Slaves[1].Carrier)
	assert.True(t, in.AsConfigured, "a slave down is not drift")

	l, ok := f.k.Peek(f.podA, "eth1001")
	require.True(t, ok)
	require.NoError(t, f.k.Release(t.Context(), f.podA, l.Index))
	in = f.inspect(f.a)
	assert.False(t, in.AsConfigured)
	require.Len(t, in.Drift, 1)
	assert.Equal(t, "slaves: want [eth1000 eth1001], kernel has [eth1000]", in.Drift[0])
}

func TestInspectNetnsGone(t *testing.T) {
	f := newFixture(t)
	f.k.DestroyNetns(f.podA)
	in := f.inspect(f.a)
	assert.Equal(t, "gone", in.Netns.Status)
	assert.NotEmpty(t, in.Netns.Error)
	assert.Nil(t, in.Bond)
	assert.Contains(t, in.BondError, "is gone")
	assert.False(t, in.AsConfigured)
	require.Len(t, in.Stranded, 2)
	assert.Equal(t, httpdebug.StrandedJSON{Recorded: "eth1000", Name: "eth1000", Index: in.Stranded[0].Index}, in.Stranded[0])

	// DEL finishes it; the API no longer lists it.
	f.del(f.a, f.podA, confA)
	r := f.do("GET", "/v1/attachments/"+f.a.ContainerID+"/net1", nil)
	assert.Equal(t, http.StatusNotFound, r.status)
}

func TestInspectNotFoundAndBadRequests(t *testing.T) {
	f := newFixture(t)
	for path, status := range map[string]int{
		"/v1/attachments/nope/net1":                 http.StatusNotFound,
		"/v1/attachments/" + f.a.ContainerID + "/x": http.StatusNotFound,
		"/v1/attachments/" + f.a.ContainerID:        http.StatusNotFound,
		"/v1/attachments/a/b/c":                     http.StatusNotFound,
		"/v2/anything":                              http.StatusNotFound,
		"/index.html":                               http.StatusNotFound,
	} {
		r := f.do("GET", path, nil)
		assert.Equal(t, status, r.status, path)
		errorOf(t, r)
	}
	r := f.do("GET", "/v1/attachments/nope/net1", nil)
	assert.Contains(t, errorOf(t, r).Error.Message, `no attachment recorded for container "nope", interface "net1"`)

	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		r := f.do(m, "/v1/attachments/"+f.a.ContainerID+"/net1", nil)
		assert.Equal(t, http.StatusMethodNotAllowed, r.status, m)
		assert.Equal(t, "GET, HEAD", r.header.Get("Allow"))
	}
	r = f.do("POST", "/", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
}

func postValidate(f *fixture, query string, body []byte) (response, httpdebug.ValidationJSON) {
	f.t.Helper()
	r := f.do("POST", "/v1/validate"+query, bytes.NewReader(body))
	var v httpdebug.ValidationJSON
	if r.status == http.StatusOK || r.status == http.StatusBadRequest {
		require.NoError(f.t, json.Unmarshal(r.body, &v), "%s", r.body)
	}
	return r, v
}

func TestValidate(t *testing.T) {
	f := newFixture(t)
	f.k.AddPhysical(domain.HostNetns, "eth2", 9000, nil)
	f.k.AddPhysical(domain.HostNetns, "eth3", 9000, nil)
	before, ops := f.k.Snapshot(), f.k.Ops()
	conf := `{"cniVersion":"1.0.0","name":"b","type":"bond","mode":"balance-xor","miimon":100,"xmitHashPolicy":"layer3+4",
"links":["eth2","eth3"],"ipam":{"type":"host-local"},"kubernetes":{}}`
	r, v := postValidate(f, "?ifname=net5", []byte(conf))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.True(t, v.Valid)
	assert.Nil(t, v.Error)
	assert.Equal(t, []string{"eth2", "eth3"}, v.Observed)
	assert.Empty(t, v.Placeholders)
	assert.Equal(t, []string{"kubernetes"}, v.UnknownKeys)
	require.NotNil(t, v.Plan)
	assert.Equal(t, "net5", v.Plan.Spec.Name)
	assert.Equal(t, 9000, v.Plan.Spec.MTU)
	assert.Equal(t, "layer3+4", v.Plan.Spec.Options["xmitHashPolicy"])
	var steps []string
	for _, s := range v.Plan.Steps {
		steps = append(steps, s.Text)
	}
	assert.Equal(t, []string{"record", "ipam-add", "move-to-pod eth2", "move-to-pod eth3", "create-bond", "enslave eth2", "enslave eth3",
		"bond-up", "configure-ip", "mark-ready"}, steps)
	assert.True(t, v.Plan.Steps[1].Beside, "IPAM ADD runs beside the kernel steps")
	assert.Len(t, v.Plan.Original, 2)

	// Links held by pod A: ADD would fail with code 101 for each, naming the holder.
	r, v = postValidate(f, "?ifname=net1", []byte(confA))
	require.Equal(t, http.StatusOK, r.status)
	assert.False(t, v.Valid)
	require.NotNil(t, v.Error)
	assert.EqualValues(t, domain.CodeLinkBusy, v.Error.Code)
	require.Len(t, v.Errors, 2)
	assert.Contains(t, v.Errors[1].Msg, `"eth1001" is not in the host netns: it is held by container `+f.a.ContainerID+" (pod default/web-0)")

	// ifname from the config when the query has none.
	r, v = postValidate(f, "", []byte(strings.Replace(conf, `"name":"b"`, `"name":"b","ifname":"bondx"`, 1)))
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "bondx", v.Spec.Name)

	assert.True(t, before.Equal(f.k.Snapshot()), "validating changes nothing")
	assert.Equal(t, ops, f.k.Ops(), "no mutating call was even attempted")
}

func TestValidateRefusals(t *testing.T) {
	f := newFixture(t)
	// An invalid config is a result (200, valid false, the CNI code).
	r, v := postValidate(f, "?ifname=net1", []byte(`{"name":"x","type":"bond","mode":"active-backup","miimon":100,"updelay":150,"links":["a","b"]}`))
	require.Equal(t, http.StatusOK, r.status)
	assert.False(t, v.Valid)
	require.NotNil(t, v.Error)
	assert.EqualValues(t, domain.CodeInvalidConfig, v.Error.Code)
	assert.Contains(t, v.Error.Msg, "updelay")
	assert.Nil(t, v.Plan)

	// Every problem at once, each with its code; look-alike keys hinted.
	r, v = postValidate(f, "?ifname=net1", []byte(`{"name":"x","type":"bond","mode":"802.3ad","miimon":"often","mtu":5,"logLevel":"loud","links":["a","b"],"lacp_rate":"fast","xmit_hash_policy":"layer3+4"}`))
	require.Equal(t, http.StatusOK, r.status)
	assert.False(t, v.Valid)
	require.Len(t, v.Errors, 3, "%+v", v.Errors)
	for _, e := range v.Errors {
		assert.EqualValues(t, domain.CodeInvalidConfig, e.Code)
	}
	assert.Equal(t, []string{"lacp_rate", "xmit_hash_policy"}, v.UnknownKeys)
	assert.Equal(t, []httpdebug.KeyHintJSON{
		{Key: "lacp_rate", DidYouMean: "lacpRate", Text: "lacp_rate is not a bond plugin key and is ignored; did you mean lacpRate?"},
		{Key: "xmit_hash_policy", DidYouMean: "xmitHashPolicy", Text: "xmit_hash_policy is not a bond plugin key and is ignored; did you mean xmitHashPolicy?"},
	}, v.KeyHints)

	// Not JSON / not an object: 400, with the code ADD would answer.
	for _, body := range []string{`{"name":`, `not json`, `[1]`, ``} {
		r, v := postValidate(f, "?ifname=net1", []byte(body))
		assert.Equal(t, http.StatusBadRequest, r.status, body)
		assert.False(t, v.Valid)
		require.NotNil(t, v.Error, body)
		assert.EqualValues(t, domain.CodeDecode, v.Error.Code, body)
	}

	// Over 1 MiB: 413 before anything is parsed.
	big := append([]byte(`{"name":"x","pad":"`), bytes.Repeat([]byte("a"), httpdebug.MaxBodyBytes)...)
	r = f.do("POST", "/v1/validate?ifname=net1", bytes.NewReader(append(big, '"', '}')))
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	assert.Contains(t, errorOf(t, r).Error.Message, "over 1048576 bytes")

	// Wrong method.
	r = f.do("GET", "/v1/validate", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Equal(t, "POST", r.header.Get("Allow"))
}

func TestPageIsSelfContained(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	assert.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'none'")
	assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
	page := string(r.body)
	assert.Contains(t, page, "bond-debugd")
	assert.Contains(t, page, "v0.0.0-test (abc1234)")
	assert.Contains(t, page, `data-refresh-ms="5000"`)
	for _, external := range []string{"<link", "src=", "@import", "url(", "https://"} {
		assert.NotContains(t, page, external, "the page loads nothing from elsewhere")
	}
	assert.Equal(t, 1, strings.Count(page, "http://"), "only the SVG namespace URI")
}

// TestConcurrentRequestsWhileThePluginWorks hits every endpoint from many
// goroutines while the plugin adds and deletes attachments (run with -race).
func TestConcurrentRequestsWhileThePluginWorks(t *testing.T) {
	f := newFixture(t)
	paths := []string{"/", "/healthz", "/v1/attachments", "/metrics",
		"/v1/attachments/" + f.a.ContainerID + "/net1", "/v1/attachments/" + f.b.ContainerID + "/bond0"}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				p := paths[(g+i)%len(paths)]
				resp, err := f.srv.Client().Get(f.srv.URL + p)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("%s: %d", p, resp.StatusCode)
				}
				body := bytes.NewReader([]byte(confB))
				resp, err = f.srv.Client().Post(f.srv.URL+"/v1/validate?ifname=b9", "application/json", body)
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	// Meanwhile the plugin attaches and detaches a third pod.
	for i := 0; i < 10; i++ {
		ns := f.k.AddNetns(fmt.Sprintf("/var/run/netns/cni-c%d", i))
		f.k.AddVirtual(ns, "veth", "net1", 0, nil)
		f.k.AddVirtual(ns, "veth", "net2", 0, nil)
		id := f.add(confB, ns, fmt.Sprintf("ctr-c%d", i), "bond0", "default/c")
		f.del(id, ns, confB)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
