package domain

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
)

// Drift compares a live bond with what the attachment asked for and returns
// one line per difference; none means the bond is as configured. CHECK and
// the debug view share it.
func Drift(spec BondSpec, wantMTU int, st BondState, addrs []IPConfig, wantIPs []netip.Prefix) []string {
	var d []string
	if st.Link.Kind != "bond" {
		return []string{fmt.Sprintf("%s is a %q link, not a bond", spec.Name, st.Link.Kind)}
	}
	want, got := spec.Options, st.Options
	if want.Mode != got.Mode {
		d = append(d, fmt.Sprintf("mode: want %s, kernel has %s", want.Mode, got.Mode))
	}
	cmpU32 := func(key string, w, g *uint32) {
		if w != nil && (g == nil || *w != *g) {
			d = append(d, fmt.Sprintf("%s: want %d, kernel has %s", key, *w, ptrString(g)))
		}
	}
	cmpU32("miimon", want.Miimon, got.Miimon)
	cmpU32("updelay", want.UpDelay, got.UpDelay)
	cmpU32("downdelay", want.DownDelay, got.DownDelay)
	cmpU32("arpInterval", want.ArpInterval, got.ArpInterval)
	cmpU32("minLinks", want.MinLinks, got.MinLinks)
	cmpU32("packetsPerSlave", want.PacketsPerSlave, got.PacketsPerSlave)
	cmpEnum(&d, "failOverMac", want.FailOverMac, got.FailOverMac)
	cmpEnum(&d, "xmitHashPolicy", want.XmitHashPolicy, got.XmitHashPolicy)
	cmpEnum(&d, "lacpRate", want.LacpRate, got.LacpRate)
	cmpEnum(&d, "primaryReselect", want.PrimaryReselect, got.PrimaryReselect)
	cmpEnum(&d, "arpValidate", want.ArpValidate, got.ArpValidate)
	cmpEnum(&d, "adSelect", want.AdSelect, got.AdSelect)
	cmpEnum(&d, "numGratArp", want.NumGratArp, got.NumGratArp)
	cmpEnum(&d, "allSlavesActive", want.AllSlavesActive, got.AllSlavesActive)
	cmpEnum(&d, "tlbDynamicLb", want.TLBDynamicLB, got.TLBDynamicLB)
	if want.Primary != "" && want.Primary != got.Primary {
		d = append(d, fmt.Sprintf("primary: want %s, kernel has %q", want.Primary, got.Primary))
	}
	if len(want.ArpIPTargets) > 0 {
		w, g := sortedAddrs(want.ArpIPTargets), sortedAddrs(got.ArpIPTargets)
		if !slices.Equal(w, g) {
			d = append(d, fmt.Sprintf("arpIpTargets: want %v, kernel has %v", w, g))
		}
	}
	var slaves []string
	for _, s := range st.Slaves {
		slaves = append(slaves, s.Link.Name)
	}
	w := slices.Clone(spec.Links)
	sort.Strings(w)
	sort.Strings(slaves)
	if !slices.Equal(w, slaves) {
		d = append(d, fmt.Sprintf("slaves: want %v, kernel has %v", w, slaves))
	}
	if wantMTU != 0 && st.Link.MTU != wantMTU {
		d = append(d, fmt.Sprintf("mtu: want %d, kernel has %d", wantMTU, st.Link.MTU))
	}
	for _, ip := range wantIPs {
		found := false
		for _, a := range addrs {
			if a.Address == ip {
				found = true
				break
			}
		}
		if !found {
			d = append(d, fmt.Sprintf("address %s missing from %s", ip, spec.IfName()))
		}
	}
	return d
}

func cmpEnum[T ~uint8 | ~uint32](d *[]string, key string, w, g *T) {
	if w != nil && (g == nil || *w != *g) {
		gs := "nothing"
		if g != nil {
			gs = fmt.Sprint(*g)
		}
		*d = append(*d, fmt.Sprintf("%s: want %v, kernel has %s", key, *w, gs))
	}
}

func ptrString(p *uint32) string {
	if p == nil {
		return "nothing"
	}
	return fmt.Sprint(*p)
}

func sortedAddrs(a []netip.Addr) []netip.Addr {
	s := slices.Clone(a)
	slices.SortFunc(s, func(x, y netip.Addr) int { return x.Compare(y) })
	return s
}

// PrevResultIPs extracts the addresses of a CNI prevResult (any version
// from 0.3.0 on lists them under "ips").
func PrevResultIPs(raw []byte) ([]netip.Prefix, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var pr struct {
		IPs []struct {
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(raw, &pr); err != nil {
		return nil, Errorf(CodeDecode, "prevResult: %w", err)
	}
	var out []netip.Prefix
	for _, ip := range pr.IPs {
		p, err := netip.ParsePrefix(ip.Address)
		if err != nil {
			return nil, Errorf(CodeInvalidConfig, "prevResult: ips address %q is not an address/prefix: %w", ip.Address, err)
		}
		out = append(out, p)
	}
	return out, nil
}
