package app_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/adapters/memory"
	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

type queryEnv struct {
	k     *memory.Kernel
	store *memory.Store
	svc   *app.Service
	now   time.Time
}

func newQueryEnv(t *testing.T) *queryEnv {
	t.Helper()
	e := &queryEnv{k: memory.NewKernel(), store: memory.NewStore(), now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	svc, err := app.New(app.Deps{
		Links: e.k, Bonds: e.k, Addresses: e.k, Namespaces: e.k, Props: e.k,
		IPAM: memory.NewIPAM("10.10.20.0/24"), Store: e.store, Locks: memory.NewLocks(),
		Clock: memory.NewClock(e.now, time.Second),
	})
	require.NoError(t, err)
	e.svc = svc
	return e
}

const hostConf = `{"cniVersion":"1.0.0","name":"bond0","type":"bond","mode":"active-backup","miimon":"100","failOverMac":1,
"links":[{"name":"eth1000"},{"name":"eth1001"}],"ipam":{"type":"host-local","subnet":"10.10.20.0/24"}}`

const podConf = `{"cniVersion":"1.0.0","name":"lacp","type":"bond","mode":"802.3ad","miimon":100,"lacpRate":"fast",
"linksInContainer":true,"links":["net1","net2"],"ipam":{"type":"static"}}`

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// add runs the plugin's ADD.
func (e *queryEnv) add(t *testing.T, conf string, ns domain.Netns, cid, ifname, pod string) domain.AttachmentID {
	t.Helper()
	podNS, podName, _ := strings.Cut(pod, "/")
	_, err := e.svc.Add(context.Background(), app.Request{
		Invocation: ports.Invocation{ContainerID: cid, Netns: ns, IfName: ifname,
			Args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + podNS + ";K8S_POD_NAME=" + podName},
		Config: []byte(conf),
	})
	require.NoError(t, err)
	return domain.AttachmentID{ContainerID: cid, IfName: ifname}
}

// twoPods: pod A bonds the host NICs in active-backup, pod B two in-pod
// veths in 802.3ad.
func (e *queryEnv) twoPods(t *testing.T) (a, b domain.AttachmentID, podA, podB domain.Netns) {
	e.k.AddPhysical(domain.HostNetns, "eth1000", 0, mac("52:54:00:00:10:00"))
	e.k.AddPhysical(domain.HostNetns, "eth1001", 0, mac("52:54:00:00:10:01"))
	podA = e.k.AddNetns("/var/run/netns/cni-a")
	podB = e.k.AddNetns("/var/run/netns/cni-b")
	e.k.AddVirtual(podB, "veth", "net1", 0, nil)
	e.k.AddVirtual(podB, "veth", "net2", 0, nil)
	a = e.add(t, hostConf, podA, "ctr-a", "net1", "default/web-0")
	b = e.add(t, podConf, podB, "ctr-b", "bond0", "telco/du-0")
	return a, b, podA, podB
}

func TestListAttachmentsOldestFirst(t *testing.T) {
	e := newQueryEnv(t)
	a, b, _, _ := e.twoPods(t)
	recs, err := e.svc.ListAttachments(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, a, recs[0].ID)
	assert.Equal(t, b, recs[1].ID)
	assert.Equal(t, "web-0", recs[0].PodName)
	assert.Equal(t, "telco", recs[1].PodNamespace)
}

func TestInspectLiveBond(t *testing.T) {
	e := newQueryEnv(t)
	a, b, podA, _ := e.twoPods(t)
	ops := e.k.Ops()

	in, err := e.svc.Inspect(context.Background(), a)
	require.NoError(t, err)
	assert.Equal(t, app.NetnsPresent, in.Netns)
	require.NotNil(t, in.Bond, in.BondError)
	assert.Equal(t, domain.ModeActiveBackup, in.Bond.Options.Mode)
	assert.Equal(t, "net1", in.Bond.Link.Name)
	assert.True(t, in.Bond.Link.Carrier)
	assert.Equal(t, "eth1000", in.Bond.ActiveSlave)
	require.Len(t, in.Slaves, 2)
	for _, s := range in.Slaves {
		assert.Equal(t, "up", s.MIIStatus, s.Link.Name)
		assert.Equal(t, 10000, s.SpeedMbps)
		assert.Equal(t, "full", s.Duplex)
	}
	require.NotNil(t, in.Spec)
	assert.Equal(t, []string{"eth1000", "eth1001"}, in.Spec.Links)
	assert.Empty(t, in.Drift, "as configured")
	assert.Empty(t, in.DriftError)
	require.Len(t, in.Addresses, 1)
	assert.Equal(t, "10.10.20.2/24", in.Addresses[0].Address.String())
	assert.False(t, in.LACPPartner(), "not 802.3ad")

	inB, err := e.svc.Inspect(context.Background(), b)
	require.NoError(t, err)
	require.NotNil(t, inB.Bond)
	assert.Equal(t, domain.Mode8023AD, inB.Bond.Options.Mode)
	require.NotNil(t, inB.Bond.AdInfo)
	assert.EqualValues(t, 2, inB.Bond.AdInfo.NumPorts)
	assert.False(t, inB.LACPPartner(), "the memory kernel has no partner")

	// A slave loses its cable: the bond shows it down.
	e.k.SetCarrier(podA, "eth1001", false)
	in, err = e.svc.Inspect(context.Background(), a)
	require.NoError(t, err)
	for _, s := range in.Slaves {
		want := map[string]string{"eth1000": "up", "eth1001": "down"}[s.Link.Name]
		assert.Equal(t, want, s.MIIStatus, s.Link.Name)
	}
	assert.Equal(t, ops, e.k.Ops(), "Inspect changes nothing")
}

func TestInspectDrift(t *testing.T) {
	e := newQueryEnv(t)
	a, _, podA, _ := e.twoPods(t)
	l, ok := e.k.Peek(podA, "eth1001")
	require.True(t, ok)
	require.NoError(t, e.k.Release(context.Background(), podA, l.Index))
	in, err := e.svc.Inspect(context.Background(), a)
	require.NoError(t, err)
	require.Len(t, in.Drift, 1)
	assert.Contains(t, in.Drift[0], "slaves: want [eth1000 eth1001], kernel has [eth1000]")
}

func TestInspectNetnsGone(t *testing.T) {
	e := newQueryEnv(t)
	a, _, podA, _ := e.twoPods(t)
	e.k.DestroyNetns(podA)
	in, err := e.svc.Inspect(context.Background(), a)
	require.NoError(t, err)
	assert.Equal(t, app.NetnsGone, in.Netns)
	assert.Nil(t, in.Bond)
	assert.Contains(t, in.BondError, "gone")
	require.Len(t, in.Stranded, 2, "both NICs are back on the host")
	assert.Equal(t, "eth1000", in.Stranded[0].Now.Name)
	assert.NotNil(t, in.Spec, "the spec still comes from the record")
}

func TestInspectNetnsNotANetns(t *testing.T) {
	e := newQueryEnv(t)
	a, _, podA, _ := e.twoPods(t)
	e.k.DestroyNetns(podA)
	e.k.AddFile(string(podA))
	in, err := e.svc.Inspect(context.Background(), a)
	require.NoError(t, err)
	assert.Equal(t, app.NetnsInvalid, in.Netns)
	assert.NotEmpty(t, in.NetnsError)
}

func TestInspectUnknownAndCorrupt(t *testing.T) {
	e := newQueryEnv(t)
	_, err := e.svc.Inspect(context.Background(), domain.AttachmentID{ContainerID: "nope", IfName: "net1"})
	assert.True(t, errors.Is(err, domain.ErrNotFound))

	ns := e.k.AddNetns("/var/run/netns/x")
	id := domain.AttachmentID{ContainerID: "old", IfName: "net1"}
	require.NoError(t, e.store.Save(context.Background(), domain.Attachment{ID: id, Netns: ns, Phase: domain.PhaseAdding, Config: []byte(`{"mode": 12}`)}))
	in, err := e.svc.Inspect(context.Background(), id)
	require.NoError(t, err)
	assert.Nil(t, in.Spec)
	assert.Contains(t, in.SpecError, "recorded config")
	assert.Contains(t, in.BondError, "missing from the pod")
	assert.Equal(t, in.SpecError, in.DriftError)
}

func TestValidateObservesHostLinks(t *testing.T) {
	e := newQueryEnv(t)
	e.k.AddPhysical(domain.HostNetns, "eth1000", 9000, nil)
	e.k.AddPhysical(domain.HostNetns, "eth1001", 1500, nil)
	before := e.k.Snapshot()
	res, err := e.svc.Validate(context.Background(), []byte(hostConf), "net1")
	require.NoError(t, err)
	require.True(t, res.Valid, "%v", res.Error)
	assert.Equal(t, []string{"eth1000", "eth1001"}, res.Observed)
	assert.Empty(t, res.Placeholders)
	require.NotNil(t, res.Plan)
	assert.Equal(t, 1500, res.Plan.Spec.MTU, "the smallest of the links'")
	var kinds []string
	for _, s := range res.Plan.Steps {
		kinds = append(kinds, s.String())
	}
	assert.Equal(t, []string{"record", "ipam-add", "move-to-pod eth1000", "move-to-pod eth1001", "create-bond", "enslave eth1000",
		"enslave eth1001", "bond-up", "configure-ip", "mark-ready"}, kinds)
	assert.True(t, before.Equal(e.k.Snapshot()), "nothing changed")
	assert.Equal(t, 0, e.store.Len())
}

func TestValidatePlaceholders(t *testing.T) {
	e := newQueryEnv(t)
	res, err := e.svc.Validate(context.Background(), []byte(podConf), "bond0")
	require.NoError(t, err)
	require.True(t, res.Valid, "%v", res.Error)
	assert.Equal(t, []string{"net1", "net2"}, res.Placeholders)
	assert.Equal(t, 0, res.Plan.Spec.MTU)
	assert.Contains(t, strings.Join(res.Notes, "\n"), "linksInContainer")

}

// Host links that are not there: ADD would fail with code 100, so the
// validation is invalid, with that code and every missing link.
func TestValidateMissingHostLinksAreInvalid(t *testing.T) {
	e := newQueryEnv(t)
	res, err := e.svc.Validate(context.Background(), []byte(hostConf), "net1")
	require.NoError(t, err)
	assert.False(t, res.Valid)
	assert.Equal(t, domain.CodeLinkNotFound, domain.CodeOf(res.Error, 0))
	require.Len(t, res.Errors, 2)
	assert.EqualError(t, res.Errors[0], `links: "eth1000" is not in the host netns`)
	assert.EqualError(t, res.Errors[1], `links: "eth1001" is not in the host netns`)
	assert.Nil(t, res.Plan)

	// ADD agrees.
	_, addErr := e.svc.Add(context.Background(), app.Request{Invocation: ports.Invocation{ContainerID: "c1", Netns: e.k.AddNetns("/run/netns/p1"), IfName: "net1"}, Config: []byte(hostConf)})
	assert.Equal(t, domain.CodeLinkNotFound, domain.CodeOf(addErr, 0))
}

func TestValidateListsEveryConfigProblem(t *testing.T) {
	e := newQueryEnv(t)
	conf := `{"cniVersion":"1.0.0","name":"x","type":"bond","mode":"active-backup","miimon":"-5","updelay":"x","mtu":1,"logLevel":"verbose","primary":"eth9","links":["eth1000","eth1001"],"lacp_rate":"fast","kubernetes":{}}`
	res, err := e.svc.Validate(context.Background(), []byte(conf), "net1")
	require.NoError(t, err)
	assert.False(t, res.Valid)
	var msgs []string
	for _, err := range res.Errors {
		assert.Equal(t, domain.CodeInvalidConfig, domain.CodeOf(err, 0))
		msgs = append(msgs, err.Error())
	}
	assert.Len(t, msgs, 5, "%q", msgs)
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"miimon:", "updelay:", "mtu:", "logLevel:", "primary:"} {
		assert.Contains(t, all, want)
	}
	assert.Equal(t, []string{"kubernetes", "lacp_rate"}, res.UnknownKeys)
	assert.Equal(t, []domain.KeyHint{{Key: "lacp_rate", Want: "lacpRate"}}, res.KeyHints)
}

