package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bondcni/bond/domain"
)

// The read-only use cases behind the debug daemon (bond-debugd). They only
// read: attachment records through the Store, the kernel through Links,
// Bonds, Addresses, Namespaces and LinkProps. They take no lock, so they
// can never delay an ADD or a DEL.

// NetnsStatus tells whether an attachment's recorded netns is still there.
type NetnsStatus string

const (
	// NetnsPresent: the path is a network namespace.
	NetnsPresent NetnsStatus = "present"
	// NetnsGone: the path no longer exists; the pod is gone (a DEL is due).
	NetnsGone NetnsStatus = "gone"
	// NetnsInvalid: the path exists but is not a network namespace, or
	// could not be checked (NetnsError says why).
	NetnsInvalid NetnsStatus = "invalid"
)

// SlaveInspection is one slave of a live bond: what the bond reports of it,
// plus the speed and duplex its driver reports.
type SlaveInspection struct {
	domain.SlaveState
	// SpeedMbps and Duplex from the driver (ethtool); 0 and "" when it
	// reports none, with SpeedError saying why.
	SpeedMbps  int
	Duplex     string
	SpeedError string
	// VF holds the SR-IOV facts of a slave that is a VF (nil otherwise);
	// SharedPF names another slave that is a VF of the same PF.
	VF       *domain.VF
	SharedPF string
}

// StrandedLink is a recorded host link found back on the host after its pod
// netns died (the kernel may have renamed it devN); DEL restores it.
type StrandedLink struct {
	Recorded domain.LinkState
	Now      domain.Link
}

// Inspection is one attachment: its record, and its bond as the kernel
// reports it now, compared with the recorded spec.
type Inspection struct {
	Attachment domain.Attachment
	// ReadAt is when the kernel was read.
	ReadAt time.Time

	Netns      NetnsStatus
	NetnsError string

	// Spec is the bond the recorded config asks for; SpecError says why
	// there is none (a record without a config, or one that no longer
	// validates).
	Spec      *domain.BondSpec
	SpecError string

	// Bond is the live bond (nil when it could not be read: BondError
	// says why, e.g. the netns is gone or the bond is missing).
	Bond      *domain.BondState
	BondError string
	Slaves    []SlaveInspection
	// VLAN is the live VLAN device named CNI_IFNAME on the bond, for an
	// attachment with "vlan" (nil otherwise, or when it could not be read:
	// the drift says why). Addresses are then the VLAN device's.
	VLAN      *domain.VLANState
	Addresses []domain.IPConfig

	// Drift lists how the live bond differs from the recorded spec, as
	// CHECK sees it (empty: as configured). DriftError says why it could
	// not be computed.
	Drift      []string
	DriftError string

	// Stranded lists recorded host links found back on the host while
	// the netns is gone.
	Stranded []StrandedLink

	// UnknownKeys and KeyHints are those of the recorded config.
	UnknownKeys []string
	KeyHints    []domain.KeyHint
}

// LACPPartner reports whether the bond is 802.3ad and its active
// aggregator has a partner (a non-zero partner MAC).
func (in Inspection) LACPPartner() bool {
	if in.Bond == nil || in.Bond.Options.Mode != domain.Mode8023AD || in.Bond.AdInfo == nil {
		return false
	}
	for _, b := range in.Bond.AdInfo.PartnerMAC {
		if b != 0 {
			return true
		}
	}
	return false
}

// ListAttachments returns every recorded attachment, oldest first.
func (s *Service) ListAttachments(ctx context.Context) ([]domain.Attachment, error) {
	recs, err := s.d.Store.List(ctx)
	if err != nil {
		return nil, domain.Errorf(domain.CodeIOFailure, "listing attachment records: %w", err)
	}
	slices.SortStableFunc(recs, func(a, b domain.Attachment) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.ID.ContainerID, b.ID.ContainerID); c != 0 {
			return c
		}
		return strings.Compare(a.ID.IfName, b.ID.IfName)
	})
	return recs, nil
}

// UnreadableRecords lists the records the store cannot read: their
// attachments' links cannot be returned by DEL until the node admin repairs
// or removes them.
func (s *Service) UnreadableRecords(ctx context.Context) ([]domain.UnreadableRecord, error) {
	bad, err := s.d.Store.Unreadable(ctx)
	if err != nil {
		return nil, domain.Errorf(domain.CodeIOFailure, "listing attachment records: %w", err)
	}
	return bad, nil
}

// Inspect reads one attachment's bond in its recorded netns. An unknown
// attachment is an error wrapping domain.ErrNotFound; everything that
// cannot be read live (netns gone, bond missing, a slave without speed) is
// reported in the Inspection, not as an error.
func (s *Service) Inspect(ctx context.Context, id domain.AttachmentID) (Inspection, error) {
	rec, err := s.d.Store.Load(ctx, id)
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return Inspection{}, fmt.Errorf("attachment %s/%s: %w", id.ContainerID, id.IfName, domain.ErrNotFound)
		}
		return Inspection{}, domain.Errorf(domain.CodeStateCorrupt, "reading attachment record: %w", err)
	}
	return s.inspect(ctx, rec), nil
}

