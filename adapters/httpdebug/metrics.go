package httpdebug

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

// The metrics are read at scrape time: the collector lists the records and
// inspects each bond in its pod, so they are never staler than the scrape
// and the daemon keeps no state between scrapes.

var (
	bondLabels  = []string{"container_id", "ifname", "pod_namespace", "pod_name"}
	slaveLabels = append(append([]string{}, bondLabels...), "slave")
)

func desc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc("bondcni_"+name, help, labels, nil)
}

var (
	descStateReadable = desc("state_readable", "1 if the attachment records could be listed at this scrape, else 0.", nil)
	descAttachments   = desc("attachments", "Attachments recorded by the bond CNI plugin on this node.", nil)
	descUnreadable    = desc("records_unreadable", "Attachment records this version cannot read (corrupt, another shape, a newer format); DEL fails for them until the node admin repairs or removes them.", nil)
	descScrapeSeconds = desc("scrape_duration_seconds", "Time this scrape took to read the records and every bond.", nil)
	descInfo          = desc("attachment_info", "One per recorded attachment, value 1; labels carry its network, mode, phase (adding, ready), netns and whether its links were in the pod already.",
		append(append([]string{}, bondLabels...), "network", "mode", "phase", "netns", "links_in_container"))
	descNetns       = desc("netns_present", "1 if the attachment's pod netns exists, 0 if it is gone (the pod died; DEL is due) or is not a netns.", bondLabels)
	descBondPresent = desc("bond_present", "1 if the bond could be read in the pod netns, else 0.", bondLabels)
	descBondUp      = desc("bond_up", "1 if the bond is administratively up.", bondLabels)
	descBondCarrier = desc("bond_carrier", "1 if the bond has carrier (enough slaves up).", bondLabels)
	descBondSlaves  = desc("bond_slaves", "Slaves enslaved to the bond now.", bondLabels)
	descBondSlUp    = desc("bond_slaves_up", "Slaves whose MII status is up.", bondLabels)
	descBondDrift   = desc("bond_drift", "Differences between the live bond and its recorded config, as CHECK counts them (0: as configured).", bondLabels)
	descBondPartner = desc("bond_lacp_partner_present", "802.3ad bonds only: 1 if the active aggregator has an LACP partner (non-zero partner MAC).", bondLabels)
	descSlaveUp     = desc("slave_up", "1 if the slave's MII status is up, else 0 (down, fail, back).", slaveLabels)
	descSlaveActive = desc("slave_active", "1 if the slave is the bond's active slave (active-backup, balance-tlb, balance-alb), or in other modes if its bonding state is active.", slaveLabels)
	descSlaveFail   = desc("slave_link_failures_total", "Link failures the bond counted on the slave since it was enslaved.", slaveLabels)
	descSlaveSpeed  = desc("slave_speed_mbps", "Slave speed in Mb/s as its driver reports it (absent when it reports none).", slaveLabels)
	descSlavePartn  = desc("slave_lacp_partner_present", "802.3ad bonds only: 1 if the slave is in the bond's active aggregator and that aggregator has an LACP partner, else 0.", slaveLabels)
	descSlaveVF     = desc("slave_vf_info", "One per slave that is an SR-IOV VF, value 1; labels name its PF, PF PCI address, VF number and PCI address, and the PF's trust and spoofchk for it.",
		append(append([]string{}, slaveLabels...), "pf", "pf_pci", "vf", "pci", "trust", "spoofchk"))
	descBondSharedPF = desc("bond_vfs_share_pf", "Bonds with SR-IOV VF slaves only: 1 if two of them are VFs of the same PF (no redundancy against that PF failing), else 0.", bondLabels)

	allDescs = []*prometheus.Desc{
		descStateReadable, descAttachments, descUnreadable, descScrapeSeconds, descInfo, descNetns, descBondPresent, descBondUp,
		descBondCarrier, descBondSlaves, descBondSlUp, descBondDrift, descBondPartner,
		descSlaveUp, descSlaveActive, descSlaveFail, descSlaveSpeed, descSlavePartn, descSlaveVF, descBondSharedPF,
	}
)

// collector is a prometheus.Collector reading the bonds at scrape time.
type collector struct {
	q        Queries
	timeout  time.Duration
	parallel int
}

