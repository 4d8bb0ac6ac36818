package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/bondcni/bond/domain"
)

// Add builds the bond: it validates everything, plans the changes in the
// domain, executes them, and on any failure undoes them in reverse so the
// node is left as it was found.
func (s *Service) Add(ctx context.Context, req Request) (domain.Result, error) {
	cfg, spec, err := s.parseSpec("ADD", req)
	if err != nil {
		return domain.Result{}, err
	}
	if cfg.IfName != "" && cfg.IfName != req.IfName {
		s.log.Warn("config ifname differs from CNI_IFNAME; CNI_IFNAME wins", "ifname", cfg.IfName, "CNI_IFNAME", req.IfName)
	}
	if err := s.d.Node.Admit(spec); err != nil {
		return domain.Result{}, err
	}
	if err := s.checkPodNetns(ctx, req.Netns); err != nil {
		return domain.Result{}, err
	}
	if _, err := s.d.Store.Load(ctx, req.id()); err == nil {
		return domain.Result{}, domain.Errorf(domain.CodeLinkBusy, "attachment %s/%s is already recorded; the runtime must DEL it before adding it again", req.ContainerID, req.IfName)
	} else if !errors.Is(err, domain.ErrNotFound) {
		return domain.Result{}, domain.Errorf(domain.CodeIOFailure, "reading attachment record: %w", err)
	}

	if !spec.LinksInContainer {
		// Host links are shared by every pod on the node: claim them before
		// looking, so two ADDs racing for the same NIC serialise and the
		// loser sees it gone (or enslaved) when its turn comes.
		release, err := s.claimHostLinks(ctx, spec.Links, req)
		if err != nil {
			return domain.Result{}, err
		}
		defer release()
	}
	// A taken CNI_IFNAME is refused before IPAM is asked for anything: an
	// IPAM DEL to undo it would release the addresses of the attachment
	// that holds the name under the same container ID. So are the refusals
	// of the config itself: a link that is not there, a host link the node
	// does not offer.
	in, err := s.namesFree(ctx, req, spec)
	if err != nil {
		return domain.Result{}, err
	}
	if in.IfnameTaken || in.BondNameTaken {
		_, err := domain.PlanAdd(in)
		return domain.Result{}, err
	}
	if err := s.lookUp(ctx, req, spec, &in); err != nil {
		return domain.Result{}, err
	}
	in.HasIPAM = cfg.IPAMType != ""
	in.IPAMNeedsLink = domain.IPAMNeedsLink(cfg.IPAMType)

	podNS, podName := podRef(req.Args)
	run := &addRun{
		s: s, req: req, cfg: cfg, spec: spec,
		podIdx: map[string]int{},
		rec: domain.Attachment{
			ID: req.id(), Netns: req.Netns, Network: cfg.Name, Phase: domain.PhaseAdding,
			CreatedAt: s.d.Clock.Now().UTC(), LinksInContainer: spec.LinksInContainer,
			Mode: spec.Options.Mode.String(), Links: domain.StatesOf(in.Links), BondMTU: spec.MTU, Bond: bondField(spec),
			PodNamespace: podNS, PodName: podName, Config: req.Config,
		},
	}
	defer run.settle() // on a panic too: the IPAM branch must not outlive the call unseen
	start := domain.AddStart(in.HasIPAM, in.IPAMNeedsLink)
	if err := run.execute(ctx, start, false); err != nil {
		return domain.Result{}, err
	}
	if err := s.observe(ctx, req, spec, &in); err != nil {
		return domain.Result{}, run.abandon(ctx, err)
	}
	plan, err := domain.PlanAdd(in)
	if err != nil {
		return domain.Result{}, run.abandon(ctx, err)
	}
	run.spec, run.vfs = plan.Spec, in.VFs
	run.rec.BondMTU = plan.Spec.MTU // recorded with the ready phase
	for _, l := range in.Links {
		if spec.LinksInContainer {
			run.podIdx[l.Name] = l.Index
		}
	}
	if err := run.execute(ctx, plan.Steps[plan.Started:], true); err != nil {
		return domain.Result{}, err
	}
	return run.result(), nil
}

