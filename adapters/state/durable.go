package state

import (
	"sync"

	"golang.org/x/sys/unix"
)

// durability decides, once per store, whether its writes are fsynced.
//
// A record describes kernel objects that do not survive a reboot (the pod
// netns, the bond, host NICs moved into a pod, which the kernel brings
// back on the host at boot). It protects against the plugin dying between
// two changes: the next process must find it. Page-cache contents survive
// a process's death, and the rename makes the new record appear whole or
// not at all, so no fsync is needed for that. Only a machine crash loses
// unsynced writes, and it also ends every object the record describes:
// on a filesystem cleared at boot (tmpfs, ramfs, as /run is) the record
// goes with them and an fsync would buy nothing. On a filesystem that
// keeps files across a reboot (an admin's BOND_STATE_DIR on disk) a torn
// or empty record would survive and DEL could not read it, so there the
// writes are fsynced as before.
type durability struct {
	once sync.Once
	sync bool
}

// Filesystem magic numbers (statfs f_type) of filesystems that start
// empty at every boot.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// of tells whether writes under dir must be fsynced; when it cannot tell
// it says yes.
func (d *durability) of(dir string) bool {
	d.once.Do(func() {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			d.sync = true
			return
		}
		d.sync = !clearedAtBoot(int64(st.Type))
	})
	return d.sync
}

func clearedAtBoot(fsType int64) bool { return fsType == tmpfsMagic || fsType == ramfsMagic }
