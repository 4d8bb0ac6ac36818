package domain

import "fmt"

// StepKind names one change ADD makes on the node.
type StepKind string

const (
	// StepRecord writes the attachment record (phase adding) before anything
	// on the node changes. Undo: StepForget.
	StepRecord StepKind = "record"
	// StepMoveToPod moves a host link into the pod netns. Undo: StepReturnToHost.
	StepMoveToPod StepKind = "move-to-pod"
	// StepCreateBond creates the bond, down, with every option. Undo: StepDeleteBond.
	StepCreateBond StepKind = "create-bond"
	// StepEnslave sets a link down and enslaves it. Undo: StepRelease.
	StepEnslave StepKind = "enslave"
	// StepBondUp sets the bond up. Undo: StepBondDown.
	StepBondUp StepKind = "bond-up"
	// StepCreateVLAN creates the VLAN device named CNI_IFNAME on the bond,
	// down. Undo: StepDeleteVLAN.
	StepCreateVLAN StepKind = "create-vlan"
	// StepVLANUp sets the VLAN device up; deleting it undoes this too.
	StepVLANUp StepKind = "vlan-up"
	// StepIPAMAdd delegates ADD to IPAM. Undo: StepIPAMDel.
	StepIPAMAdd StepKind = "ipam-add"
	// StepConfigureIP puts the IPAM addresses and routes on CNI_IFNAME (the
	// bond, or the VLAN device). Its undo is that link's deletion, so it has
	// none of its own.
	StepConfigureIP StepKind = "configure-ip"
	// StepMarkReady records that the ADD completed.
	StepMarkReady StepKind = "mark-ready"

	// Undo-only steps.
	StepForget       StepKind = "forget"
	StepReturnToHost StepKind = "return-to-host"
	StepDeleteBond   StepKind = "delete-bond"
	StepDeleteVLAN   StepKind = "delete-vlan"
	StepRelease      StepKind = "release"
	StepBondDown     StepKind = "bond-down"
	StepIPAMDel      StepKind = "ipam-del"
)

// Step is one change, with the original state of the link it concerns.
type Step struct {
	Kind StepKind
	// Link is the link's state before the ADD (link steps only).
	Link LinkState
	// InPod tells a release step that the link stays in the pod and must get
	// its recorded state back there (linksInContainer).
	InPod bool
	// Beside: the step depends on nothing the steps after it do, so it may
	// run while they do, until the first step that NeedsIPAM. Only IPAM ADD
	// is planned so, and only for an IPAM that does not need the bond.
	Beside bool
}

func (s Step) String() string {
	if s.Link.Name != "" {
		return fmt.Sprintf("%s %s", s.Kind, s.Link.Name)
	}
	return string(s.Kind)
}

// NeedsIPAM tells whether a step uses IPAM ADD's result: an IPAM ADD
// running beside the kernel steps must have finished before it starts.
func (k StepKind) NeedsIPAM() bool { return k == StepConfigureIP || k == StepMarkReady }

// IPAMNeedsLink tells whether an IPAM plugin type needs the interface to
// exist and be up for its ADD (and to still exist for its DEL): dhcp takes
// and releases its lease on the bond itself. Every other IPAM allocates
// from its own state, independently of the kernel work.
func IPAMNeedsLink(ipamType string) bool { return ipamType == "dhcp" }

// Undo returns the step that reverts s, and false if s needs none.
func (s Step) Undo() (Step, bool) {
	switch s.Kind {
	case StepRecord:
		return Step{Kind: StepForget}, true
	case StepMoveToPod:
		return Step{Kind: StepReturnToHost, Link: s.Link}, true
	case StepCreateBond:
		return Step{Kind: StepDeleteBond}, true
	case StepEnslave:
		return Step{Kind: StepRelease, Link: s.Link, InPod: s.InPod}, true
	case StepBondUp:
		return Step{Kind: StepBondDown}, true
	case StepCreateVLAN:
		return Step{Kind: StepDeleteVLAN}, true
	case StepIPAMAdd:
		return Step{Kind: StepIPAMDel}, true
	}
	return Step{}, false
}

