package httpdebug_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// scrape parses /metrics.
func scrape(t *testing.T, f *fixture) map[string]*dto.MetricFamily {
	t.Helper()
	r := f.do("GET", "/metrics", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/plain"), r.header.Get("Content-Type"))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	require.NoError(t, err)
	return fams
}

// value finds the sample of fam whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	fam, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range fam.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		}
	}
	return 0, false
}

func with(l map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range l {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	a := map[string]string{"container_id": f.a.ContainerID, "ifname": "net1", "pod_namespace": "default", "pod_name": "web-0"}
	b := map[string]string{"container_id": f.b.ContainerID, "ifname": "bond0", "pod_namespace": "telco", "pod_name": "du-0"}
	fams := scrape(t, f)

	expect := func(name string, labels map[string]string, want float64) {
		t.Helper()
		got, ok := value(fams, name, labels)
		if assert.True(t, ok, "%s%v missing", name, labels) {
			assert.Equal(t, want, got, "%s%v", name, labels)
		}
	}
	expect("bondcni_state_readable", nil, 1)
	expect("bondcni_attachments", nil, 2)
	expect("bondcni_build_info", map[string]string{"version": "v0.0.0-test", "revision": "abc1234"}, 1)
	expect("bondcni_attachment_info", with(a, "mode", "active-backup", "network", "bond0", "links_in_container", "false"), 1)
	expect("bondcni_attachment_ready", a, 1)
	expect("bondcni_attachment_config_key_hints", a, 0)
	expect("bondcni_attachment_info", with(b, "mode", "802.3ad", "links_in_container", "true"), 1)
	expect("bondcni_netns_present", a, 1)
	expect("bondcni_bond_present", a, 1)
	expect("bondcni_bond_up", a, 1)
	expect("bondcni_bond_carrier", a, 1)
	expect("bondcni_bond_slaves", a, 2)
	expect("bondcni_bond_slaves_up", a, 2)
	expect("bondcni_bond_drift", a, 0)
	expect("bondcni_slave_up", with(a, "slave", "eth1000"), 1)
	expect("bondcni_slave_active", with(a, "slave", "eth1000"), 1)
	expect("bondcni_slave_active", with(a, "slave", "eth1001"), 0)
	expect("bondcni_slave_link_failures_total", with(a, "slave", "eth1001"), 0)
	expect("bondcni_slave_speed_bytes_per_second", with(a, "slave", "eth1000"), 10000e6/8)
	expect("bondcni_slave_receive_bytes_total", with(a, "slave", "eth1000"), 0)
	expect("bondcni_slave_lacp_port_state", with(b, "slave", "net1", "side", "actor", "flag", "activity"), 1)
	expect("bondcni_slave_lacp_port_state", with(b, "slave", "net1", "side", "actor", "flag", "timeout"), 1)
	expect("bondcni_slave_lacp_port_state", with(b, "slave", "net1", "side", "actor", "flag", "synchronization"), 0)
	expect("bondcni_slave_lacp_port_state", with(b, "slave", "net1", "side", "partner", "flag", "activity"), 0)
	_, ok := value(fams, "bondcni_slave_lacp_port_state", a)
	assert.False(t, ok, "no LACP port state for an active-backup bond")
	expect("bondcni_bond_lacp_partner_present", b, 0)
	expect("bondcni_slave_lacp_partner_present", with(b, "slave", "net1"), 0)
	expect("bondcni_slave_active", with(b, "slave", "net2"), 1)
	_, ok = value(fams, "bondcni_bond_lacp_partner_present", a)
	assert.False(t, ok, "no LACP metric for an active-backup bond")
	assert.Equal(t, "counter", strings.ToLower(fams["bondcni_slave_link_failures_total"].GetType().String()))
	assert.Contains(t, fams, "go_goroutines")
	assert.Contains(t, fams, "bondcni_scrape_duration_seconds")

	// Counters are read at each scrape, in base units.
	f.k.SetCounters(f.podA, "eth1000", domain.LinkCounters{RxPackets: 3, TxPackets: 4, RxBytes: 300, TxBytes: 400, RxErrors: 5, TxErrors: 6, RxDropped: 7, TxDropped: 8})
	fams = scrape(t, f)
	for name, want := range map[string]float64{
		"receive_packets": 3, "transmit_packets": 4, "receive_bytes": 300, "transmit_bytes": 400,
		"receive_errors": 5, "transmit_errors": 6, "receive_drops": 7, "transmit_drops": 8,
	} {
		expect("bondcni_slave_"+name+"_total", with(a, "slave", "eth1000"), want)
		assert.Equal(t, "COUNTER", fams["bondcni_slave_"+name+"_total"].GetType().String())
	}

	// A slave goes down, the other bond drifts, a netns dies.
	f.k.SetCarrier(f.podA, "eth1001", false)
	l, _ := f.k.Peek(f.podB, "net2")
	require.NoError(t, f.k.Release(t.Context(), f.podB, l.Index))
	fams = scrape(t, f)
	expect("bondcni_slave_up", with(a, "slave", "eth1001"), 0)
	expect("bondcni_bond_slaves_up", a, 1)
	expect("bondcni_bond_drift", b, 1)
	expect("bondcni_bond_slaves", b, 1)

	f.k.DestroyNetns(f.podA)
	fams = scrape(t, f)
	expect("bondcni_netns_present", a, 0)
	expect("bondcni_bond_present", a, 0)
	_, ok = value(fams, "bondcni_slave_up", a)
	assert.False(t, ok, "no slave samples for a bond that cannot be read")
	_, ok = value(fams, "bondcni_bond_drift", a)
	assert.False(t, ok, "no drift sample when it cannot be computed")
}

// No label of ours changes during an attachment's life: its series are
// created once and only change value (the old phase and netns labels did).
func TestMetricLabelsDoNotChurn(t *testing.T) {
	f := newFixture(t)
	allowed := map[string]bool{"container_id": true, "ifname": true, "pod_namespace": true, "pod_name": true, "slave": true,
		"network": true, "mode": true, "links_in_container": true, "side": true, "flag": true,
		"version": true, "revision": true, "goversion": true}
	series := func() map[string]bool {
		out := map[string]bool{}
		for name, fam := range scrape(t, f) {
			if !strings.HasPrefix(name, "bondcni_") || name == "bondcni_scrape_duration_seconds" {
				continue
			}
			for _, m := range fam.Metric {
				key := name
				for _, l := range m.Label {
					assert.True(t, allowed[l.GetName()], "%s has label %s", name, l.GetName())
					key += "," + l.GetName() + "=" + l.GetValue()
				}
				out[key] = true
			}
		}
		return out
	}
	before := series()
	// Traffic, a failover and a slave going down change values, not series.
	f.k.SetCounters(f.podA, "eth1000", domain.LinkCounters{RxPackets: 99, RxBytes: 9999})
	f.k.SetCarrier(f.podA, "eth1000", false)
	assert.Equal(t, before, series())
}

func TestMetricsLint(t *testing.T) {
	f := newFixture(t)
	mfs, err := f.debugSrv.Registry().Gather()
	require.NoError(t, err)
	var ours []*dto.MetricFamily
	for _, m := range mfs {
		if strings.HasPrefix(m.GetName(), "bondcni_") {
			ours = append(ours, m)
		}
	}
	require.NotEmpty(t, ours)
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
}
