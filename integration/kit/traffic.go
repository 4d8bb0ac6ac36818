package kit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/domain"
)

// Traffic is generated and received in Go: the VM has busybox only. A
// socket belongs to the namespace it was created in, so each one is opened
// on a thread switched into its namespace and then used from anywhere.
//
// A datagram carries its flow number and sequence number (4 bytes each,
// big-endian), padded to the requested size.

// ListenUDP opens a UDP socket bound to addr inside the namespace ns, with
// a receive buffer big enough for a burst (a virtio NIC's buffers count
// several kB each against it), so the socket drops nothing.
func ListenUDP(ns string, addr netip.AddrPort) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := netns.Do(domain.Netns(ns), func() error {
		var err error
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
		return err
	})
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
		})
	}
	return c, nil
}

// Echo is a UDP echo server: it sends every datagram back to its sender and
// counts what it received.
type Echo struct {
	Addr netip.AddrPort
	conn *net.UDPConn
	mu   sync.Mutex
	got  map[uint64]int
	done chan struct{}
}

// StartEcho starts an echo server on addr in ns, stopped at test end.
func StartEcho(t testing.TB, ns string, addr netip.AddrPort) *Echo {
	t.Helper()
	c, err := ListenUDP(ns, addr)
	if err != nil {
		t.Fatalf("echo server on %s: %v", addr, err)
	}
	e := &Echo{Addr: addr, conn: c, got: map[uint64]int{}, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n >= 8 {
				e.mu.Lock()
				e.got[binary.BigEndian.Uint64(buf[:8])]++
				e.mu.Unlock()
			}
			_, _ = c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	t.Cleanup(func() { c.Close(); <-e.done })
	return e
}

// Received returns how many datagrams arrived in all, and how many distinct
// ones (broadcast mode delivers each datagram once per link).
func (e *Echo) Received() (total, distinct int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.got {
		total += n
	}
	return total, len(e.got)
}

// Reset forgets what was received.
func (e *Echo) Reset() {
	e.mu.Lock()
	e.got = map[uint64]int{}
	e.mu.Unlock()
}

// Exchange is the outcome of a burst of datagrams.
type Exchange struct {
	Sent int
	// Echoed counts the distinct datagrams whose echo came back.
	Echoed int
	// Duplicates counts the extra copies of echoes.
	Duplicates int
}

func (x Exchange) String() string {
	return fmt.Sprintf("%d sent, %d echoed, %d duplicate echoes", x.Sent, x.Echoed, x.Duplicates)
}

// SendBurst sends n datagrams of size bytes on each of flows sockets (each
// its own source port) from ns to server, spacing them by gap, and waits up
// to wait for the echoes.
func SendBurst(t testing.TB, ns string, server netip.AddrPort, flows, n, size int, gap, wait time.Duration) Exchange {
	t.Helper()
	size = max(size, 8)
	type flowConn struct {
		c   *net.UDPConn
		got map[uint32]int
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	fcs := make([]*flowConn, flows)
	for f := range fcs {
		c := clientSocket(t, ns)
		fc := &flowConn{c: c, got: map[uint32]int{}}
		fcs[f] = fc
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65536)
			for {
				k, err := fc.c.Read(buf)
				if err != nil {
					return
				}
				if k >= 8 {
					mu.Lock()
					fc.got[binary.BigEndian.Uint32(buf[4:8])]++
					mu.Unlock()
				}
			}
		}()
	}
	msg := make([]byte, size)
	for i := 0; i < n; i++ {
		for f, fc := range fcs {
			binary.BigEndian.PutUint32(msg[0:4], uint32(f))
			binary.BigEndian.PutUint32(msg[4:8], uint32(i))
			if _, err := fc.c.WriteToUDPAddrPort(msg, server); err != nil {
				t.Errorf("sending to %s: %v", server, err)
			}
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	x := Exchange{Sent: n * flows}
	count := func() (echoed, dups int) {
		mu.Lock()
		defer mu.Unlock()
		for _, fc := range fcs {
			for _, k := range fc.got {
				echoed++
				dups += k - 1
			}
		}
		return
	}
	deadline := time.Now().Add(wait)
	for {
		e, _ := count()
		if e == x.Sent || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Give duplicates (broadcast mode) a moment to arrive.
	time.Sleep(50 * time.Millisecond)
	for _, fc := range fcs {
		fc.c.Close()
	}
	wg.Wait()
	x.Echoed, x.Duplicates = count()
	return x
}

// clientSocket is a UDP socket in ns on an ephemeral port, failing the
// test if it cannot be opened.
func clientSocket(t testing.TB, ns string) *net.UDPConn {
	t.Helper()
	c, err := ListenUDP(ns, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatalf("client socket in %s: %v", ns, err)
	}
	return c
}

// WaitReachable sends single datagrams from ns to server until one is
// echoed (ARP resolved, path up), for at most timeout.
func WaitReachable(t testing.TB, ns string, server netip.AddrPort, timeout time.Duration) bool {
	t.Helper()
	c := clientSocket(t, ns)
	defer c.Close()
	msg := make([]byte, 8)
	binary.BigEndian.PutUint32(msg, 0xffffffff) // a flow no burst uses
	buf := make([]byte, 1500)
	deadline := time.Now().Add(timeout)
	for i := uint32(0); time.Now().Before(deadline); i++ {
		binary.BigEndian.PutUint32(msg[4:], i)
		if _, err := c.WriteToUDPAddrPort(msg, server); err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := c.Read(buf); err == nil && n >= 8 {
			return true
		}
	}
	return false
}

// Stream sends one datagram every interval from ns to an echo server and
// records when each echo came back: the tool to measure a failover.
type Stream struct {
	interval time.Duration
	conn     *net.UDPConn
	mu       sync.Mutex
	sent     []time.Time // by sequence number
	echoed   map[uint32]time.Time
	stop     chan struct{}
	wg       sync.WaitGroup
}

// StartStream starts a stream from ns to server; Stop ends it (also at
// test end).
func StartStream(t testing.TB, ns string, server netip.AddrPort, interval time.Duration) *Stream {
	t.Helper()
	c := clientSocket(t, ns)
	s := &Stream{interval: interval, conn: c, echoed: map[uint32]time.Time{}, stop: make(chan struct{})}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			now := time.Now()
			if n >= 8 {
				seq := binary.BigEndian.Uint32(buf[4:8])
				s.mu.Lock()
				if _, dup := s.echoed[seq]; !dup {
					s.echoed[seq] = now
				}
				s.mu.Unlock()
			}
		}
	}()
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		msg := make([]byte, 64)
		binary.BigEndian.PutUint32(msg[0:4], 0xfffffffe)
		for seq := uint32(0); ; seq++ {
			binary.BigEndian.PutUint32(msg[4:8], seq)
			s.mu.Lock()
			s.sent = append(s.sent, time.Now())
			s.mu.Unlock()
			_, _ = c.WriteToUDPAddrPort(msg, server)
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(s.Stop)
	return s
}

// Stop ends the stream; it is safe to call more than once.
func (s *Stream) Stop() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	time.Sleep(2 * s.interval) // the last echoes
	s.conn.Close()
	s.wg.Wait()
}

// EchoedSince counts the datagrams sent after t whose echo came back.
func (s *Stream) EchoedSince(t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for seq, at := range s.sent {
		if at.After(t) {
			if _, ok := s.echoed[uint32(seq)]; ok {
				n++
			}
		}
	}
	return n
}

// Outage describes the interruption of a stream around an event.
type Outage struct {
	// Gap is the longest time between two consecutive echoes from the event
	// on (measured from the last echo before it).
	Gap time.Duration
	// Lost counts the datagrams sent from the event on that never came back.
	Lost int
	// Sent counts the datagrams sent from the event on.
	Sent int
}

// OutageAfter measures the stream's outage caused by an event at t.
func (s *Stream) OutageAfter(t time.Time) Outage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var o Outage
	var arrivals []time.Time
	for seq, at := range s.sent {
		e, ok := s.echoed[uint32(seq)]
		if at.After(t) {
			o.Sent++
			if !ok {
				o.Lost++
			}
		}
		if ok {
			arrivals = append(arrivals, e)
		}
	}
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	// From the last echo before the event to the end.
	start := 0
	for i, a := range arrivals {
		if !a.After(t) {
			start = i
		}
	}
	for i := start + 1; i < len(arrivals); i++ {
		if g := arrivals[i].Sub(arrivals[i-1]); g > o.Gap {
			o.Gap = g
		}
	}
	return o
}

