package httpdebug

import (
	"context"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

// The metrics are read at scrape time: the collector lists the records and
// inspects each bond in its pod, so they are never staler than the scrape
// and the daemon keeps no state between scrapes.
//
// Labels identify an attachment (container, interface, pod) and a slave;
// nothing that changes during an attachment's life is a label (its phase,
// a state, a counter), so a series lives exactly as long as its bond and
// changes only its value. Values are in base units (bytes, seconds).

// MetricPrefix starts every metric of the daemon's own.
const MetricPrefix = "bondcni_"

var (
	bondLabels  = []string{"container_id", "ifname", "pod_namespace", "pod_name"}
	slaveLabels = append(append([]string{}, bondLabels...), "slave")
	lacpLabels  = append(append([]string{}, slaveLabels...), "side", "flag")
)

func desc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc(MetricPrefix+name, help, labels, nil)
}

var (
	descBuildInfo     = desc("build_info", "Always 1; labels carry the bond-debugd build: version, revision (commit) and the Go version.", []string{"version", "revision", "goversion"})
	descStateReadable = desc("state_readable", "1 if the attachment records could be listed at this scrape, else 0.", nil)
	descAttachments   = desc("attachments", "Attachments recorded by the bond CNI plugin on this node.", nil)
	descUnreadable    = desc("records_unreadable", "Attachment records this version cannot read (corrupt, another shape, a newer format); DEL fails for them until the node admin repairs or removes them.", nil)
	descScrapeSeconds = desc("scrape_duration_seconds", "Time this scrape took to read the records and every bond.", nil)
	descInfo          = desc("attachment_info", "One per recorded attachment, value 1; labels carry its network, mode and whether its links were in the pod already.",
		append(append([]string{}, bondLabels...), "network", "mode", "links_in_container"))
	descReady       = desc("attachment_ready", "1 once ADD completed, 0 while it runs or after it crashed half-way (DEL will finish it).", bondLabels)
	descCreated     = desc("attachment_created_timestamp_seconds", "When ADD recorded the attachment, in seconds since the Unix epoch.", bondLabels)
	descKeyHints    = desc("attachment_config_key_hints", "Unknown keys in the attachment's config that look like bond keys (misspelt or kernel spellings): the bond was built without them.", bondLabels)
	descNetns       = desc("netns_present", "1 if the attachment's pod netns exists, 0 if it is gone (the pod died; DEL is due) or is not a netns.", bondLabels)
	descBondPresent = desc("bond_present", "1 if the bond could be read in the pod netns, else 0.", bondLabels)
	descBondUp      = desc("bond_up", "1 if the bond is administratively up.", bondLabels)
	descBondCarrier = desc("bond_carrier", "1 if the bond has carrier (enough slaves up).", bondLabels)
	descBondSlaves  = desc("bond_slaves", "Slaves enslaved to the bond now.", bondLabels)
	descBondSlUp    = desc("bond_slaves_up", "Slaves whose MII status is up.", bondLabels)
	descBondDrift   = desc("bond_drift", "Differences between the live bond and its recorded config, as CHECK counts them (0: as configured).", bondLabels)
	descBondPartner = desc("bond_lacp_partner_present", "802.3ad bonds only: 1 if the active aggregator has an LACP partner (non-zero partner MAC).", bondLabels)
	descLACPState   = desc("slave_lacp_port_state", "802.3ad slaves only: 1 if the flag is set in the port state the bond last exchanged, for our side (actor) or the switch's (partner); flags: "+lacpFlagList()+".", lacpLabels)
	descSlaveVF     = desc("slave_vf_info", "One per slave that is an SR-IOV VF, value 1; labels name its PF, PF PCI address, VF number and PCI address, and the PF's trust and spoofchk for it.",
		append(append([]string{}, slaveLabels...), "pf", "pf_pci", "vf", "pci", "trust", "spoofchk"))
	descBondSharedPF = desc("bond_vfs_share_pf", "Bonds with SR-IOV VF slaves only: 1 if two of them are VFs of the same PF (no redundancy against that PF failing), else 0.", bondLabels)
)

// slaveMetric is one per-slave metric: a name, its type, and how to read
// its value (ok false: no sample, e.g. the kernel did not report it).
type slaveMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(b *app.Inspection, s app.SlaveInspection) (float64, bool)
}