func TestValidateNamesTheHolder(t *testing.T) {
	e := newQueryEnv(t)
	e.twoPods(t)
	res, err := e.svc.Validate(context.Background(), []byte(hostConf), "net9")
	require.NoError(t, err)
	assert.False(t, res.Valid)
	assert.Equal(t, domain.CodeLinkBusy, domain.CodeOf(res.Error, 0))
	assert.Contains(t, res.Error.Error(), "held by container ctr-a (pod default/web-0)")
}

func TestValidateRefusals(t *testing.T) {
	e := newQueryEnv(t)
	e.k.AddPhysical(domain.HostNetns, "eth1000", 0, nil)
	e.k.AddPhysical(domain.HostNetns, "eth1001", 0, nil)
	e.k.SetSpeed(domain.HostNetns, "eth1001", 0, "")
	for _, c := range []struct {
		conf, ifname string
		code         domain.Code
		msg          string
	}{
		{`[1,2]`, "net1", domain.CodeDecode, "want a JSON object"},
		{`{"name":"x","type":"bond","mode":"fast","miimon":100,"links":["eth1000","eth1001"]}`, "net1", domain.CodeInvalidConfig, "mode"},
		{hostConf, "", domain.CodeInvalidEnv, "CNI_IFNAME"},
		{`{"name":"x","type":"bond","mode":"802.3ad","miimon":100,"links":["eth1000","eth1001"]}`, "net1", domain.CodeLinkUnusable, "speed and duplex"},
	} {
		res, err := e.svc.Validate(context.Background(), []byte(c.conf), c.ifname)
		require.NoError(t, err)
		assert.False(t, res.Valid, c.conf)
		require.Error(t, res.Error, c.conf)
		assert.Equal(t, c.code, domain.CodeOf(res.Error, 0), c.conf)
		assert.Contains(t, res.Error.Error(), c.msg)
		assert.Nil(t, res.Plan)
	}
}