// ErrMsgSize is what sending a datagram larger than the path MTU with
// Don't Fragment set returns.
var ErrMsgSize = unix.EMSGSIZE

// SendDF sends one datagram of size bytes with Don't Fragment set (path MTU
// discovery "do") from ns to an echo server and waits up to wait for its
// echo. It returns whether the echo came back, and the send error
// (EMSGSIZE if the route's MTU is smaller).
func SendDF(t testing.TB, ns string, server netip.AddrPort, size int, wait time.Duration) (bool, error) {
	t.Helper()
	c := clientSocket(t, ns)
	defer c.Close()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
	}); err != nil || serr != nil {
		t.Fatalf("IP_MTU_DISCOVER: %v %v", err, serr)
	}
	msg := make([]byte, size)
	binary.BigEndian.PutUint32(msg[0:4], 0xfffffffd)
	if _, err := c.WriteToUDPAddrPort(msg, server); err != nil {
		return false, err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	return err == nil && n == size, nil
}

// LACPDUs counts the LACPDUs (slow protocols, subtype 1) a link sends
// (outgoing) or receives during d, with a packet socket on it in ns: the
// tap sees them before the bonding driver consumes them.
func LACPDUs(ns, link string, outgoing bool, d time.Duration) (int, error) {
	const ethPAll = 0x0003
	var fd int
	err := netns.Do(domain.Netns(ns), func() error {
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(ethPAll)))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(ethPAll), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("packet socket on %s: %w", link, err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, err
	}
	buf := make([]byte, 2048)
	n := 0
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		k, from, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || k < 15 {
			continue
		}
		isOut := ll.Pkttype == unix.PACKET_OUTGOING
		// Ethernet header: type 0x8809 (slow protocols), subtype 1 (LACP).
		if isOut == outgoing && binary.BigEndian.Uint16(buf[12:14]) == 0x8809 && buf[14] == 1 {
			n++
		}
	}
	return n, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