func (s *Service) inspect(ctx context.Context, rec domain.Attachment) Inspection {
	in := Inspection{Attachment: rec, ReadAt: s.d.Clock.Now().UTC(), Netns: NetnsPresent}

	if len(rec.Config) == 0 {
		in.SpecError = "the record holds no network config"
	} else if cfg, spec, err := domain.ParseSpec(rec.Config, rec.ID.IfName, domain.SpecOptions{}); err != nil {
		in.SpecError = "recorded config: " + err.Error()
		if cfg != nil {
			in.UnknownKeys, in.KeyHints = cfg.UnknownKeys, cfg.KeyHints
		}
	} else {
		in.Spec = &spec
		in.UnknownKeys, in.KeyHints = cfg.UnknownKeys, cfg.KeyHints
	}

	if err := s.d.Namespaces.Check(ctx, rec.Netns); err != nil {
		in.Netns, in.NetnsError = NetnsInvalid, err.Error()
		if errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrNetnsGone) {
			in.Netns = NetnsGone
		}
		in.BondError = "netns " + string(rec.Netns) + " is " + string(in.Netns)
		in.DriftError = "not compared: " + in.BondError
		if in.Netns == NetnsGone && !rec.LinksInContainer {
			in.Stranded = s.strandedLinks(ctx, rec)
		}
		return in
	}

	bondName := bondNameOf(rec)
	st, err := s.d.Bonds.Bond(ctx, rec.Netns, bondName)
	var vdrift []string
	switch {
	case errors.Is(err, domain.ErrNotFound):
		in.BondError = "bond " + bondName + " is missing from the pod"
	case errors.Is(err, domain.ErrNotBond):
		in.BondError = bondName + " in the pod is not a bond (kind " + fmt.Sprintf("%q", st.Link.Kind) + ")"
	case err != nil:
		in.BondError = err.Error()
	default:
		in.Bond = &st
		for _, sl := range st.Slaves {
			si := SlaveInspection{SlaveState: sl}
			mbps, duplex, err := s.d.Props.Speed(ctx, rec.Netns, sl.Link.Name)
			if err != nil {
				si.SpeedError = err.Error()
			} else {
				si.SpeedMbps, si.Duplex = mbps, duplex
			}
			in.Slaves = append(in.Slaves, si)
		}
		s.inspectVFs(ctx, rec.Netns, in.Slaves)
		iface := st.Link.Index // whose addresses are the attachment's
		if in.Spec != nil && in.Spec.VLAN != nil {
			vs, d, err := s.vlanDrift(ctx, *in.Spec, rec, st.Link)
			switch {
			case err != nil:
				in.BondError, iface = err.Error(), -1
			case vs == nil:
				iface = 0 // missing: so are its addresses
			default:
				in.VLAN, iface = vs, vs.Link.Index
			}
			vdrift = d
		}
		switch {
		case iface == 0:
			in.Addresses = []domain.IPConfig{}
		case iface > 0:
			addrs, err := s.d.Addresses.Addresses(ctx, rec.Netns, iface)
			if err != nil {
				in.BondError = "listing addresses: " + err.Error()
			} else {
				in.Addresses = addrs
			}
		} // iface < 0: the VLAN device is unreadable, nothing is compared
	}

	switch {
	case in.Spec == nil:
		in.DriftError = in.SpecError
	case in.Bond == nil || in.Addresses == nil && in.BondError != "":
		in.DriftError = "not compared: " + in.BondError
	default:
		// The same comparison as CHECK, on the state read above (with the
		// record's addresses, since the daemon has no prevResult).
		drift, err := driftOf(*in.Spec, rec, *in.Bond, in.Addresses, nil)
		if err != nil {
			in.DriftError = err.Error()
		} else {
			drift = append(drift, domain.VFSlaveDrift(*in.Bond, vfsOf(in.Slaves))...)
			in.Drift = append(drift, vdrift...)
		}
	}
	return in
}

// strandedLinks finds the recorded host links that are back on the host
// (by ifindex, name or MAC, as DEL would), reading only.
func (s *Service) strandedLinks(ctx context.Context, rec domain.Attachment) []StrandedLink {
	var out []StrandedLink
	for _, l := range rec.Links {
		now, found, err := s.findOnHost(ctx, l)
		if err == nil && found {
			out = append(out, StrandedLink{Recorded: l, Now: now})
		}
	}
	return out
}

