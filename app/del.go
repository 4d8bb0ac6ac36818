package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/bondcni/bond/domain"
)

// Del undoes an attachment. It is best-effort and idempotent: IPAM DEL
// always runs, a missing netns, bond or link counts as done, and every step
// is attempted even if an earlier one failed. It is driven by the record
// written before ADD changed anything, so it also finishes an ADD that
// crashed half-way. Without a record it deletes only a bond that carries
// this attachment's mark.
func (s *Service) Del(ctx context.Context, req Request) error {
	id := req.id()
	rec, err := s.d.Store.Load(ctx, id)
	haveRec := err == nil
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		// Without the record DEL cannot know which NICs to return, and a
		// success would strand them silently: fail, leave the file for the
		// node admin (bond-debugd lists it), and let the runtime retry.
		s.log.Error("attachment record unreadable; DEL refuses to guess", "containerID", id.ContainerID, "ifname", id.IfName, "err", err)
		return domain.Errorf(domain.CodeIOFailure, "DEL %s/%s: the attachment record cannot be read, so the links it holds cannot be returned safely; the node admin must repair or remove it: %w", id.ContainerID, id.IfName, err)
	}

	conf := req.Config
	cfg, perr := s.parseConfig("DEL", conf)
	if perr != nil && haveRec {
		// The runtime may send a partial config on DEL; the one the ADD used
		// is in the record.
		s.log.Warn("DEL config does not parse; using the recorded one", "err", perr)
		conf = rec.Config
		cfg, perr = domain.ParseConfig(conf)
	}

	// IPAM DEL runs beside the kernel teardown unless the IPAM needs the
	// bond (dhcp releases its lease on it): then it goes first, as before
	// anything is deleted.
	var errs []error
	var ipamDel *branch
	if perr == nil && cfg.IPAMType != "" {
		del := func() error { return s.ipamDel(ctx, cfg.IPAMType, conf, req, haveRec) }
		if domain.IPAMNeedsLink(cfg.IPAMType) {
			if err := del(); err != nil {
				errs = append(errs, err)
			}
		} else {
			ipamDel = goBranch(del, nil)
			defer func() { <-ipamDel.finished }() // on a panic too
		}
	}
	kerrs, away, err := s.teardown(ctx, req, rec, haveRec, delBondName(req.IfName, rec, haveRec, cfg, perr))
	if ipamDel != nil {
		if ierr := ipamDel.wait(); ierr != nil {
			errs = append(errs, ierr)
		}
	}
	if err != nil {
		return err
	}
	errs = append(errs, kerrs...)
	if len(errs) > 0 {
		err := errors.Join(errs...)
		return domain.Errorf(domain.CodeOf(errs[0], domain.CodeKernelRefused), "DEL %s/%s incomplete (run DEL again): %w", id.ContainerID, id.IfName, err)
	}
	if away > 0 {
		// Never block pod deletion on a NIC the kernel has not handed back
		// yet: succeed, and keep the record so GC (or a repeated DEL) can
		// restore the NIC once it is back on the host.
		s.log.Error("DEL: a physical link has not returned to the host yet; record kept for GC", "containerID", id.ContainerID, "ifname", id.IfName, "missing", away)
		return nil
	}
	if haveRec {
		if err := s.d.Store.Delete(ctx, id); err != nil && !errors.Is(err, domain.ErrNotFound) {
			return domain.Errorf(domain.CodeIOFailure, "removing attachment record: %w", err)
		}
	}
	return nil
}

// ipamDel runs IPAM DEL. Without a record its failure is only logged: the
// record is written before IPAM ADD and removed only after a complete
// rollback or DEL, so without one IPAM holds nothing of ours, and a failing
// IPAM DEL must not keep the pod Terminating.
func (s *Service) ipamDel(ctx context.Context, plugin string, conf []byte, req Request, haveRec bool) error {
	err := s.d.IPAM.Del(ctx, plugin, conf, req.Invocation)
	if err == nil {
		return nil
	}
	err = ipamFailed(err, plugin, "DEL")
	if !haveRec {
		s.log.Warn("IPAM DEL failed for an attachment with no record; ignoring", "err", err)
		return nil
	}
	return err
}

