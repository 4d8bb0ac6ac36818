package kit

// The kernel's own view of bonds and links, read independently of the
// plugin's adapters: /proc/net/bonding and a private sysfs.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/netns/netnstest"
	"github.com/bondcni/bond/domain"
)

// ProcBonding returns /proc/net/bonding/<bond> as the kernel prints it for
// the namespace at ns.
func ProcBonding(ns, bond string) (string, error) {
	var out []byte
	err := netns.Do(domain.Netns(ns), func() error {
		var err error
		out, err = os.ReadFile("/proc/thread-self/net/bonding/" + bond)
		return err
	})
	return string(out), err
}

// BondField returns the value of the first "Key: value" line of
// /proc/net/bonding output.
func BondField(proc, key string) string {
	for _, line := range strings.Split(proc, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// BondSlaves returns the "Slave Interface" names of /proc/net/bonding output.
func BondSlaves(proc string) []string {
	var s []string
	for _, line := range strings.Split(proc, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Slave Interface" {
			s = append(s, strings.TrimSpace(v))
		}
	}
	return s
}

// ProcSlave is one "Slave Interface" section of /proc/net/bonding output.
type ProcSlave struct {
	Name string
	// Fields are the section's "Key: value" lines (MII Status, Aggregator
	// ID, Permanent HW addr, …).
	Fields map[string]string
	// Actor and Partner are the 802.3ad "details actor lacp pdu" and
	// "details partner lacp pdu" blocks (system mac address, port state, …).
	Actor, Partner map[string]string
}

// ProcSlaves parses the slave sections of /proc/net/bonding output.
func ProcSlaves(proc string) []ProcSlave {
	var out []ProcSlave
	var cur *ProcSlave
	var sub map[string]string
	for _, line := range strings.Split(proc, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			sub = nil
			continue
		}
		k, v, ok := strings.Cut(trimmed, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case ok && k == "Slave Interface":
			out = append(out, ProcSlave{Name: v, Fields: map[string]string{}, Actor: map[string]string{}, Partner: map[string]string{}})
			cur, sub = &out[len(out)-1], nil
		case cur == nil:
		case k == "details actor lacp pdu":
			sub = cur.Actor
		case k == "details partner lacp pdu":
			sub = cur.Partner
		case ok && sub != nil && (line[0] == ' ' || line[0] == '\t'):
			sub[k] = v
		case ok:
			sub = nil
			if _, seen := cur.Fields[k]; !seen {
				cur.Fields[k] = v
			}
		}
	}
	return out
}

// SysfsBond reads /sys/class/net/<bond>/bonding/<option> inside ns, through
// a private sysfs mount (sysfs shows the namespace of whoever mounted it).
func SysfsBond(ns, bond, option string) (string, error) {
	var out []byte
	err := inPrivateSysfs(ns, func(sys string) error {
		var err error
		out, err = os.ReadFile(filepath.Join(sys, "class/net", bond, "bonding", option))
		return err
	})
	return strings.TrimSpace(string(out)), err
}

// WriteSysfsBond writes value to /sys/class/net/<bond>/bonding/<option>
// inside ns (through a private sysfs mount, as SysfsBond reads): the way
// the tests change a bond behind the plugin's back.
func WriteSysfsBond(ns, bond, option, value string) error {
	return inPrivateSysfs(ns, func(sys string) error {
		return os.WriteFile(filepath.Join(sys, "class/net", bond, "bonding", option), []byte(value), 0)
	})
}

// SysfsLinkStat reads one of a link's counters, /sys/class/net/<link>/statistics/<stat>
// (rx_packets, tx_bytes, ...), in ns: the kernel's counters through sysfs,
// independently of rtnetlink.
func SysfsLinkStat(ns, link, stat string) (uint64, error) {
	var v uint64
	err := inPrivateSysfs(ns, func(sys string) error {
		b, err := os.ReadFile(filepath.Join(sys, "class/net", link, "statistics", stat))
		if err != nil {
			return err
		}
		v, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return err
	})
	return v, err
}

// inPrivateSysfs runs fn on a thread switched into ns with a fresh sysfs
// mounted in its own mount namespace; fn gets the mount point.
func inPrivateSysfs(ns string, fn func(sys string) error) error {
	// The thread's mount namespace is changed for good: it must not be
	// handed back to the runtime.
	return netnstest.OnDiscardedThread(func() error {
		f, err := os.Open(ns)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return err
		}
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			return err
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "sysfs")
		if err != nil {
			return err
		}
		defer os.Remove(dir)
		if err := unix.Mount("sysfs", dir, "sysfs", 0, ""); err != nil {
			return err
		}
		defer unix.Unmount(dir, unix.MNT_DETACH)
		return fn(dir)
	})
}