// ValidationResult is what POST /v1/validate answers: whether the config
// is valid and, if it is, the plan ADD would execute now.
type ValidationResult struct {
	// Valid: the config passes every check ADD makes before it changes
	// anything, on the links as observed (or as placeholders): ADD would
	// not fail now for any reason a validation can see.
	Valid bool
	// Error is the refusal ADD would answer (with its CNI code); nil when
	// Valid.
	Error error
	// Errors lists every problem found: each type, range and cross-key
	// problem of the config, then each link that ADD would refuse. Error
	// is the first.
	Errors []error
	// Spec is the validated bond (before the plan fixes its MTU).
	Spec *domain.BondSpec
	// Plan is what ADD would do, in order.
	Plan *domain.Plan
	// Observed lists the links read live; Placeholders those that could not
	// be (in a pod netns the validation does not know), for which the plan
	// uses a link with unknown MTU and MAC.
	Observed     []string
	Placeholders []string
	// Notes explain what the plan could not know.
	Notes []string
	// UnknownKeys are top-level keys the plugin does not read (they still
	// reach IPAM); KeyHints those that look like a misspelt bond key.
	UnknownKeys []string
	KeyHints    []domain.KeyHint
}

func (r *ValidationResult) fail(err error) {
	var de *domain.Error
	if errors.As(err, &de) && len(de.Problems) > 1 {
		for _, p := range de.Problems {
			r.Errors = append(r.Errors, &domain.Error{Code: de.Code, Msg: p})
		}
	} else {
		r.Errors = append(r.Errors, err)
	}
	if r.Error == nil {
		r.Error = err
	}
}

// Validate checks a network config as ADD would for a bond named ifname
// (empty: the config's "ifname"), and returns the plan ADD would execute.
// It touches nothing. Host links are looked up read-only; links that would
// be in the pod (linksInContainer) become placeholders, which the result
// says. A host link that is missing or that ADD would refuse makes the
// result invalid, with the code ADD would answer. The returned error is
// only for failures of the daemon itself; an invalid config is a result.
func (s *Service) Validate(ctx context.Context, config []byte, ifname string) (ValidationResult, error) {
	var res ValidationResult
	cfg, spec, err := domain.ParseSpec(config, ifname, s.specOptions())
	if cfg != nil {
		res.UnknownKeys, res.KeyHints = cfg.UnknownKeys, cfg.KeyHints
	}
	if err != nil {
		res.fail(err)
		return res, nil
	}
	res.Spec = &spec
	if err := s.d.Node.Admit(spec); err != nil {
		res.Error = err
		return res, nil
	}
	in := domain.AddInput{Spec: spec, HasIPAM: cfg.IPAMType != "", IPAMNeedsLink: domain.IPAMNeedsLink(cfg.IPAMType)}
	if spec.LinksInContainer {
		res.Notes = append(res.Notes, "linksInContainer: the links are looked up in the pod netns at ADD, which a validation has none of; the plan uses placeholders for them, and does not know whether "+spec.Name+" is taken in the pod")
		for _, name := range spec.Links {
			in.Links = append(in.Links, placeholder(name))
			res.Placeholders = append(res.Placeholders, name)
		}
	} else {
		res.Notes = append(res.Notes, "no pod netns: the plan does not know whether "+spec.Name+" is taken in the pod")
		for _, name := range spec.Links {
			l, err := s.d.Links.Link(ctx, domain.HostNetns, name)
			switch {
			case errors.Is(err, domain.ErrNotFound):
				if h := s.holderOf(ctx, name); h != "" {
					res.fail(domain.Errorf(domain.CodeLinkBusy, "links: %q is not in the host netns: it is held by %s", name, h))
				} else {
					res.fail(domain.Errorf(domain.CodeLinkNotFound, "links: %q is not in the host netns", name))
				}
				continue
			case err != nil:
				return res, wrapPort(err, "looking up %q in the host netns", name)
			}
			if err := s.d.Node.AdmitHostLink(name, l.Name); err != nil {
				res.Error = err
				return res, nil
			}
			if err := s.checkLink(ctx, spec, domain.HostNetns, l); err != nil {
				res.fail(err)
				continue
			}
			in.Links = append(in.Links, l)
			res.Observed = append(res.Observed, name)
		}
		// ADD's SR-IOV rules on the links observed (VFs named as host links).
		if _, err := s.checkVFs(ctx, spec, domain.HostNetns, observed(in.Links, res.Observed)); err != nil {
			res.Error = err
			return res, nil
		}
	}
	if len(res.Placeholders) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("placeholders for %s: MTU and MAC unknown, so the plan's MTU is 0 (\"the links' smallest\") unless the config sets one, and duplicate MACs (balance-tlb/alb) are not checked", strings.Join(res.Placeholders, ", ")))
	}
	if len(res.Errors) > 0 {
		return res, nil
	}
	plan, err := domain.PlanAdd(in)
	if err != nil {
		res.fail(err)
		return res, nil
	}
	res.Valid = true
	res.Plan = &plan
	return res, nil
}

// placeholder stands for a link that cannot be observed: a plain, unenslaved
// link whose MTU (0) and MAC (none) are unknown.
func placeholder(name string) domain.Link {
	return domain.Link{Name: name}
}