// teardown deletes the attachment's bond (named bond; with a VLAN device
// on it, that first) and returns its recorded links. It returns the
// failures of the steps it attempted, the number of physical links not
// back on the host yet, and an error that stopped it.
func (s *Service) teardown(ctx context.Context, req Request, rec domain.Attachment, haveRec bool, bond string) (errs []error, away int, err error) {
	id := req.id()
	pod := req.Netns
	if pod == "" && haveRec {
		pod = rec.Netns
	}
	podAlive := pod != "" && s.d.Namespaces.Check(ctx, pod) == nil
	if podAlive && req.IfName != "" {
		if bond != req.IfName {
			// A VLAN device on the bond: it goes first.
			if err := s.deleteOwnVLAN(ctx, pod, id); err != nil {
				errs = append(errs, err)
			}
		}
		if err := s.deleteOwnBond(ctx, pod, id, bond); err != nil {
			errs = append(errs, err)
		}
	}
	if haveRec && !rec.LinksInContainer && len(rec.Links) > 0 {
		// Returning links to the host races with ADDs that want them.
		var names []string
		for _, l := range rec.Links {
			names = append(names, l.Name)
		}
		release, err := s.claimHostLinks(ctx, names, req)
		if err != nil {
			return errs, 0, err
		}
		defer release()
	}
	if haveRec {
		for _, l := range rec.Links {
			if err := s.returnLink(ctx, rec, pod, podAlive, l); errors.Is(err, errStillAway) {
				away++
			} else if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs, away, nil
}

// deleteOwnBond deletes the bond named name (CNI_IFNAME, or the bond under
// its VLAN device) in the pod only if it is a bond marked with this
// attachment's alias; anything else is left alone.
func (s *Service) deleteOwnBond(ctx context.Context, pod domain.Netns, id domain.AttachmentID, name string) error {
	b, err := s.d.Links.Link(ctx, pod, name)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return wrapPort(err, "looking up %q in the pod", name)
	}
	if b.Kind != "bond" || b.Alias != domain.BondAlias(id) {
		s.log.Warn("link in the pod is not this attachment's bond; leaving it alone", "ifname", name, "kind", b.Kind, "alias", b.Alias)
		return nil
	}
	if err := s.d.Links.Delete(ctx, pod, b.Index); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return wrapPort(err, "deleting bond %q", name)
	}
	return nil
}

// returnLink puts one recorded link back as it was: host links go back to
// the host netns with their name, MTU, MAC and admin state; in-pod links get
// their state back in the pod.
func (s *Service) returnLink(ctx context.Context, rec domain.Attachment, pod domain.Netns, podAlive bool, orig domain.LinkState) error {
	if podAlive {
		l, err := s.inPod(ctx, pod, rec, orig)
		switch {
		case err == nil:
			if l.MasterIndex != 0 {
				if err := s.d.Bonds.Release(ctx, pod, l.Index); err != nil && !errors.Is(err, domain.ErrNotFound) {
					return wrapPort(err, "releasing %q", orig.Name)
				}
			}
			if rec.LinksInContainer {
				return s.restore(ctx, pod, l.Index, orig, "pod")
			}
			moved, err := s.d.Links.Move(ctx, pod, l.Index, domain.HostNetns, orig.Name)
			if err != nil {
				return wrapPort(err, "returning %q to the host", orig.Name)
			}
			return s.restore(ctx, domain.HostNetns, moved.Index, orig, "host")
		case domain.CodeOf(err, 0) == domain.CodeLinkMismatch:
			return err
		case !errors.Is(err, domain.ErrNotFound):
			return wrapPort(err, "looking up %q in the pod", orig.Name)
		}
	}
	if rec.LinksInContainer {
		// Gone with the pod, or removed by the plugin that created it.
		return nil
	}
	l, found, err := s.findOnHost(ctx, orig)
	// The kernel returns physical NICs from a dead netns asynchronously
	// (netns cleanup runs in a workqueue, and only once nothing holds the
	// netns), so wait a bounded while for one that is not back yet.
	// One clock for the deadline and the pauses: with the system clock or
	// a test's, the wait ends when that clock has moved ReturnWait on.
	for deadline := s.d.Clock.Now().Add(s.d.ReturnWait); err == nil && !found && orig.Kind == "" && s.d.Clock.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.d.Clock.After(returnPoll):
		}
		l, found, err = s.findOnHost(ctx, orig)
	}
	if err != nil {
		return err
	}
	if !found {
		if orig.Kind != "" {
			s.log.Info("recorded virtual link is gone; it died with its netns", "link", orig.Name, "kind", orig.Kind)
			return nil
		}
		return fmt.Errorf("link %q (ifindex %d): %w", orig.Name, orig.Index, errStillAway)
	}
	return s.restore(ctx, domain.HostNetns, l.Index, orig, "host")
}