// AddInput is what ADD observed before planning: the validated spec and
// the state of every configured link where it is expected (the host netns,
// or the pod for linksInContainer), in spec order.
type AddInput struct {
	Spec  BondSpec
	Links []Link
	// IfnameTaken: a link named CNI_IFNAME (Spec.IfName()) already exists
	// in the pod.
	IfnameTaken bool
	// BondNameTaken: with a VLAN, a link with the bond's derived name
	// (Spec.Name) already exists in the pod.
	BondNameTaken bool
	// HasIPAM: the config names an IPAM plugin.
	HasIPAM bool
	// IPAMNeedsLink: that plugin needs the bond up (IPAMNeedsLink), so
	// its ADD cannot run beside the kernel steps.
	IPAMNeedsLink bool
	// VFs holds the SR-IOV facts of the links that are VFs, by name.
	VFs map[string]VF
}

// Plan is the ordered list of changes an ADD makes, and the spec adjusted
// to what was observed (the effective MTU).
type Plan struct {
	Spec  BondSpec
	Steps []Step
	// Started is how many of Steps are AddStart's: ADD runs those before
	// it checks the links, the rest once PlanAdd has accepted them.
	Started int
	// Original holds the links' states before the ADD, recorded durably.
	Original []LinkState
}

// AddStart returns the steps an ADD runs once it has found the links
// (their original states are known, so the record holds them) and before
// it checks them: for an IPAM that needs nothing of the bond, the record
// (so that from then on a DEL can undo anything, an IPAM allocation
// included) and IPAM ADD beside everything after it, so that the IPAM
// plugin's exec, the longest single step, overlaps checking the links and
// planning as well as the kernel steps. Otherwise none: the record is
// written once the plan is made, and IPAM ADD follows the bond.
func AddStart(hasIPAM, ipamNeedsLink bool) []Step {
	if !hasIPAM || ipamNeedsLink {
		return nil
	}
	return []Step{{Kind: StepRecord}, {Kind: StepIPAMAdd, Beside: true}}
}

// PlanAdd checks the observed links against the spec and returns the steps
// of the ADD, AddStart's first (Plan.Started). It changes nothing; every
// refusal happens here, before any link changes (ADD then undoes what
// AddStart's steps did: the IPAM allocation and the record).
func PlanAdd(in AddInput) (Plan, error) {
	spec := in.Spec
	if in.IfnameTaken {
		return Plan{}, Errorf(CodeIfnameExists, "CNI_IFNAME %q already exists in the pod; choose another interface name or remove the existing link", spec.IfName())
	}
	if in.BondNameTaken {
		return Plan{}, Errorf(CodeIfnameExists, "vlan: the bond under VLAN device %q is named %q, and a link of that name already exists in the pod; remove it or choose another CNI_IFNAME", spec.IfName(), spec.Name)
	}
	if len(in.Links) != len(spec.Links) {
		return Plan{}, Errorf(CodeLinkNotFound, "links: %d configured but %d found", len(spec.Links), len(in.Links))
	}
	where := "host"
	if spec.LinksInContainer {
		where = "pod"
	}
	for _, l := range in.Links {
		if l.Name == "lo" || l.Loopback {
			return Plan{}, Errorf(CodeUnsafeHostLink, "links: %q is the loopback interface; it cannot be enslaved", l.Name)
		}
		if l.IsMaster {
			return Plan{}, Errorf(CodeLinkBusy, "links: %q in the %s netns is itself a master (%s); only plain links can be enslaved", l.Name, where, kindName(l.Kind))
		}
		if l.MasterIndex != 0 {
			return Plan{}, Errorf(CodeLinkBusy, "links: %q in the %s netns is already enslaved to ifindex %d; release it first", l.Name, where, l.MasterIndex)
		}
	}
	if spec.Options.Mode == ModeBalanceTLB || spec.Options.Mode == ModeBalanceALB {
		seen := map[string]string{}
		for _, l := range in.Links {
			if l.MAC == nil {
				continue
			}
			if other, dup := seen[l.MAC.String()]; dup {
				return Plan{}, Errorf(CodeLinkUnusable, "links: %q and %q share MAC %s; mode %s needs a distinct MAC on every slave", other, l.Name, l.MAC, spec.Options.Mode)
			}
			seen[l.MAC.String()] = l.Name
		}
	}
	if spec.MTU == 0 {
		// Enslaving pushes the bond's MTU onto every slave; a bond created
		// without one would force 1500 on them. Keep the slaves' MTU (the
		// smallest, so every slave can carry it).
		for _, l := range in.Links {
			if spec.MTU == 0 || l.MTU < spec.MTU {
				spec.MTU = l.MTU
			}
		}
	}

	if err := checkMTU(spec, in.Links, in.Spec.MTU != 0); err != nil {
		return Plan{}, err
	}
	if v := spec.VLAN; v != nil && v.MTU > spec.MTU {
		return Plan{}, Errorf(CodeInvalidConfig, "vlanMtu: %d is more than the bond's MTU %d (mtu is omitted, so the bond keeps the links' smallest MTU); a VLAN device cannot be bigger than the bond it sits on: lower vlanMtu or set mtu", v.MTU, spec.MTU)
	}

	p := Plan{Spec: spec}
	p.Original = StatesOf(in.Links)
	// The record comes first, with the links' original states: from then
	// on a DEL can undo anything, including an IPAM allocation.
	start := AddStart(in.HasIPAM, in.IPAMNeedsLink)
	p.Steps, p.Started = append(p.Steps, start...), len(start)
	if len(start) == 0 {
		p.Steps = append(p.Steps, Step{Kind: StepRecord})
	}
	if !spec.LinksInContainer {
		for _, s := range p.Original {
			p.Steps = append(p.Steps, Step{Kind: StepMoveToPod, Link: s})
		}
	}
	p.Steps = append(p.Steps, Step{Kind: StepCreateBond})
	for _, s := range p.Original {
		p.Steps = append(p.Steps, Step{Kind: StepEnslave, Link: s, InPod: spec.LinksInContainer})
	}
	p.Steps = append(p.Steps, Step{Kind: StepBondUp})
	if spec.VLAN != nil {
		p.Steps = append(p.Steps, Step{Kind: StepCreateVLAN}, Step{Kind: StepVLANUp})
	}
	if in.HasIPAM && len(start) == 0 {
		p.Steps = append(p.Steps, Step{Kind: StepIPAMAdd})
	}
	if in.HasIPAM {
		p.Steps = append(p.Steps, Step{Kind: StepConfigureIP})
	}
	p.Steps = append(p.Steps, Step{Kind: StepMarkReady})
	return p, nil
}

