package ethtool

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolGSET is ETHTOOL_GSET: read link settings (legacy layout, which
// the kernel fills from get_link_ksettings).
const ethtoolGSET = 0x1

// DUPLEX_HALF and DUPLEX_FULL of the ethtool uapi.
const (
	duplexHalf = 0x00
	duplexFull = 0x01
)

// unknownSpeed is SPEED_UNKNOWN (-1) as the legacy layout reports it.
const unknownSpeed = 0xffffffff

// ethtoolCmd is struct ethtool_cmd (include/uapi/linux/ethtool.h).
type ethtoolCmd struct {
	Cmd           uint32
	Supported     uint32
	Advertising   uint32
	Speed         uint16
	Duplex        uint8
	Port          uint8
	PhyAddress    uint8
	Transceiver   uint8
	Autoneg       uint8
	MdioSupport   uint8
	Maxtxpkt      uint32
	Maxrxpkt      uint32
	SpeedHi       uint16
	EthTpMdix     uint8
	EthTpMdixCtrl uint8
	LpAdvertising uint32
	Reserved      [2]uint32
}

// ifreqData is struct ifreq with ifr_data set, padded beyond the kernel's
// size on every architecture.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24]byte
}

// linkSettings asks the driver of the link named name (in the socket's
// namespace) for its speed (Mb/s) and duplex.
func linkSettings(fd int, name string) (speed uint32, duplex uint8, err error) {
	if len(name) >= unix.IFNAMSIZ {
		return 0, 0, unix.ENODEV
	}
	cmd := ethtoolCmd{Cmd: ethtoolGSET}
	ifr := ifreqData{data: unsafe.Pointer(&cmd)}
	copy(ifr.name[:], name)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&ifr)
	runtime.KeepAlive(&cmd)
	if errno != 0 {
		return 0, 0, errno
	}
	return uint32(cmd.SpeedHi)<<16 | uint32(cmd.Speed), cmd.Duplex, nil
}
