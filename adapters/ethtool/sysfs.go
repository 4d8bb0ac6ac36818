// Package ethtool implements ports.LinkProps: the link properties rtnetlink
// does not carry.
//
// Speed and duplex come from the ethtool ioctl (ETHTOOL_GSET) on a socket
// opened in the link's namespace: it asks the driver exactly what bonding
// asks it (__ethtool_get_link_ksettings) and, unlike
// /sys/class/net/<name>/speed, it also answers for a link that is down,
// which is how the plugin finds its links (that file returns EINVAL unless
// the link is running).
//
// The PCI address is the target of /sys/class/net/<name>/device. A sysfs
// shows the network namespace of whoever mounted it, not of the reader, so
// for a link outside the host namespace the read happens on a discarded
// thread with a private mount namespace and a fresh sysfs (netns.DoIsolated).
package ethtool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Props is a ports.LinkProps on the running kernel.
type Props struct{}

var _ ports.LinkProps = Props{}

// Speed returns the link's speed in Mb/s and its duplex ("full", "half").
// A driver without the ethtool hook, or one reporting an unknown speed or
// duplex (typical of a NIC without carrier), gives an error wrapping
// domain.ErrUnsupported; an absent link one wrapping domain.ErrNotFound.
func (Props) Speed(ctx context.Context, ns domain.Netns, name string) (int, string, error) {
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	fd, err := socketIn(ns)
	if err != nil {
		return 0, "", fmt.Errorf("reading speed of %s: %w", name, err)
	}
	defer unix.Close(fd)
	speed, duplex, err := linkSettings(fd, name)
	switch {
	case errors.Is(err, unix.ENODEV):
		return 0, "", fmt.Errorf("reading speed of %s: %w: %w", name, domain.ErrNotFound, err)
	case errors.Is(err, unix.EOPNOTSUPP):
		return 0, "", fmt.Errorf("%s: the driver reports no usable speed/duplex (no ethtool link settings): %w: %w", name, domain.ErrUnsupported, err)
	case err != nil:
		return 0, "", fmt.Errorf("reading speed of %s: %w", name, err)
	}
	return checkSettings(name, speed, duplex)
}

// checkSettings turns raw ethtool values into Mb/s and a duplex name.
func checkSettings(name string, speed uint32, duplex uint8) (int, string, error) {
	var d string
	switch duplex {
	case duplexHalf:
		d = "half"
	case duplexFull:
		d = "full"
	}
	if speed == 0 || speed == unknownSpeed || d == "" {
		return 0, "", fmt.Errorf("%s: the driver reports no usable speed/duplex (speed %d, duplex %d): %w",
			name, int32(speed), duplex, domain.ErrUnsupported)
	}
	return int(speed), d, nil
}

// socketIn opens a datagram socket in ns; ioctls on it act on ns's links
// whatever thread issues them.
func socketIn(ns domain.Netns) (int, error) {
	if ns == domain.HostNetns {
		return controlSocket()
	}
	fd := -1
	err := netns.Do(ns, func() error {
		var err error
		fd, err = controlSocket()
		return err
	})
	return fd, err
}

func controlSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		// IPv4 may be disabled; any socket family carries SIOCETHTOOL.
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return -1, fmt.Errorf("opening a control socket: %w", err)
	}
	return fd, nil
}

// pciPattern is a PCI address as the kernel names PCI devices
// (domain:bus:device.function). Compiled on first use, not at start-up:
// most calls of the plugin never read a PCI address.
var pciPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)
})

// PCIAddress returns the PCI address of the link's device, "" if the link
// has no device or a non-PCI one. An absent link gives an error wrapping
// domain.ErrNotFound.
func (Props) PCIAddress(ctx context.Context, ns domain.Netns, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if ns == domain.HostNetns {
		return readPCIAddress(name)
	}
	var addr string
	err := netns.DoIsolated(ns, func() error {
		// Mounted over /sys in this thread's private mount namespace only.
		if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mounting a sysfs for %s: %w", ns, err)
		}
		var err error
		addr, err = readPCIAddress(name)
		return err
	})
	return addr, err
}

func readPCIAddress(name string) (string, error) {
	link := filepath.Join("/sys/class/net", name)
	if _, err := os.Lstat(link); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("reading the device of %s: %w: %w", name, domain.ErrNotFound, err)
		}
		return "", fmt.Errorf("reading the device of %s: %w", name, err)
	}
	target, err := filepath.EvalSymlinks(filepath.Join(link, "device"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil // a virtual link
	}
	if err != nil {
		return "", fmt.Errorf("reading the device of %s: %w", name, err)
	}
	return pciAddress(target), nil
}

// pciAddress returns the PCI address of a device, given its resolved sysfs
// path, "" if the device is not on PCI. A virtio device (virtioN) sits
// under the PCI function that carries it.
func pciAddress(device string) string {
	base := filepath.Base(device)
	if pciPattern().MatchString(base) {
		return base
	}
	if strings.HasPrefix(base, "virtio") {
		if parent := filepath.Base(filepath.Dir(device)); pciPattern().MatchString(parent) {
			return parent
		}
	}
	return ""
}
