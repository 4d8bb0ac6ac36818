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
	for _, r := range rules() {
		if r.bond != nil && r.bond.isSet(&want) {
			if l := r.bond.drift(r.Key, &want, &got); l != "" {
				d = append(d, l)
			}
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