func counter(name, help string, field func(*domain.LinkCounters) uint64) slaveMetric {
	return slaveMetric{desc(name, help, slaveLabels), prometheus.CounterValue, func(_ *app.Inspection, s app.SlaveInspection) (float64, bool) {
		if s.Counters == nil {
			return 0, false
		}
		return float64(field(s.Counters)), true
	}}
}

// slaveMetrics is the per-slave table; a new per-slave fact is a new row.
var slaveMetrics = []slaveMetric{
	{desc("slave_up", "1 if the slave's MII status is up, else 0 (down, fail, back).", slaveLabels), prometheus.GaugeValue,
		func(_ *app.Inspection, s app.SlaveInspection) (float64, bool) { return b2f(s.MIIStatus == "up"), true }},
	{desc("slave_active", "1 if the slave is the bond's active slave (active-backup, balance-tlb, balance-alb), or in other modes if its bonding state is active.", slaveLabels), prometheus.GaugeValue,
		func(in *app.Inspection, s app.SlaveInspection) (float64, bool) {
			if in.Bond.Options.Mode.UsesActiveSlave() {
				return b2f(in.Bond.ActiveSlave == s.Link.Name), true
			}
			return b2f(s.Active), true
		}},
	{desc("slave_link_failures_total", "Link failures the bond counted on the slave since it was enslaved.", slaveLabels), prometheus.CounterValue,
		func(_ *app.Inspection, s app.SlaveInspection) (float64, bool) {
			return float64(s.LinkFailureCount), true
		}},
	{desc("slave_speed_bytes_per_second", "Slave speed as its driver reports it, in bytes per second (absent when it reports none).", slaveLabels), prometheus.GaugeValue,
		func(_ *app.Inspection, s app.SlaveInspection) (float64, bool) {
			return float64(s.SpeedMbps) * 1e6 / 8, s.SpeedError == "" && s.SpeedMbps > 0
		}},
	{desc("slave_lacp_partner_present", "802.3ad bonds only: 1 if the slave is in the bond's active aggregator and that aggregator has an LACP partner, else 0.", slaveLabels), prometheus.GaugeValue,
		func(in *app.Inspection, s app.SlaveInspection) (float64, bool) {
			b := in.Bond
			if b.Options.Mode != domain.Mode8023AD {
				return 0, false
			}
			inAgg := b.AdInfo != nil && s.AggregatorID != 0 && s.AggregatorID == b.AdInfo.AggregatorID
			return b2f(inAgg && in.LACPPartner()), true
		}},
	counter("slave_receive_packets_total", "Packets the slave link received, as the kernel counts them (IFLA_STATS64).", func(c *domain.LinkCounters) uint64 { return c.RxPackets }),
	counter("slave_transmit_packets_total", "Packets the slave link sent.", func(c *domain.LinkCounters) uint64 { return c.TxPackets }),
	counter("slave_receive_bytes_total", "Bytes the slave link received.", func(c *domain.LinkCounters) uint64 { return c.RxBytes }),
	counter("slave_transmit_bytes_total", "Bytes the slave link sent.", func(c *domain.LinkCounters) uint64 { return c.TxBytes }),
	counter("slave_receive_errors_total", "Bad packets the slave link received.", func(c *domain.LinkCounters) uint64 { return c.RxErrors }),
	counter("slave_transmit_errors_total", "Packets the slave link failed to send.", func(c *domain.LinkCounters) uint64 { return c.TxErrors }),
	counter("slave_receive_drops_total", "Received packets the kernel dropped on the slave link.", func(c *domain.LinkCounters) uint64 { return c.RxDropped }),
	counter("slave_transmit_drops_total", "Packets the kernel dropped before sending them on the slave link.", func(c *domain.LinkCounters) uint64 { return c.TxDropped }),
}

func lacpFlagList() string {
	s := ""
	for i, b := range domain.LACPPortStateBits {
		if i > 0 {
			s += ", "
		}
		s += b.Name
	}
	return s
}

