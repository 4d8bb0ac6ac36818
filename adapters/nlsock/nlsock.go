// Package nlsock opens rtnetlink sockets inside a network namespace for
// mdlayher/netlink's Conn, which keeps doing the protocol: sequence
// numbers, reply validation, and decoding the kernel's errors with their
// extended-ack text.
//
// The socket makes plain blocking system calls. rtnetlink handles a request
// inside the sendmsg that carries it, so its reply (or a dump's next part)
// is queued before the recvmsg that reads it, and a blocking call never
// waits for the kernel to start. The library's own socket goes through the
// runtime's poller and starts a goroutine per send and per receive to watch
// a context that cannot be cancelled, and peeks at every reply's size with
// an extra recvmsg. In a plugin that makes a few dozen requests per exec,
// those hand-offs between threads cost more than the requests.
package nlsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"os"
	"sync"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
)

// BufferSize bounds one datagram from the kernel. Dump replies come in
// parts the kernel sizes to the reader's buffer (at most 32 KiB) unless
// one entry is larger, and a request for one link, address or route gets
// a reply of a few KiB. What can be larger is a link with its VF list
// (RTEXT_FILTER_VF), so no request on these sockets may ask for one. A
// larger datagram is an error, never a silently shortened reply.
const BufferSize = 64 << 10

// ErrTruncated is returned when a datagram did not fit in BufferSize.
var ErrTruncated = errors.New("netlink reply larger than the receive buffer")

// Dial opens a NETLINK_ROUTE socket inside ns with extended acks (the
// kernel's error text reaches errors) and strict checking of requests
// (dump filters apply in the kernel). The socket belongs to ns for its
// whole life, whichever thread uses it. Errors wrap domain.ErrNotFound or
// domain.ErrNotNetns for a bad namespace path.
func Dial(ns domain.Netns) (*netlink.Conn, error) {
	var (
		s   *socket
		pid uint32
	)
	err := netns.Do(ns, func() error {
		var err error
		s, pid, err = open()
		return err
	})
	if err != nil {
		if s != nil {
			// Opened, but the thread could not switch back: the socket
			// would keep the namespace alive.
			s.Close()
		}
		return nil, err
	}
	return netlink.NewConn(s, pid), nil
}

// Conns lends connections that stay open, one per namespace: the CNI
// binary's rtnetlink adapter keeps them, and the other adapters that need
// a socket in a namespace borrow them rather than switch a thread into it
// for each call.
type Conns interface {
	NetlinkConn(ns domain.Netns) (*netlink.Conn, error)
}

// Control runs fn with the descriptor of c's socket, held open while fn
// runs, for a system call other than netlink's on a socket of its
// namespace: an ioctl on a network device (SIOCETHTOOL), which a netlink
// socket passes on to the device layer of its own namespace.
func Control(c *netlink.Conn, fn func(fd int)) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

// socket is a netlink.Socket on a blocking file descriptor.
type socket struct {
	// mu is held for reading around every system call on fd, and for
	// writing by Close, so a closed descriptor's number (which the process
	// may reuse for another socket, in another namespace) is never used.
	// Close waits for a call in progress: a reply is always queued before
	// its read, so none waits long.
	mu sync.RWMutex
	fd int // -1 once closed

	// readMu guards buf and open.
	readMu sync.Mutex
	buf    []byte
	// open is set by a request and cleared by the last message of its
	// reply (one not in a multi-part reply, or NLMSG_DONE). A request that
	// finds it still set first discards what is queued: the rest of a
	// reply whose reader stopped part-way (an error in a dump), which would
	// otherwise be read as the answer to every request after it.
	open bool
}

var (
	_ netlink.Socket = (*socket)(nil)
	_ syscall.Conn   = (*socket)(nil)
)

// open creates the socket in the calling thread's namespace and returns it
// with the port ID the kernel bound it to.
func open() (*socket, uint32, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, 0, os.NewSyscallError("socket", err)
	}
	fail := func(op string, err error) (*socket, uint32, error) {
		unix.Close(fd)
		return nil, 0, os.NewSyscallError(op, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail("bind", err)
	}
	for _, opt := range []int{unix.NETLINK_EXT_ACK, unix.NETLINK_GET_STRICT_CHK} {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, opt, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		return fail("getsockname", unix.EAFNOSUPPORT)
	}
	return &socket{fd: fd, buf: make([]byte, BufferSize)}, nl.Pid, nil
}