func newCollector(q Queries, timeout time.Duration) *collector {
	return &collector{q: q, timeout: timeout, parallel: 4}
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
	defer func() {
		ch <- prometheus.MustNewConstMetric(descScrapeSeconds, prometheus.GaugeValue, time.Since(start).Seconds())
	}()
	recs, err := c.q.ListAttachments(ctx)
	ch <- prometheus.MustNewConstMetric(descStateReadable, prometheus.GaugeValue, b2f(err == nil))
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descAttachments, prometheus.GaugeValue, float64(len(recs)))
	if bad, err := c.q.UnreadableRecords(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descUnreadable, prometheus.GaugeValue, float64(len(bad)))
	}

	// Inspect a few bonds at once; each is a handful of netlink requests in
	// its own pod netns.
	ins := make([]*app.Inspection, len(recs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, c.parallel)
	for i, rec := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			in, err := c.q.Inspect(ctx, rec.ID)
			if err == nil {
				ins[i] = &in
			} else if !errors.Is(err, domain.ErrNotFound) { // not removed by a DEL meanwhile
				in := app.Inspection{Attachment: rec, Netns: app.NetnsInvalid, BondError: err.Error()}
				ins[i] = &in
			}
		}()
	}
	wg.Wait()

	for i, rec := range recs {
		in := ins[i]
		if in == nil {
			continue
		}
		bl := []string{rec.ID.ContainerID, rec.ID.IfName, rec.PodNamespace, rec.PodName}
		ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1,
			append(append([]string{}, bl...), rec.Network, rec.Mode, string(rec.Phase), string(rec.Netns), strconv.FormatBool(rec.LinksInContainer))...)
		ch <- prometheus.MustNewConstMetric(descNetns, prometheus.GaugeValue, b2f(in.Netns == app.NetnsPresent), bl...)
		ch <- prometheus.MustNewConstMetric(descBondPresent, prometheus.GaugeValue, b2f(in.Bond != nil), bl...)
		if in.DriftError == "" && in.Netns == app.NetnsPresent {
			ch <- prometheus.MustNewConstMetric(descBondDrift, prometheus.GaugeValue, float64(len(in.Drift)), bl...)
		}
		b := in.Bond
		if b == nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descBondUp, prometheus.GaugeValue, b2f(b.Link.Up), bl...)
		ch <- prometheus.MustNewConstMetric(descBondCarrier, prometheus.GaugeValue, b2f(b.Link.Carrier), bl...)
		ch <- prometheus.MustNewConstMetric(descBondSlaves, prometheus.GaugeValue, float64(len(in.Slaves)), bl...)
		lacp := b.Options.Mode == domain.Mode8023AD
		partner := in.LACPPartner()
		if lacp {
			ch <- prometheus.MustNewConstMetric(descBondPartner, prometheus.GaugeValue, b2f(partner), bl...)
		}
		up, vfs, sharedPF := 0, 0, false
		for _, s := range in.Slaves {
			sl := append(append([]string{}, bl...), s.Link.Name)
			isUp := s.MIIStatus == "up"
			if isUp {
				up++
			}
			active := s.Active
			if b.Options.Mode.UsesActiveSlave() {
				active = b.ActiveSlave == s.Link.Name
			}
			ch <- prometheus.MustNewConstMetric(descSlaveUp, prometheus.GaugeValue, b2f(isUp), sl...)
			ch <- prometheus.MustNewConstMetric(descSlaveActive, prometheus.GaugeValue, b2f(active), sl...)
			ch <- prometheus.MustNewConstMetric(descSlaveFail, prometheus.CounterValue, float64(s.LinkFailureCount), sl...)
			if s.SpeedError == "" && s.SpeedMbps > 0 {
				ch <- prometheus.MustNewConstMetric(descSlaveSpeed, prometheus.GaugeValue, float64(s.SpeedMbps), sl...)
			}
			if lacp {
				inAgg := b.AdInfo != nil && s.AggregatorID != 0 && s.AggregatorID == b.AdInfo.AggregatorID
				ch <- prometheus.MustNewConstMetric(descSlavePartn, prometheus.GaugeValue, b2f(inAgg && partner), sl...)
			}
			if v := s.VF; v != nil {
				vfs++
				sharedPF = sharedPF || s.SharedPF != ""
				ch <- prometheus.MustNewConstMetric(descSlaveVF, prometheus.GaugeValue, 1,
					append(sl, v.PF, v.PFPCI, strconv.Itoa(v.Index), v.PCI, strconv.FormatBool(v.Trust), strconv.FormatBool(v.SpoofChk))...)
			}
		}
		if vfs > 0 {
			ch <- prometheus.MustNewConstMetric(descBondSharedPF, prometheus.GaugeValue, b2f(sharedPF), bl...)
		}
		ch <- prometheus.MustNewConstMetric(descBondSlUp, prometheus.GaugeValue, float64(up), bl...)
	}
}
