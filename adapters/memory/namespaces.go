package memory

import (
	"context"
	"fmt"

	"github.com/bondcni/bond/domain"
)

// Check returns nil for an existing namespace other than the host,
// domain.ErrNotNetns for the host ("") and for paths added with AddFile,
// domain.ErrNotFound for anything else.
func (k *Kernel) Check(ctx context.Context, ns domain.Netns) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(ctx, "Check", false); err != nil {
		return err
	}
	if ns == domain.HostNetns {
		return fmt.Errorf("empty netns path: %w (that is the plugin's own namespace)", domain.ErrNotNetns)
	}
	_, err := k.netnsOf(ns)
	return err
}
