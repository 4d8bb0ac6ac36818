package nlkernel

import (
	"context"
	"fmt"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
)

// CreateBond creates the bond in one RTM_NEWLINK (NLM_F_CREATE|NLM_F_EXCL)
// carrying its name, MTU, MAC and every requested option: the kernel applies
// the options before the bond exists, so an option it refuses leaves nothing
// behind. The alias, which the create path ignores, follows in a second
// message; if that fails the bond is deleted again. The bond is left down.
func (a *Adapter) CreateBond(ctx context.Context, ns domain.Netns, spec domain.BondSpec, alias string) (domain.Link, error) {
	if err := ctx.Err(); err != nil {
		return domain.Link{}, err
	}
	op := fmt.Sprintf("creating bond %s (mode %s) in %s", spec.Name, spec.Options.Mode, netns.Name(ns))
	c, err := a.conn(ns)
	if err != nil {
		return domain.Link{}, fmt.Errorf("%s: %w", op, err)
	}
	var primary *uint32
	if spec.Options.Primary != "" {
		// The kernel takes the primary as an ifindex (and stores its name).
		m, err := a.getByName(c, spec.Options.Primary)
		if err != nil {
			return domain.Link{}, wrap(fmt.Sprintf("%s: looking up primary %s", op, spec.Options.Primary), err)
		}
		idx := m.Index
		primary = &idx
	}
	data, err := bondTo(spec.Options, primary)
	if err != nil {
		return domain.Link{}, fmt.Errorf("%s: %w", op, err)
	}
	attrs := &rtnetlink.LinkAttributes{
		Name:    spec.Name,
		MTU:     uint32(max(spec.MTU, 0)),
		Address: spec.MAC,
		Info:    &rtnetlink.LinkInfo{Kind: "bond", Data: data},
	}
	return a.createMarked(c, op, "bond", attrs, alias)
}

// Enslave enslaves a link in two messages (docs/kernel-notes.md,
// "Enslaving"): first the slave goes down (the kernel refuses an up slave)
// unless it is already, then IFLA_MASTER is set with no flag change at
// all, so no kernel applies a flag change after the enslave. Enslaving brings the slave up by itself.
// The call is atomic: if the kernel refuses the enslave (a VF whose PF
// refuses it the bond's MAC, say), the slave is set up again if it was up,
// since the kernel's own error path restores everything but that.
func (a *Adapter) Enslave(ctx context.Context, ns domain.Netns, bondIndex, slaveIndex int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := a.conn(ns)
	if err != nil {
		return err
	}
	// IFLA_MASTER on a link enslaved elsewhere silently moves it to the new
	// master, so check first; enslaving it to its own bond again is a no-op.
	cur, err := a.getByIndex(c, slaveIndex)
	if err != nil {
		return wrap(fmt.Sprintf("enslaving ifindex %d in %s", slaveIndex, netns.Name(ns)), err)
	}
	wasUp := cur.link().Up
	if m := cur.link().MasterIndex; m == bondIndex {
		return nil
	} else if m != 0 {
		return fmt.Errorf("enslaving %s: already enslaved to %s: %w", a.describe(c, slaveIndex), a.describe(c, m), domain.ErrBusy)
	}
	// The check's reply carries the flags too: a slave already down (a
	// host NIC just moved into the pod) needs no message for that.
	if wasUp {
		if err := a.setLink(c, flagsMsg(slaveIndex, false)); err != nil {
			return wrap(fmt.Sprintf("enslaving %s: setting it down", a.describe(c, slaveIndex)), err)
		}
	}
	master := uint32(bondIndex)
	err = a.setLink(c, &rtnetlink.LinkMessage{
		Index:      uint32(slaveIndex),
		Attributes: &rtnetlink.LinkAttributes{Master: &master},
	})
	if err != nil {
		werr := wrap(fmt.Sprintf("enslaving %s to %s in %s", a.describe(c, slaveIndex), a.describe(c, bondIndex), netns.Name(ns)), err)
		if wasUp {
			if uerr := a.setLink(c, flagsMsg(slaveIndex, true)); uerr != nil {
				return fmt.Errorf("%w; setting it up again failed too: %w", werr, wrap("restoring its admin state", uerr))
			}
		}
		return werr
	}
	return nil
}

// Release removes a slave from its master (IFLA_MASTER 0, no flag change);
// the kernel leaves it down with its MAC and MTU restored.
func (a *Adapter) Release(ctx context.Context, ns domain.Netns, slaveIndex int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := a.conn(ns)
	if err != nil {
		return err
	}
	none := uint32(0)
	err = a.setLink(c, &rtnetlink.LinkMessage{
		Index:      uint32(slaveIndex),
		Attributes: &rtnetlink.LinkAttributes{Master: &none},
	})
	if err != nil {
		return wrap(fmt.Sprintf("releasing %s in %s", a.describe(c, slaveIndex), netns.Name(ns)), err)
	}
	return nil
}

// Bond reads a bond, its options and 802.3ad state, and its slaves: two
// requests, the bond by name and a dump filtered to its ports. A link that
// is not a bond gives an error wrapping ErrNotBond (and its Link in the
// returned state).
func (a *Adapter) Bond(ctx context.Context, ns domain.Netns, name string) (domain.BondState, error) {
	if err := ctx.Err(); err != nil {
		return domain.BondState{}, err
	}
	op := fmt.Sprintf("reading bond %s in %s", name, netns.Name(ns))
	c, err := a.conn(ns)
	if err != nil {
		return domain.BondState{}, fmt.Errorf("%s: %w", op, err)
	}
	m, err := a.getByName(c, name)
	if err != nil {
		return domain.BondState{}, wrap(op, err)
	}
	st := domain.BondState{Link: m.link()}
	var data *driver.Bond
	if m.Attributes != nil && m.Attributes.Info != nil {
		data, _ = m.Attributes.Info.Data.(*driver.Bond)
	}
	if st.Link.Kind != "bond" || data == nil {
		return st, fmt.Errorf("%s: %w (kind %q)", op, ErrNotBond, st.Link.Kind)
	}
	st.Options = bondFrom(data)
	st.AdInfo = adInfoFrom(data.AdInfo)

	master := m.Index
	ports, err := a.dump(c, &master)
	if err != nil {
		return domain.BondState{}, wrap(op+": listing its slaves", err)
	}
	names := map[uint32]string{}
	for _, p := range ports {
		var sd *driver.BondSlave
		if p.Attributes != nil && p.Attributes.Info != nil {
			sd, _ = p.Attributes.Info.SlaveData.(*driver.BondSlave)
		}
		l := p.link()
		names[p.Index] = l.Name
		var stats *rtnetlink.LinkStats64
		if p.Attributes != nil {
			stats = p.Attributes.Stats64
		}
		st.Slaves = append(st.Slaves, slaveFrom(l, sd, stats))
	}
	// The kernel reports primary and active slave as ifindexes; both are
	// enslaved (it reports a primary only once it is).
	if data.Primary != nil {
		st.Options.Primary = names[*data.Primary]
	}
	if data.ActiveSlave != nil {
		st.ActiveSlave = names[*data.ActiveSlave]
	}
	return st, nil
}