// SyscallConn lends the descriptor through Control (see the package's
// Control). Read and Write are not offered: every read and write of the
// socket goes through Conn, which keeps the protocol.
func (s *socket) SyscallConn() (syscall.RawConn, error) { return rawConn{s}, nil }

type rawConn struct{ s *socket }

// errRawIO is what rawConn's Read and Write return.
var errRawIO = errors.New("nlsock: only Control is supported on a raw connection")

func (r rawConn) Control(fn func(fd uintptr)) error {
	return r.s.syscall("control", func(fd int) error {
		fn(uintptr(fd))
		return nil
	})
}

func (rawConn) Read(func(fd uintptr) bool) error  { return errRawIO }
func (rawConn) Write(func(fd uintptr) bool) error { return errRawIO }

// Close closes the socket once; later calls, and any call on it after,
// get EBADF.
func (s *socket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return os.NewSyscallError("close", unix.EBADF)
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return os.NewSyscallError("close", err)
}

// syscall runs fn on the descriptor unless the socket is closed.
func (s *socket) syscall(op string, fn func(fd int) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fd < 0 {
		return os.NewSyscallError(op, unix.EBADF)
	}
	for {
		err := fn(s.fd)
		if err != unix.EINTR {
			return os.NewSyscallError(op, err)
		}
	}
}

func (s *socket) Send(m netlink.Message) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	return s.write(b)
}

func (s *socket) SendMessages(ms []netlink.Message) error {
	var b []byte
	for _, m := range ms {
		mb, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		b = append(b, mb...)
	}
	return s.write(b)
}

func (s *socket) write(b []byte) error {
	s.beginRequest()
	kernel := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	return s.syscall("sendto", func(fd int) error { return unix.Sendto(fd, b, 0, kernel) })
}

// beginRequest marks a reply as expected, first discarding, without
// waiting, what is left of the previous one if it was not read to its end.
// Reading a dump's part makes the kernel queue the next, so this also ends
// a dump in progress.
func (s *socket) beginRequest() {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	stale := s.open
	s.open = true
	for stale {
		err := s.syscall("recvmsg", func(fd int) error {
			_, _, _, _, err := unix.Recvmsg(fd, s.buf, nil, unix.MSG_DONTWAIT)
			return err
		})
		stale = err == nil // EAGAIN: the queue is empty (or the socket is closed)
	}
}

func (s *socket) Receive() ([]netlink.Message, error) {
	var ms []netlink.Message
	for m, err := range s.ReceiveIter() {
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// ReceiveIter reads one datagram and yields the messages in it. Their data
// is a copy: the buffer is reused by the next read.
func (s *socket) ReceiveIter() iter.Seq2[netlink.Message, error] {
	return func(yield func(netlink.Message, error) bool) {
		b, err := s.read()
		if err != nil {
			yield(netlink.Message{}, err)
			return
		}
		for len(b) > 0 {
			m, rest, err := next(b)
			if err != nil {
				yield(netlink.Message{}, err)
				return
			}
			if m.Header.Flags&netlink.Multi == 0 || m.Header.Type == netlink.Done {
				s.readMu.Lock()
				s.open = false
				s.readMu.Unlock()
			}
			if !yield(m, nil) {
				return
			}
			b = rest
		}
	}
}

// read receives one datagram into a fresh, 4-byte padded copy.
func (s *socket) read() ([]byte, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	var n int
	err := s.syscall("recvmsg", func(fd int) error {
		// MSG_TRUNC makes the kernel return the datagram's full length
		// even when it did not fit.
		var err error
		n, _, _, _, err = unix.Recvmsg(fd, s.buf, nil, unix.MSG_TRUNC)
		return err
	})
	if err != nil {
		return nil, err
	}
	if n > len(s.buf) {
		return nil, fmt.Errorf("%w: %d bytes, buffer %d", ErrTruncated, n, len(s.buf))
	}
	b := make([]byte, align(n))
	copy(b, s.buf[:n])
	return b, nil
}

const headerLen = unix.SizeofNlMsghdr

// next splits the first message off a datagram.
func next(b []byte) (netlink.Message, []byte, error) {
	if len(b) < headerLen {
		return netlink.Message{}, nil, fmt.Errorf("netlink datagram: %d trailing bytes, shorter than a header", len(b))
	}
	var m netlink.Message
	end := min(align(int(binary.NativeEndian.Uint32(b))), len(b))
	if err := m.UnmarshalBinary(b[:end]); err != nil {
		return netlink.Message{}, nil, fmt.Errorf("netlink datagram: %w", err)
	}
	return m, b[end:], nil
}

func align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }
