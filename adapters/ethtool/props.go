// Package ethtool implements ports.LinkProps: a link's speed and duplex,
// which rtnetlink does not carry.
//
// They come from the ethtool ioctl (ETHTOOL_GSET) on a socket of the
// link's namespace (the ioctl acts in the namespace its socket belongs
// to; netlink, inet and unix sockets all carry it): it asks the driver
// exactly what bonding asks it (__ethtool_get_link_ksettings) and, unlike
// /sys/class/net/<name>/speed, it also answers for a link that is down,
// which is how the plugin finds its links (that file returns EINVAL unless
// the link is running).
package ethtool

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/nlsock"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Props is a ports.LinkProps on the running kernel.
type Props struct {
	// Conns, if set, lends a socket of the namespace (the CNI binary's
	// rtnetlink adapter keeps one per namespace) for the ioctl; without
	// it each call opens a socket, switching a thread into the namespace
	// for a pod's.
	Conns nlsock.Conns
}

var _ ports.LinkProps = Props{}

// Speed returns the link's speed in Mb/s and its duplex ("full", "half").
// A driver without the ethtool hook, or one reporting an unknown speed or
// duplex (typical of a NIC without carrier), gives an error wrapping
// domain.ErrUnsupported; an absent link one wrapping domain.ErrNotFound.
func (p Props) Speed(ctx context.Context, ns domain.Netns, name string) (int, string, error) {
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	var (
		speed  uint32
		duplex uint8
	)
	err := p.withSocket(ns, func(fd int) error {
		var err error
		speed, duplex, err = linkSettings(fd, name)
		return err
	})
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

// withSocket runs fn on a socket of ns: the lent one, or one opened for
// the call. An error getting the socket wraps the namespace's
// (domain.ErrNotFound for an absent one); fn's error is returned as it is.
func (p Props) withSocket(ns domain.Netns, fn func(fd int) error) error {
	if p.Conns != nil {
		c, err := p.Conns.NetlinkConn(ns)
		if err != nil {
			return err // the lender's: which namespace, or that it is closed
		}
		var ferr error
		if err := nlsock.Control(c, func(fd int) { ferr = fn(fd) }); err != nil {
			return fmt.Errorf("the socket in %s: %w", netns.Name(ns), err)
		}
		return ferr
	}
	fd, err := socketIn(ns)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(fd)
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