// namesFree tells whether CNI_IFNAME (and, with a VLAN, the bond's own
// name) is taken in the pod.
func (s *Service) namesFree(ctx context.Context, req Request, spec domain.BondSpec) (domain.AddInput, error) {
	in := domain.AddInput{Spec: spec}
	if _, err := s.d.Links.Link(ctx, req.Netns, spec.IfName()); err == nil {
		in.IfnameTaken = true
		return in, nil // PlanAdd refuses it; nothing else matters
	} else if !errors.Is(err, domain.ErrNotFound) {
		return in, wrapPort(err, "looking up %q in the pod", spec.IfName())
	}
	if spec.VLAN != nil {
		taken, err := s.nameTaken(ctx, req.Netns, spec.Name)
		in.BondNameTaken = taken
		return in, err
	}
	return in, nil
}

// lookUp finds each configured link where it should be (host netns, or
// the pod with linksInContainer) and admits a host link by the name the
// kernel reports, into in.Links. Everything that refuses the config
// itself (a missing link, a host link the node admin does not offer) is
// here, before IPAM ADD starts.
func (s *Service) lookUp(ctx context.Context, req Request, spec domain.BondSpec, in *domain.AddInput) error {
	where, whereName := s.linksNetns(req, spec)
	for _, name := range spec.Links {
		l, err := s.d.Links.Link(ctx, where, name)
		if errors.Is(err, domain.ErrNotFound) {
			hint := ""
			if !spec.LinksInContainer {
				if h := s.holderOf(ctx, name); h != "" {
					// Who holds it is for the node's log, not this pod's events.
					s.log.Warn("host link held by another attachment", "link", name, "holder", h, "for", req.ContainerID)
					return domain.Errorf(domain.CodeLinkBusy, "links: %q is not in the host netns: it is held by another attachment", name)
				}
				hint = " (set \"linksInContainer\": true if an earlier plugin put it in the pod)"
			}
			return domain.Errorf(domain.CodeLinkNotFound, "links: %q not found in the %s netns%s", name, whereName, hint)
		}
		if err != nil {
			return wrapPort(err, "links: looking up %q in the %s netns", name, whereName)
		}
		if !spec.LinksInContainer {
			if err := s.d.Node.AdmitHostLink(name, l.Name); err != nil {
				return err
			}
		}
		in.Links = append(in.Links, l)
	}
	return nil
}

// observe reads, without changing anything, the rest of what the plan
// depends on about the links lookUp found: host-link safety, speed and
// duplex, SR-IOV facts. It runs beside IPAM ADD.
func (s *Service) observe(ctx context.Context, req Request, spec domain.BondSpec, in *domain.AddInput) error {
	where, _ := s.linksNetns(req, spec)
	for _, l := range in.Links {
		if err := s.checkLink(ctx, spec, where, l); err != nil {
			return err
		}
	}
	var err error
	in.VFs, err = s.checkVFs(ctx, spec, where, in.Links)
	return err
}

// linksNetns is where the configured links are before ADD.
func (s *Service) linksNetns(req Request, spec domain.BondSpec) (domain.Netns, string) {
	if spec.LinksInContainer {
		return req.Netns, "pod"
	}
	return domain.HostNetns, "host"
}

// addRun executes one ADD plan and remembers what it needs to undo it.
type addRun struct {
	s      *Service
	req    Request
	cfg    *domain.Config
	spec   domain.BondSpec
	rec    domain.Attachment
	podIdx map[string]int // slave name -> ifindex in the pod
	vfs    map[string]domain.VF
	bond   domain.Link
	vlan   domain.Link // the VLAN device, with "vlan"
	ipam   domain.IPAMResult
	// done holds the completed steps, of both branches, in plan order.
	done []domain.Step
	// side is the step running beside the others (IPAM ADD), if any.
	side *sideStep
}