func kindName(kind string) string {
	if kind == "" {
		return "master"
	}
	return kind
}

// checkMTU refuses a bond MTU that a link's driver cannot take: enslaving
// pushes the bond's MTU onto every link, and the kernel would refuse it
// (ERANGE) only after the links were moved and the bond created.
func checkMTU(spec BondSpec, links []Link, configured bool) error {
	lo, hi := 0, 0 // the MTUs every link can take; hi 0 = no upper limit
	var bad *Link
	for i, l := range links {
		lo = max(lo, l.MinMTU)
		if l.MaxMTU > 0 && (hi == 0 || l.MaxMTU < hi) {
			hi = l.MaxMTU
		}
		if bad == nil && (l.MaxMTU > 0 && spec.MTU > l.MaxMTU || spec.MTU < l.MinMTU) {
			bad = &links[i]
		}
	}
	if bad == nil {
		return nil
	}
	where := "host"
	if spec.LinksInContainer {
		where = "pod"
	}
	rng := fmt.Sprintf("%d..", bad.MinMTU)
	if bad.MaxMTU > 0 {
		rng += fmt.Sprint(bad.MaxMTU)
	}
	var fix string
	switch {
	case hi > 0 && lo > hi:
		fix = fmt.Sprintf("no MTU suits every link (one needs at least %d, another takes at most %d): bond links whose MTU ranges overlap", lo, hi)
	case hi > 0:
		fix = fmt.Sprintf("set \"mtu\" within %d..%d, the MTUs every link can take", max(lo, 68), hi)
	default:
		fix = fmt.Sprintf("set \"mtu\" to at least %d", lo)
	}
	what := fmt.Sprintf("mtu: %d", spec.MTU)
	if !configured {
		what = fmt.Sprintf("mtu: omitted, so the bond keeps the links' smallest MTU, %d, which", spec.MTU)
	}
	return Errorf(CodeLinkUnusable, "%s is outside the MTU range of link %q in the %s netns (%s, as its driver reports); %s",
		what, bad.Name, where, rng, fix)
}
