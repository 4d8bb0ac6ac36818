package httpdebug

import (
	"net"
	"net/url"
	"time"

	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

// The JSON the API answers. These types are the wire format: they change
// only compatibly (fields added), whatever the domain types become.

// LinkJSON is a recorded link (its state before the ADD).
type LinkJSON struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
	MTU   int    `json:"mtu"`
	MAC   string `json:"mac,omitempty"`
	Up    bool   `json:"up"`
	Kind  string `json:"kind,omitempty"`
}

// AttachmentJSON is one recorded attachment (GET /v1/attachments).
type AttachmentJSON struct {
	ContainerID  string `json:"containerID"`
	IfName       string `json:"ifname"`
	Netns        string `json:"netns"`
	Network      string `json:"network"`
	Phase        string `json:"phase"`
	Mode         string `json:"mode"`
	PodNamespace string `json:"podNamespace,omitempty"`
	PodName      string `json:"podName,omitempty"`
	// LinksInContainer: the links were in the pod already (SR-IOV VFs);
	// false: host links moved into the pod.
	LinksInContainer bool       `json:"linksInContainer"`
	Links            []LinkJSON `json:"links"`
	BondMTU          int        `json:"bondMtu,omitempty"`
	// Bond is the bond's name when ifname is a VLAN device on it.
	Bond      string    `json:"bond,omitempty"`
	IPs       []string  `json:"ips,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// URL is this attachment's live view.
	URL string `json:"url"`
}

// ListJSON is GET /v1/attachments.
type ListJSON struct {
	Count       int              `json:"count"`
	Attachments []AttachmentJSON `json:"attachments"`
	// Unreadable are record files this version cannot read: DEL fails for
	// their attachments (code 5) until the node admin repairs or removes
	// them.
	Unreadable []UnreadableJSON `json:"unreadable"`
}

// UnreadableJSON is one record file that cannot be read, and why.
type UnreadableJSON struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// NetnsJSON tells whether the pod's netns is still there.
type NetnsJSON struct {
	Path   string `json:"path"`
	Status string `json:"status"` // present, gone, invalid
	Error  string `json:"error,omitempty"`
}

// AdJSON is the bond's active 802.3ad aggregator.
type AdJSON struct {
	AggregatorID   uint16 `json:"aggregatorID"`
	NumPorts       uint16 `json:"numPorts"`
	ActorKey       uint16 `json:"actorKey"`
	PartnerKey     uint16 `json:"partnerKey"`
	PartnerMAC     string `json:"partnerMac,omitempty"`
	PartnerPresent bool   `json:"partnerPresent"`
}

// BondJSON is the live bond.
type BondJSON struct {
	Name        string         `json:"name"`
	Index       int            `json:"index"`
	Mode        string         `json:"mode"`
	Options     map[string]any `json:"options"`
	MTU         int            `json:"mtu"`
	MAC         string         `json:"mac"`
	Up          bool           `json:"up"`
	Carrier     bool           `json:"carrier"`
	ActiveSlave string         `json:"activeSlave,omitempty"`
	Addresses   []string       `json:"addresses"`
	AD          *AdJSON        `json:"ad,omitempty"`
}

// VLANJSON is the live VLAN device named ifname on the bond; it holds
// the attachment's addresses.
type VLANJSON struct {
	Name       string   `json:"name"`
	Index      int      `json:"index"`
	ID         int      `json:"id"`
	Protocol   string   `json:"protocol"`
	LowerIndex int      `json:"lowerIndex"`
	MTU        int      `json:"mtu"`
	MAC        string   `json:"mac"`
	Up         bool     `json:"up"`
	Carrier    bool     `json:"carrier"`
	Addresses  []string `json:"addresses"`
}

// SpecVLANJSON is the VLAN device the recorded config asks for.
type SpecVLANJSON struct {
	Name     string `json:"name"`
	ID       int    `json:"id"`
	Protocol string `json:"protocol"`
	MTU      int    `json:"mtu,omitempty"`
}

// SlaveJSON is one slave of the live bond.
type SlaveJSON struct {
	Name    string `json:"name"`
	Index   int    `json:"index"`
	MAC     string `json:"mac"`
	PermMAC string `json:"permMac,omitempty"`
	MTU     int    `json:"mtu"`
	AdminUp bool   `json:"adminUp"`
	Carrier bool   `json:"carrier"`
	// MIIStatus is the bond's view of the link: up, fail, down, back.
	MIIStatus string `json:"miiStatus"`
	// Up: MIIStatus is "up".
	Up bool `json:"up"`
	// Active: the bond's slave state is active (it may carry traffic);
	// CurrentActive: it is the bond's active slave (active-backup, tlb, alb).
	Active           bool   `json:"active"`
	CurrentActive    bool   `json:"currentActive"`
	LinkFailureCount uint32 `json:"linkFailureCount"`
	AggregatorID     uint16 `json:"aggregatorID,omitempty"`
	SpeedMbps        int    `json:"speedMbps,omitempty"`
	Duplex           string `json:"duplex,omitempty"`
	SpeedError       string `json:"speedError,omitempty"`
	// VF is set for a slave that is an SR-IOV VF.
	VF *VFJSON `json:"vf,omitempty"`
	// LACP is the 802.3ad port state (802.3ad bonds only).
	LACP *SlaveLACPJSON `json:"lacp,omitempty"`
	// Counters are the slave link's traffic counters.
	Counters *CountersJSON `json:"counters,omitempty"`
}

// VFJSON is where an SR-IOV VF slave sits and what its PF enforces.
type VFJSON struct {
	PF    string `json:"pf"`
	PFPCI string `json:"pfPci"`
	Index int    `json:"vf"`
	PCI   string `json:"pci"`
	// AdminMAC is the MAC the PF holds for the VF ("" when none).
	AdminMAC string `json:"adminMac,omitempty"`
	Trust    bool   `json:"trust"`
	SpoofChk bool   `json:"spoofchk"`
	// SharedPFWith names another slave that is a VF of the same PF: the
	// bond does not survive that PF failing.
	SharedPFWith string `json:"sharedPfWith,omitempty"`
}

func vfJSON(s app.SlaveInspection) *VFJSON {
	v := s.VF
	if v == nil {
		return nil
	}
	j := &VFJSON{PF: v.PF, PFPCI: v.PFPCI, Index: v.Index, PCI: v.PCI, Trust: v.Trust, SpoofChk: v.SpoofChk, SharedPFWith: s.SharedPF}
	if v.HasAdminMAC() {
		j.AdminMAC = v.AdminMAC.String()
	}
	return j
}

// SlaveLACPJSON is a slave's 802.3ad port state, ours (actor) and the
// partner's: the LACPDU's state octet and its set flags by name.
type SlaveLACPJSON struct {
	ActorState        uint8    `json:"actorState"`
	ActorStateFlags   []string `json:"actorStateFlags"`
	PartnerState      uint8    `json:"partnerState"`
	PartnerStateFlags []string `json:"partnerStateFlags"`
}

// CountersJSON are a link's traffic counters since it was created.
type CountersJSON struct {
	RxPackets uint64 `json:"rxPackets"`
	TxPackets uint64 `json:"txPackets"`
	RxBytes   uint64 `json:"rxBytes"`
	TxBytes   uint64 `json:"txBytes"`
	RxErrors  uint64 `json:"rxErrors"`
	TxErrors  uint64 `json:"txErrors"`
	RxDropped uint64 `json:"rxDropped"`
	TxDropped uint64 `json:"txDropped"`
}

func slaveJSON(in app.Inspection, s app.SlaveInspection) SlaveJSON {
	j := SlaveJSON{
		Name: s.Link.Name, Index: s.Link.Index, MAC: macString(s.Link.MAC), PermMAC: macString(s.PermMAC),
		MTU: s.Link.MTU, AdminUp: s.Link.Up, Carrier: s.Link.Carrier,
		MIIStatus: s.MIIStatus, Up: s.MIIStatus == "up", Active: s.Active,
		CurrentActive:    in.Bond != nil && in.Bond.ActiveSlave != "" && in.Bond.ActiveSlave == s.Link.Name,
		LinkFailureCount: s.LinkFailureCount, AggregatorID: s.AggregatorID,
		SpeedMbps: s.SpeedMbps, Duplex: s.Duplex, SpeedError: s.SpeedError, VF: vfJSON(s),
	}
	if l := s.LACP; l != nil {
		j.LACP = &SlaveLACPJSON{
			ActorState: uint8(l.ActorState), ActorStateFlags: nonNil(l.ActorState.Names()),
			PartnerState: uint8(l.PartnerState), PartnerStateFlags: nonNil(l.PartnerState.Names()),
		}
	}
	if c := s.Counters; c != nil {
		j.Counters = &CountersJSON{
			RxPackets: c.RxPackets, TxPackets: c.TxPackets, RxBytes: c.RxBytes, TxBytes: c.TxBytes,
			RxErrors: c.RxErrors, TxErrors: c.TxErrors, RxDropped: c.RxDropped, TxDropped: c.TxDropped,
		}
	}
	return j
}

// SpecJSON is the bond the recorded config asks for.
type SpecJSON struct {
	Name             string         `json:"name"`
	Mode             string         `json:"mode"`
	Options          map[string]any `json:"options"`
	MTU              int            `json:"mtu,omitempty"`
	MAC              string         `json:"mac,omitempty"`
	Links            []string       `json:"links"`
	LinksInContainer bool           `json:"linksInContainer"`
	VLAN             *SpecVLANJSON  `json:"vlan,omitempty"`
}

// StrandedJSON is a recorded host link back on the host, awaiting DEL.
type StrandedJSON struct {
	Recorded string `json:"recorded"`
	Name     string `json:"name"`
	Index    int    `json:"index"`
}

// InspectionJSON is GET /v1/attachments/{containerID}/{ifname}.
type InspectionJSON struct {
	Attachment AttachmentJSON `json:"attachment"`
	ReadAt     time.Time      `json:"readAt"`
	Netns      NetnsJSON      `json:"netns"`
	Spec       *SpecJSON      `json:"spec"`
	SpecError  string         `json:"specError,omitempty"`
	Bond       *BondJSON      `json:"bond"`
	BondError  string         `json:"bondError,omitempty"`
	// VLAN is set for an attachment with "vlan" whose device was read.
	VLAN   *VLANJSON   `json:"vlan,omitempty"`
	Slaves []SlaveJSON `json:"slaves"`
	// AsConfigured: the drift was computed and is empty.
	AsConfigured bool           `json:"asConfigured"`
	Drift        []string       `json:"drift"`
	DriftError   string         `json:"driftError,omitempty"`
	Stranded     []StrandedJSON `json:"stranded,omitempty"`
	// UnknownKeys are the recorded config's keys the plugin does not read;
	// KeyHints those that look like a misspelt bond key (the bond was
	// built without them).
	UnknownKeys []string      `json:"unknownKeys,omitempty"`
	KeyHints    []KeyHintJSON `json:"keyHints,omitempty"`
}

// NodeJSON is GET /v1/bonds: every bond of the node, live.
type NodeJSON struct {
	Node    string           `json:"node,omitempty"`
	Version string           `json:"version"`
	Commit  string           `json:"commit"`
	ReadAt  time.Time        `json:"readAt"`
	Count   int              `json:"count"`
	Bonds   []InspectionJSON `json:"bonds"`
	// Unreadable are record files this version cannot read, as in
	// GET /v1/attachments.
	Unreadable []UnreadableJSON `json:"unreadable"`
}

// CodedErrorJSON is a CNI-style error: the code ADD would answer.
type CodedErrorJSON struct {
	Code uint   `json:"code"`
	Msg  string `json:"msg"`
}

// StepJSON is one step of an ADD plan.
type StepJSON struct {
	Kind string `json:"kind"`
	Link string `json:"link,omitempty"`
	Text string `json:"text"`
	// Beside: runs while the following steps do (IPAM ADD).
	Beside bool `json:"beside,omitempty"`
}

// PlanJSON is the plan ADD would execute.
type PlanJSON struct {
	Spec     SpecJSON   `json:"spec"`
	Steps    []StepJSON `json:"steps"`
	Original []LinkJSON `json:"original"`
}

// KeyHintJSON is an unknown key that looks like one of the plugin's.
type KeyHintJSON struct {
	Key string `json:"key"`
	// DidYouMean is the plugin key it probably means; empty for a kernel
	// bonding option the plugin does not set.
	DidYouMean string `json:"didYouMean,omitempty"`
	// Text is the warning the plugin logs for it.
	Text string `json:"text"`
}

func keyHintsJSON(hs []domain.KeyHint) []KeyHintJSON {
	var out []KeyHintJSON
	for _, h := range hs {
		out = append(out, KeyHintJSON{Key: h.Key, DidYouMean: h.Want, Text: h.String()})
	}
	return out
}

// ValidationJSON is POST /v1/validate.
type ValidationJSON struct {
	Valid bool `json:"valid"`
	// Error is the refusal ADD would answer; Errors every problem found.
	Error        *CodedErrorJSON  `json:"error,omitempty"`
	Errors       []CodedErrorJSON `json:"errors,omitempty"`
	Spec         *SpecJSON        `json:"spec,omitempty"`
	Plan         *PlanJSON        `json:"plan,omitempty"`
	Observed     []string         `json:"observed"`
	Placeholders []string         `json:"placeholders"`
	Notes        []string         `json:"notes"`
	UnknownKeys  []string         `json:"unknownKeys,omitempty"`
	KeyHints     []KeyHintJSON    `json:"keyHints,omitempty"`
}

// ErrorJSON is every error the API answers.
type ErrorJSON struct {
	Error struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	} `json:"error"`
}

func macString(m net.HardwareAddr) string {
	if len(m) == 0 {
		return ""
	}
	return m.String()
}

func attachmentURL(id domain.AttachmentID) string {
	return "/v1/attachments/" + url.PathEscape(id.ContainerID) + "/" + url.PathEscape(id.IfName)
}

func linkStateJSON(l domain.LinkState) LinkJSON {
	mac := l.MACText
	if mac == "" {
		mac = macString(l.MAC)
	}
	return LinkJSON{Name: l.Name, Index: l.Index, MTU: l.MTU, MAC: mac, Up: l.Up, Kind: l.Kind}
}

func attachmentJSON(a domain.Attachment) AttachmentJSON {
	j := AttachmentJSON{
		ContainerID: a.ID.ContainerID, IfName: a.ID.IfName, Netns: string(a.Netns), Network: a.Network,
		Phase: string(a.Phase), Mode: a.Mode, PodNamespace: a.PodNamespace, PodName: a.PodName,
		LinksInContainer: a.LinksInContainer, Links: []LinkJSON{}, BondMTU: a.BondMTU, Bond: a.Bond, CreatedAt: a.CreatedAt,
		URL: attachmentURL(a.ID),
	}
	for _, l := range a.Links {
		j.Links = append(j.Links, linkStateJSON(l))
	}
	for _, ip := range a.IPs {
		j.IPs = append(j.IPs, ip.String())
	}
	return j
}

// optionsJSON renders bonding options under the config's key names, with
// enum values by name; options not set (or not reported) are left out.
func optionsJSON(o domain.BondOptions) map[string]any {
	m := map[string]any{}
	for r := range domain.BondOptionRows() {
		if v := r.Value(&o); v != nil {
			m[r.Key] = v
		}
	}
	return m
}

func specJSON(s domain.BondSpec) SpecJSON {
	j := SpecJSON{
		Name: s.Name, Mode: s.Options.Mode.String(), Options: optionsJSON(s.Options), MTU: s.MTU,
		MAC: macString(s.MAC), Links: append([]string{}, s.Links...), LinksInContainer: s.LinksInContainer,
	}
	if v := s.VLAN; v != nil {
		j.VLAN = &SpecVLANJSON{Name: v.Name, ID: v.ID, Protocol: v.Protocol.String(), MTU: v.MTU}
	}
	return j
}

func inspectionJSON(in app.Inspection) InspectionJSON {
	j := InspectionJSON{
		Attachment: attachmentJSON(in.Attachment), ReadAt: in.ReadAt,
		Netns:     NetnsJSON{Path: string(in.Attachment.Netns), Status: string(in.Netns), Error: in.NetnsError},
		SpecError: in.SpecError, BondError: in.BondError, Slaves: []SlaveJSON{},
		Drift: append([]string{}, in.Drift...), DriftError: in.DriftError,
		UnknownKeys: in.UnknownKeys, KeyHints: keyHintsJSON(in.KeyHints),
	}
	j.AsConfigured = in.DriftError == "" && len(in.Drift) == 0 && in.Bond != nil
	if in.Spec != nil {
		s := specJSON(*in.Spec)
		j.Spec = &s
	}
	if b := in.Bond; b != nil {
		bj := &BondJSON{
			Name: b.Link.Name, Index: b.Link.Index, Mode: b.Options.Mode.String(), Options: optionsJSON(b.Options),
			MTU: b.Link.MTU, MAC: macString(b.Link.MAC), Up: b.Link.Up, Carrier: b.Link.Carrier,
			ActiveSlave: b.ActiveSlave, Addresses: []string{},
		}
		addrs := &bj.Addresses
		if v := in.VLAN; v != nil {
			// The addresses are the VLAN device's.
			j.VLAN = &VLANJSON{
				Name: v.Link.Name, Index: v.Link.Index, ID: v.ID, Protocol: v.Protocol.String(), LowerIndex: v.LowerIndex,
				MTU: v.Link.MTU, MAC: macString(v.Link.MAC), Up: v.Link.Up, Carrier: v.Link.Carrier, Addresses: []string{},
			}
			addrs = &j.VLAN.Addresses
		}
		for _, a := range in.Addresses {
			*addrs = append(*addrs, a.Address.String())
		}
		if ad := b.AdInfo; ad != nil {
			bj.AD = &AdJSON{
				AggregatorID: ad.AggregatorID, NumPorts: ad.NumPorts, ActorKey: ad.ActorKey, PartnerKey: ad.PartnerKey,
				PartnerMAC: macString(ad.PartnerMAC), PartnerPresent: in.LACPPartner(),
			}
		}
		j.Bond = bj
	}
	for _, s := range in.Slaves {
		j.Slaves = append(j.Slaves, slaveJSON(in, s))
	}
	for _, s := range in.Stranded {
		j.Stranded = append(j.Stranded, StrandedJSON{Recorded: s.Recorded.Name, Name: s.Now.Name, Index: s.Now.Index})
	}
	return j
}

func validationJSON(v app.ValidationResult) ValidationJSON {
	j := ValidationJSON{
		Valid: v.Valid, Observed: nonNil(v.Observed), Placeholders: nonNil(v.Placeholders),
		Notes: nonNil(v.Notes), UnknownKeys: v.UnknownKeys, KeyHints: keyHintsJSON(v.KeyHints),
	}
	if v.Error != nil {
		j.Error = &CodedErrorJSON{Code: uint(domain.CodeOf(v.Error, codeInternal)), Msg: v.Error.Error()}
	}
	for _, e := range v.Errors {
		j.Errors = append(j.Errors, CodedErrorJSON{Code: uint(domain.CodeOf(e, codeInternal)), Msg: e.Error()})
	}
	if v.Spec != nil {
		s := specJSON(*v.Spec)
		j.Spec = &s
	}
	if p := v.Plan; p != nil {
		pj := &PlanJSON{Spec: specJSON(p.Spec), Steps: []StepJSON{}, Original: []LinkJSON{}}
		for _, st := range p.Steps {
			pj.Steps = append(pj.Steps, StepJSON{Kind: string(st.Kind), Link: st.Link.Name, Text: st.String(), Beside: st.Beside})
		}
		for _, l := range p.Original {
			pj.Original = append(pj.Original, linkStateJSON(l))
		}
		j.Plan = pj
	}
	return j
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// codeInternal is CNI's "internal error" code, for an uncoded error.
const codeInternal domain.Code = 999