// execute runs steps after those already done, in order; a step planned
// Beside (IPAM ADD) runs in its own goroutine while the following ones
// run, and is waited for before the first step that needs it, before any
// undo, and, when last, before returning. On a failure in either branch,
// every step that completed, in either, is undone in reverse plan order,
// so rollback stays exact.
func (r *addRun) execute(ctx context.Context, steps []domain.Step, last bool) error {
	for _, st := range steps {
		if sst, err := r.sideFailed(st); err != nil {
			// A failed IPAM ADD also stops the kernel branch early.
			return r.fail(ctx, sst, err)
		}
		if st.Beside {
			r.side = r.startBeside(ctx, st, len(r.done))
			continue
		}
		if r.s.d.BeforeStep != nil {
			r.s.d.BeforeStep(st)
		}
		if err := r.do(ctx, st); err != nil {
			return r.fail(ctx, st, err)
		}
		r.done = append(r.done, st)
	}
	if last && r.side != nil {
		st := r.side.st
		if err := r.join(); err != nil {
			return r.fail(ctx, st, err)
		}
	}
	return nil
}

// join waits for the side step; once it succeeded it counts as done at
// the place it was started.
func (r *addRun) join() error {
	s := r.side
	if s == nil {
		return nil
	}
	r.side = nil
	if err := s.wait(); err != nil {
		return err
	}
	r.done = slices.Insert(r.done, s.at, s.st)
	return nil
}

// sideFailed joins a side step that has to be (before a step that needs
// it) or that has already finished, and returns its error.
func (r *addRun) sideFailed(next domain.Step) (domain.Step, error) {
	if r.side == nil || !next.Kind.NeedsIPAM() && !r.side.done() {
		return domain.Step{}, nil
	}
	st := r.side.st
	return st, r.join()
}

// fail undoes everything done, once the other branch has finished.
func (r *addRun) fail(ctx context.Context, st domain.Step, err error) error {
	r.s.log.Error("ADD step failed; undoing", "step", st.String(), "err", err)
	return r.rollBack(ctx, err)
}

// abandon undoes the steps run before the links were checked, when the
// checks or planning refuse the ADD.
func (r *addRun) abandon(ctx context.Context, err error) error {
	if len(r.done) > 0 || r.side != nil {
		r.s.log.Info("ADD refused after its first steps; undoing them", "err", err)
	}
	return r.rollBack(ctx, err)
}

func (r *addRun) rollBack(ctx context.Context, err error) error {
	if r.side != nil {
		st := r.side.st
		if serr := r.join(); serr != nil {
			err = fmt.Errorf("%w; %s beside it failed too: %w", err, st, serr)
		}
	}
	if uerr := r.undo(ctx, r.done); uerr != nil {
		return fmt.Errorf("%w; undo incomplete, the attachment record is kept so DEL can finish it: %w", err, uerr)
	}
	return err
}

// settle waits for a side step still running; Add defers it, so that the
// branch never outlives the call, even on a panic.
func (r *addRun) settle() {
	if r.side != nil {
		<-r.side.finished
	}
}

// sideStep is a step running beside the others.
type sideStep struct {
	st domain.Step
	at int // its place among the done steps, for undo order
	*branch
}

// startBeside runs st in a goroutine. It changes only what st's own do
// changes (IPAM ADD sets r.ipam), which nothing reads before the join.
func (r *addRun) startBeside(ctx context.Context, st domain.Step, at int) *sideStep {
	var then func()
	if done := r.s.d.BesideDone; done != nil {
		then = func() { done(st) }
	}
	return &sideStep{st: st, at: at, branch: goBranch(func() error {
		if r.s.d.BeforeStep != nil {
			r.s.d.BeforeStep(st)
		}
		return r.do(ctx, st)
	}, then)}
}