var allDescs = func() []*prometheus.Desc {
	ds := []*prometheus.Desc{
		descBuildInfo, descStateReadable, descAttachments, descUnreadable, descScrapeSeconds, descInfo, descReady, descCreated, descKeyHints,
		descNetns, descBondPresent, descBondUp, descBondCarrier, descBondSlaves, descBondSlUp, descBondDrift, descBondPartner, descLACPState,
		descSlaveVF, descBondSharedPF,
	}
	for _, m := range slaveMetrics {
		ds = append(ds, m.desc)
	}
	return ds
}()

// collector is a prometheus.Collector reading the bonds at scrape time.
type collector struct {
	q                 Queries
	timeout           time.Duration
	version, revision string
}

func newCollector(q Queries, timeout time.Duration, version, revision string) *collector {
	return &collector{q: q, timeout: timeout, version: version, revision: revision}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ch <- prometheus.MustNewConstMetric(descBuildInfo, prometheus.GaugeValue, 1, c.version, c.revision, runtime.Version())
	defer func() {
		ch <- prometheus.MustNewConstMetric(descScrapeSeconds, prometheus.GaugeValue, time.Since(start).Seconds())
	}()
	ins, err := inspectAll(ctx, c.q)
	ch <- prometheus.MustNewConstMetric(descStateReadable, prometheus.GaugeValue, b2f(err == nil))
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descAttachments, prometheus.GaugeValue, float64(len(ins)))
	if bad, err := c.q.UnreadableRecords(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descUnreadable, prometheus.GaugeValue, float64(len(bad)))
	}
	for i := range ins {
		collectBond(ch, &ins[i])
	}
}

func collectBond(ch chan<- prometheus.Metric, in *app.Inspection) {
	rec := in.Attachment
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	bl := []string{rec.ID.ContainerID, rec.ID.IfName, rec.PodNamespace, rec.PodName}
	gauge(descInfo, 1, append(append([]string{}, bl...), rec.Network, rec.Mode, strconv.FormatBool(rec.LinksInContainer))...)
	gauge(descReady, b2f(rec.Phase == domain.PhaseReady), bl...)
	if !rec.CreatedAt.IsZero() {
		gauge(descCreated, float64(rec.CreatedAt.UnixNano())/1e9, bl...)
	}
	gauge(descKeyHints, float64(len(in.KeyHints)), bl...)
	gauge(descNetns, b2f(in.Netns == app.NetnsPresent), bl...)
	gauge(descBondPresent, b2f(in.Bond != nil), bl...)
	if in.DriftError == "" && in.Netns == app.NetnsPresent {
		gauge(descBondDrift, float64(len(in.Drift)), bl...)
	}
	b := in.Bond
	if b == nil {
		return
	}
	gauge(descBondUp, b2f(b.Link.Up), bl...)
	gauge(descBondCarrier, b2f(b.Link.Carrier), bl...)
	gauge(descBondSlaves, float64(len(in.Slaves)), bl...)
	if b.Options.Mode == domain.Mode8023AD {
		gauge(descBondPartner, b2f(in.LACPPartner()), bl...)
	}
	up, vfs, sharedPF := 0, 0, false
	for _, s := range in.Slaves {
		sl := append(append([]string{}, bl...), s.Link.Name)
		if s.MIIStatus == "up" {
			up++
		}
		if v := s.VF; v != nil {
			vfs++
			sharedPF = sharedPF || s.SharedPF != ""
			gauge(descSlaveVF, 1, append(append([]string{}, sl...), v.PF, v.PFPCI, strconv.Itoa(v.Index), v.PCI, strconv.FormatBool(v.Trust), strconv.FormatBool(v.SpoofChk))...)
		}
		for _, m := range slaveMetrics {
			if v, ok := m.value(in, s); ok {
				ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v, sl...)
			}
		}
		if l := s.LACP; l != nil {
			for _, side := range []struct {
				name  string
				state domain.LACPPortState
			}{{"actor", l.ActorState}, {"partner", l.PartnerState}} {
				for _, f := range domain.LACPPortStateBits {
					gauge(descLACPState, b2f(side.state.Has(f.Bit)), append(append([]string{}, sl...), side.name, f.Name)...)
				}
			}
		}
	}
	if vfs > 0 {
		gauge(descBondSharedPF, b2f(sharedPF), bl...)
	}
	gauge(descBondSlUp, float64(up), bl...)
}