// inPod finds a recorded link in the live pod and proves it is the recorded
// device before DEL touches it: by name, else (a pod that renamed it) by
// its recorded ifindex there. A link under the recorded name that is not
// the device is a CodeLinkMismatch error: both stay where they are, and the
// record is kept.
func (s *Service) inPod(ctx context.Context, pod domain.Netns, rec domain.Attachment, orig domain.LinkState) (domain.Link, error) {
	index := orig.IndexIn(rec.LinksInContainer)
	l, err := s.d.Links.Link(ctx, pod, orig.Name)
	if errors.Is(err, domain.ErrNotFound) && index != 0 {
		byIndex, ierr := s.d.Links.LinkByIndex(ctx, pod, index)
		if ierr == nil && orig.Mismatch(byIndex, index) == "" {
			s.log.Info("recorded link renamed in the pod; taking it back", "link", orig.Name, "now", byIndex.Name)
			return byIndex, nil
		}
	}
	if err != nil {
		return l, err
	}
	if why := orig.Mismatch(l, index); why != "" {
		s.log.Error("DEL: link in the pod is not the recorded device; leaving it", "link", orig.Name, "differs", why)
		return l, domain.Errorf(domain.CodeLinkMismatch, "links: %q in the pod is not the device this attachment recorded (%s); it and the record are left in place", orig.Name, why)
	}
	return l, nil
}

// errStillAway: a recorded physical link is neither in the pod nor back on
// the host yet.
var errStillAway = errors.New("not back on the host yet")

// findOnHost finds a recorded host link that is back in the host netns,
// possibly under a kernel-given name (devN) after its pod netns died: by
// its index, then its name, then its MAC.
func (s *Service) findOnHost(ctx context.Context, orig domain.LinkState) (domain.Link, bool, error) {
	if l, err := s.d.Links.LinkByIndex(ctx, domain.HostNetns, orig.Index); err == nil && sameDevice(l, orig) {
		return l, true, nil
	} else if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return l, false, wrapPort(err, "looking up ifindex %d on the host", orig.Index)
	}
	if l, err := s.d.Links.Link(ctx, domain.HostNetns, orig.Name); err == nil && sameDevice(l, orig) {
		return l, true, nil
	}
	if mac := orig.HardwareAddr(); mac != nil {
		l, err := s.d.Links.LinkByMAC(ctx, domain.HostNetns, mac)
		if err == nil && sameDevice(l, orig) {
			return l, true, nil
		}
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return l, false, wrapPort(err, "looking up MAC %s on the host", mac)
		}
	}
	return domain.Link{}, false, nil
}

// sameDevice tells whether l is plausibly the recorded device: the same
// kind, and the parent device matches when both are known, else the
// permanent MAC when both are known, else the current MAC or name. A MAC
// alone proves nothing: any virtual link can carry it.
func sameDevice(l domain.Link, orig domain.LinkState) bool {
	if l.Kind != orig.Kind {
		return false
	}
	if l.Device != "" && orig.Device != "" {
		return l.Device == orig.Device
	}
	if l.PermMAC != nil && orig.PermMAC != "" {
		return l.PermMAC.String() == orig.PermMAC
	}
	if mac := orig.HardwareAddr(); mac != nil && bytes.Equal(l.MAC, mac) {
		return true
	}
	return l.Name == orig.Name
}

func (s *Service) restore(ctx context.Context, ns domain.Netns, index int, orig domain.LinkState, where string) error {
	if err := s.d.Links.Restore(ctx, ns, index, orig); err != nil {
		return wrapPort(err, "restoring %q in the %s netns", orig.Name, where)
	}
	return nil
}