// undo reverts done steps in reverse order. It goes on past a failing undo
// and keeps the record if anything could not be reverted.
func (r *addRun) undo(ctx context.Context, done []domain.Step) error {
	// Undo runs even when the caller's context is cancelled.
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for _, st := range slices.Backward(done) {
		u, ok := st.Undo()
		if !ok {
			continue
		}
		if u.Kind == domain.StepForget && len(errs) > 0 {
			continue
		}
		if err := r.do(ctx, u); err != nil {
			r.s.log.Error("undo step failed", "step", u.String(), "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
		}
	}
	return errors.Join(errs...)
}

func (r *addRun) do(ctx context.Context, st domain.Step) error {
	d := r.s.d
	pod := r.req.Netns
	r.s.log.Debug("step", "step", st.String())
	switch st.Kind {
	case domain.StepRecord:
		if err := d.Store.Save(ctx, r.rec); err != nil {
			return domain.Errorf(domain.CodeIOFailure, "recording attachment: %w", err)
		}
	case domain.StepForget:
		return d.Store.Delete(ctx, r.rec.ID)
	case domain.StepMoveToPod:
		l, err := d.Links.Move(ctx, domain.HostNetns, st.Link.Index, pod, st.Link.Name)
		if err != nil {
			return wrapPort(err, "moving %q into the pod", st.Link.Name)
		}
		r.podIdx[st.Link.Name] = l.Index
		for i := range r.rec.Links {
			if r.rec.Links[i].Name == st.Link.Name {
				r.rec.Links[i].PodIndex = l.Index // saved with the ready record
			}
		}
	case domain.StepReturnToHost:
		idx, ok := r.podIdx[st.Link.Name]
		if !ok {
			return fmt.Errorf("link %q: index in the pod unknown", st.Link.Name)
		}
		l, err := d.Links.Move(ctx, pod, idx, domain.HostNetns, st.Link.Name)
		if err != nil {
			return wrapPort(err, "returning %q to the host", st.Link.Name)
		}
		if err := d.Links.Restore(ctx, domain.HostNetns, l.Index, st.Link); err != nil {
			return wrapPort(err, "restoring %q on the host", st.Link.Name)
		}
	case domain.StepCreateBond:
		b, err := d.Bonds.CreateBond(ctx, pod, r.spec, domain.BondAlias(r.rec.ID))
		if err != nil {
			return wrapPort(err, "creating bond %q (mode %s)", r.spec.Name, r.spec.Options.Mode)
		}
		r.bond = b
	case domain.StepDeleteBond:
		if err := d.Links.Delete(ctx, pod, r.bond.Index); err != nil && !errors.Is(err, domain.ErrNotFound) {
			return wrapPort(err, "deleting bond %q", r.spec.Name)
		}
	case domain.StepEnslave:
		if err := d.Bonds.Enslave(ctx, pod, r.bond.Index, r.podIdx[st.Link.Name]); err != nil {
			if vf, ok := r.vfs[st.Link.Name]; ok && errors.Is(err, domain.ErrMACRefused) {
				return domain.Errorf(domain.CodeLinkUnusable, "%s: %w", domain.RefusedMACMessage(r.spec, st.Link.Name, vf), err)
			}
			return wrapPort(err, "enslaving %q to %q", st.Link.Name, r.spec.Name)
		}
	case domain.StepRelease:
		idx := r.podIdx[st.Link.Name]
		if err := d.Bonds.Release(ctx, pod, idx); err != nil && !errors.Is(err, domain.ErrNotFound) {
			return wrapPort(err, "releasing %q", st.Link.Name)
		}
		if st.InPod {
			if err := d.Links.Restore(ctx, pod, idx, st.Link); err != nil {
				return wrapPort(err, "restoring %q in the pod", st.Link.Name)
			}
		}
	case domain.StepBondUp, domain.StepBondDown:
		up := st.Kind == domain.StepBondUp
		if err := d.Links.SetUp(ctx, pod, r.bond.Index, up); err != nil {
			return wrapPort(err, "setting bond %q up=%t", r.spec.Name, up)
		}
		if up {
			// Read the bond back: the result carries its real MAC and MTU
			// (the kernel picks the MAC at enslave). Here, in the kernel
			// branch, it is read while IPAM ADD may still run.
			b, err := d.Links.LinkByIndex(ctx, pod, r.bond.Index)
			if err != nil {
				return wrapPort(err, "reading bond %q back", r.spec.Name)
			}
			r.bond = b
		}
	case domain.StepCreateVLAN, domain.StepVLANUp, domain.StepDeleteVLAN:
		return r.doVLAN(ctx, st)
	case domain.StepIPAMAdd:
		res, err := d.IPAM.Add(ctx, r.cfg.IPAMType, r.req.Config, r.req.Invocation)
		if err != nil {
			return ipamFailed(err, r.cfg.IPAMType, "ADD")
		}
		r.ipam = res
	case domain.StepIPAMDel:
		if err := d.IPAM.Del(ctx, r.cfg.IPAMType, r.req.Config, r.req.Invocation); err != nil {
			return ipamFailed(err, r.cfg.IPAMType, "DEL")
		}
	case domain.StepConfigureIP:
		if err := d.Addresses.Configure(ctx, pod, r.iface().Index, r.ipam.IPs, r.ipam.Routes); err != nil {
			return wrapPort(err, "configuring addresses on %q", r.spec.IfName())
		}
	case domain.StepMarkReady:
		r.rec.Phase = domain.PhaseReady
		for _, ip := range r.ipam.IPs {
			r.rec.IPs = append(r.rec.IPs, ip.Address)
		}
		if err := d.Store.Save(ctx, r.rec); err != nil {
			return domain.Errorf(domain.CodeIOFailure, "recording attachment: %w", err)
		}
	default:
		return fmt.Errorf("unknown step %q", st.Kind)
	}
	return nil
}

// result describes CNI_IFNAME (the bond, or the VLAN device on it) as read
// back at the end of the ADD. With a VLAN the bond is not listed: Multus
// reports every listed interface with a sandbox as a network of the pod.
func (r *addRun) result() domain.Result {
	b := r.iface()
	return domain.Result{
		Interfaces: []domain.Interface{{Name: b.Name, MAC: b.MAC.String(), MTU: b.MTU, Sandbox: string(r.req.Netns)}},
		IPs:        r.ipam.IPs,
		Routes:     r.ipam.Routes,
		DNS:        r.dns(),
	}
}

// dns is IPAM's DNS, or the config's own "dns" when IPAM gave none (as
// bond-cni did).
func (r *addRun) dns() domain.DNS {
	d := r.ipam.DNS
	if len(d.Nameservers) == 0 && d.Domain == "" && len(d.Search) == 0 && len(d.Options) == 0 {
		return r.cfg.DNS
	}
	return d
}

// checkLink runs the checks on one observed link that need the kernel:
// host-link safety (unless opted out) and, for the modes that need them,
// speed and duplex. ADD and the debug daemon's Validate share it.
func (s *Service) checkLink(ctx context.Context, spec domain.BondSpec, where domain.Netns, l domain.Link) error {
	if !spec.LinksInContainer && !spec.AllowUnsafeHostLinks {
		if err := s.checkHostLinkSafe(ctx, l); err != nil {
			return err
		}
	}
	if spec.Options.Mode.NeedsLinkSpeed() {
		if _, _, err := s.d.Props.Speed(ctx, where, l.Name); err != nil && !s.vfAwaitingLink(ctx, where, l) {
			return domain.Errorf(domain.CodeLinkUnusable, "links: %q cannot serve mode %s, which needs the driver to report speed and duplex: %w", l.Name, spec.Options.Mode, err)
		}
	}
	return nil
}

// checkHostLinkSafe refuses a host link that looks like it carries the
// node's own traffic: moving it into a pod would cut the node off. The
// operator can opt in with "allowUnsafeHostLinks".
func (s *Service) checkHostLinkSafe(ctx context.Context, l domain.Link) error {
	const optIn = ` (set "allowUnsafeHostLinks": true if you really mean to move it into a pod)`
	dflt, err := s.d.Addresses.CarriesDefaultRoute(ctx, domain.HostNetns, l.Index)
	if err != nil {
		return wrapPort(err, "links: checking the routes of %q on the host", l.Name)
	}
	if dflt {
		return domain.Errorf(domain.CodeUnsafeHostLink, "links: %q carries the host's default route; refusing to move it into a pod%s", l.Name, optIn)
	}
	addrs, err := s.d.Addresses.Addresses(ctx, domain.HostNetns, l.Index)
	if err != nil {
		return wrapPort(err, "links: checking the addresses of %q on the host", l.Name)
	}
	if len(addrs) > 0 {
		return domain.Errorf(domain.CodeUnsafeHostLink, "links: %q has the host address %s; refusing to move it into a pod%s", l.Name, addrs[0].Address, optIn)
	}
	return nil
}
