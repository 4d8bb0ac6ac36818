package memory

import (
	"context"
	"fmt"

	"github.com/bondcni/bond/domain"
)

// Speed returns what the link's driver reports: domain.ErrUnsupported if
// nothing usable (see SetSpeed). A bond reports the sum of its up slaves'
// speeds (active-backup: the active one's).
func (k *Kernel) Speed(ctx context.Context, ns domain.Netns, name string) (int, string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(ctx, "Speed", false); err != nil {
		return 0, "", err
	}
	n, err := k.netnsOf(ns)
	if err != nil {
		return 0, "", fmt.Errorf("reading speed of %s: %w", name, err)
	}
	l := n.byName(name)
	if l == nil {
		return 0, "", fmt.Errorf("reading speed of %s: %w: no such device", name, domain.ErrNotFound)
	}
	speed, duplex := l.speed, l.duplex
	if l.bond != nil {
		speed, duplex = 0, "full"
		for _, s := range k.slavesOf(n, l) {
			if linkState(l.bond, s, l.up) != "up" || !s.hasSpeed() {
				continue
			}
			if l.bond.mode == domain.ModeActiveBackup && s.index != l.bond.active {
				continue
			}
			speed += s.speed
		}
	}
	if speed <= 0 || (duplex != "full" && duplex != "half") {
		return 0, "", fmt.Errorf("%s: the driver reports no usable speed/duplex: %w", name, domain.ErrUnsupported)
	}
	return speed, duplex, nil
}
