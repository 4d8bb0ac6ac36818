package main

import (
	"context"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/bondcni/bond/adapters/ethtool"
	"github.com/bondcni/bond/adapters/ipam"
	"github.com/bondcni/bond/adapters/locks"
	"github.com/bondcni/bond/adapters/netns"
	"github.com/bondcni/bond/adapters/nlkernel"
	"github.com/bondcni/bond/adapters/sriov"
	"github.com/bondcni/bond/adapters/state"
	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// The netlink round trips of one ADD, CHECK or DEL are counted by driving
// app.Service in this process with the very adapters cmd/bond wires (the
// real rtnetlink adapter, netns checker, ethtool props, IPAM delegate that
// execs the static plugin, file store and flock locks), each port wrapped
// in a recorder. The rtnetlink adapter counts every request it sends
// (Adapter.RoundTrips); the recorder attributes the count to the port
// method that sent it, times each call, and notes which host-link locks
// are held when IPAM runs. The plugin binary is not changed for this.

// PortCall is what one port method cost during one verb.
type PortCall struct {
	Method string  `json:"method"`
	Calls  int     `json:"calls"`
	Trips  uint64  `json:"netlink_round_trips"`
	Millis float64 `json:"ms"`
}

// VerbCost is one in-process verb: its netlink round trips, broken down by
// port method, and what the dump check looks for.
type VerbCost struct {
	Trips uint64     `json:"netlink_round_trips"`
	Total float64    `json:"ms"`
	Calls []PortCall `json:"calls"`
	// Dumps counts calls of the only port methods whose rtnetlink
	// implementation dumps links: Links.LinkByMAC (every link of a
	// namespace) and Bonds.Bond (the bond's ports, filtered by the kernel).
	LinkDumps int `json:"link_dump_calls"`
	// RouteDumps counts route dumps: Addresses.CarriesDefaultRoute (the
	// host-link safety check) sends one for both families, which the
	// kernel filters to the routes through the link.
	RouteDumps int `json:"route_dump_requests"`
	// LocksAtIPAM is how many host-link locks were held while IPAM ran.
	LocksAtIPAM int `json:"locks_held_during_ipam"`
}

type recorder struct {
	rt     *nlkernel.Adapter
	mu     sync.Mutex
	calls  map[string]*PortCall
	held   int
	atIPAM int
	start  uint64 // the adapter's round trips at reset
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = map[string]*PortCall{}
	r.atIPAM = 0
	r.start = r.rt.RoundTrips()
}

func (r *recorder) note(method string, trips uint64, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls[method]
	if c == nil {
		c = &PortCall{Method: method}
		r.calls[method] = c
	}
	c.Calls++
	c.Trips += trips
	c.Millis += ms(d)
}

// cost returns what was recorded since the last reset. The total is the
// adapter's own count; requests made by port methods the recorder does not
// wrap (added to the ports since) show up as "unattributed".
func (r *recorder) cost(total time.Duration) VerbCost {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := VerbCost{Total: round3(ms(total)), LocksAtIPAM: r.atIPAM, Trips: r.rt.RoundTrips() - r.start}
	var attributed uint64
	for _, c := range r.calls {
		cc := *c
		cc.Millis = round3(cc.Millis)
		v.Calls = append(v.Calls, cc)
		attributed += c.Trips
		switch c.Method {
		case "Links.LinkByMAC", "Bonds.Bond":
			v.LinkDumps += c.Calls
		case "Addresses.CarriesDefaultRoute":
			v.RouteDumps += c.Calls
		}
	}
	if attributed < v.Trips {
		v.Calls = append(v.Calls, PortCall{Method: "unattributed", Trips: v.Trips - attributed})
	}
	slices.SortFunc(v.Calls, func(a, b PortCall) int {
		if a.Trips != b.Trips {
			return int(b.Trips) - int(a.Trips)
		}
		if a.Method < b.Method {
			return -1
		}
		return 1
	})
	return v
}

func rec1[T any](r *recorder, method string, f func() (T, error)) (T, error) {
	before, start := r.rt.RoundTrips(), time.Now()
	v, err := f()
	r.note(method, r.rt.RoundTrips()-before, time.Since(start))
	return v, err
}

// recExec times a port call that makes no netlink request (an IPAM exec),
// so the round trips of kernel steps running beside it are not charged
// to it.
func recExec[T any](r *recorder, method string, f func() (T, error)) (T, error) {
	start := time.Now()
	v, err := f()
	r.note(method, 0, time.Since(start))
	return v, err
}

func rec0(r *recorder, method string, f func() error) error {
	_, err := rec1(r, method, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

type recLinks struct {
	ports.Links
	r *recorder
}

func (l recLinks) Link(ctx context.Context, ns domain.Netns, name string) (domain.Link, error) {
	return rec1(l.r, "Links.Link", func() (domain.Link, error) { return l.Links.Link(ctx, ns, name) })
}

func (l recLinks) LinkByIndex(ctx context.Context, ns domain.Netns, index int) (domain.Link, error) {
	return rec1(l.r, "Links.LinkByIndex", func() (domain.Link, error) { return l.Links.LinkByIndex(ctx, ns, index) })
}

func (l recLinks) LinkByMAC(ctx context.Context, ns domain.Netns, mac net.HardwareAddr) (domain.Link, error) {
	return rec1(l.r, "Links.LinkByMAC", func() (domain.Link, error) { return l.Links.LinkByMAC(ctx, ns, mac) })
}

func (l recLinks) Move(ctx context.Context, from domain.Netns, index int, to domain.Netns, newName string) (domain.Link, error) {
	return rec1(l.r, "Links.Move", func() (domain.Link, error) { return l.Links.Move(ctx, from, index, to, newName) })
}

func (l recLinks) Restore(ctx context.Context, ns domain.Netns, index int, want domain.LinkState) error {
	return rec0(l.r, "Links.Restore", func() error { return l.Links.Restore(ctx, ns, index, want) })
}

func (l recLinks) SetUp(ctx context.Context, ns domain.Netns, index int, up bool) error {
	return rec0(l.r, "Links.SetUp", func() error { return l.Links.SetUp(ctx, ns, index, up) })
}

func (l recLinks) Delete(ctx context.Context, ns domain.Netns, index int) error {
	return rec0(l.r, "Links.Delete", func() error { return l.Links.Delete(ctx, ns, index) })
}

type recBonds struct {
	ports.Bonds
	r *recorder
}

func (b recBonds) CreateBond(ctx context.Context, ns domain.Netns, spec domain.BondSpec, alias string) (domain.Link, error) {
	return rec1(b.r, "Bonds.CreateBond", func() (domain.Link, error) { return b.Bonds.CreateBond(ctx, ns, spec, alias) })
}

func (b recBonds) Enslave(ctx context.Context, ns domain.Netns, bondIndex, slaveIndex int) error {
	return rec0(b.r, "Bonds.Enslave", func() error { return b.Bonds.Enslave(ctx, ns, bondIndex, slaveIndex) })
}

func (b recBonds) Release(ctx context.Context, ns domain.Netns, slaveIndex int) error {
	return rec0(b.r, "Bonds.Release", func() error { return b.Bonds.Release(ctx, ns, slaveIndex) })
}

func (b recBonds) Bond(ctx context.Context, ns domain.Netns, name string) (domain.BondState, error) {
	return rec1(b.r, "Bonds.Bond", func() (domain.BondState, error) { return b.Bonds.Bond(ctx, ns, name) })
}

type recVLANs struct {
	ports.VLANs
	r *recorder
}

func (v recVLANs) CreateVLAN(ctx context.Context, ns domain.Netns, lowerIndex int, spec domain.VLANSpec, alias string) (domain.Link, error) {
	return rec1(v.r, "VLANs.CreateVLAN", func() (domain.Link, error) { return v.VLANs.CreateVLAN(ctx, ns, lowerIndex, spec, alias) })
}

func (v recVLANs) VLAN(ctx context.Context, ns domain.Netns, name string) (domain.VLANState, error) {
	return rec1(v.r, "VLANs.VLAN", func() (domain.VLANState, error) { return v.VLANs.VLAN(ctx, ns, name) })
}

// addrPort is ports.Addresses under a name that does not clash with its
// method Addresses once embedded.
type addrPort = ports.Addresses

type recAddrs struct {
	addrPort
	r *recorder
}

func (a recAddrs) Configure(ctx context.Context, ns domain.Netns, index int, ips []domain.IPConfig, routes []domain.Route) error {
	return rec0(a.r, "Addresses.Configure", func() error { return a.addrPort.Configure(ctx, ns, index, ips, routes) })
}

func (a recAddrs) Addresses(ctx context.Context, ns domain.Netns, index int) ([]domain.IPConfig, error) {
	return rec1(a.r, "Addresses.Addresses", func() ([]domain.IPConfig, error) { return a.addrPort.Addresses(ctx, ns, index) })
}

// CarriesDefaultRoute is the host-link safety check (issue 3): it dumps the
// IPv4 and IPv6 route tables.
func (a recAddrs) CarriesDefaultRoute(ctx context.Context, ns domain.Netns, index int) (bool, error) {
	return rec1(a.r, "Addresses.CarriesDefaultRoute", func() (bool, error) { return a.addrPort.CarriesDefaultRoute(ctx, ns, index) })
}

type recNS struct {
	ports.Namespaces
	r *recorder
}

func (n recNS) Check(ctx context.Context, ns domain.Netns) error {
	return rec0(n.r, "Namespaces.Check", func() error { return n.Namespaces.Check(ctx, ns) })
}

type recProps struct {
	ports.LinkProps
	r *recorder
}

// Speed is an ethtool ioctl, not netlink: it shows up with 0 round trips.
func (p recProps) Speed(ctx context.Context, ns domain.Netns, name string) (int, string, error) {
	var duplex string
	mbps, err := rec1(p.r, "LinkProps.Speed (ethtool ioctl)", func() (int, error) {
		m, d, err := p.LinkProps.Speed(ctx, ns, name)
		duplex = d
		return m, err
	})
	return mbps, duplex, err
}

type recVFs struct {
	ports.VFs
	r *recorder
}

// VF sends one GETLINK in the link's netns on the socket nlkernel lends it
// (as in cmd/bond) and, for a VF, one on the PF on a socket of its own;
// neither goes through the adapter's counter, so they show up with 0.
func (v recVFs) VF(ctx context.Context, ns domain.Netns, name string) (domain.VF, bool, error) {
	var isVF bool
	vf, err := rec1(v.r, "VFs.VF (GETLINKs not counted, sysfs)", func() (domain.VF, error) {
		vf, ok, err := v.VFs.VF(ctx, ns, name)
		isVF = ok
		return vf, err
	})
	return vf, isVF, err
}

type recIPAM struct {
	ports.IPAM
	r *recorder
}

func (i recIPAM) Add(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) (domain.IPAMResult, error) {
	i.r.mu.Lock()
	i.r.atIPAM = max(i.r.atIPAM, i.r.held)
	i.r.mu.Unlock()
	return recExec(i.r, "IPAM.Add (exec)", func() (domain.IPAMResult, error) { return i.IPAM.Add(ctx, plugin, conf, inv) })
}

func (i recIPAM) Del(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) error {
	i.r.mu.Lock()
	i.r.atIPAM = max(i.r.atIPAM, i.r.held)
	i.r.mu.Unlock()
	_, err := recExec(i.r, "IPAM.Del (exec)", func() (struct{}, error) { return struct{}{}, i.IPAM.Del(ctx, plugin, conf, inv) })
	return err
}

func (i recIPAM) Check(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) error {
	_, err := recExec(i.r, "IPAM.Check (exec)", func() (struct{}, error) { return struct{}{}, i.IPAM.Check(ctx, plugin, conf, inv) })
	return err
}

func (i recIPAM) Status(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) error {
	return i.IPAM.Status(ctx, plugin, conf, inv)
}

func (i recIPAM) GC(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) error {
	return i.IPAM.GC(ctx, plugin, conf, inv)
}

type recStore struct {
	ports.Store
	r *recorder
}

func (s recStore) Save(ctx context.Context, a domain.Attachment) error {
	return rec0(s.r, "Store.Save", func() error { return s.Store.Save(ctx, a) })
}

func (s recStore) Load(ctx context.Context, id domain.AttachmentID) (domain.Attachment, error) {
	return rec1(s.r, "Store.Load", func() (domain.Attachment, error) { return s.Store.Load(ctx, id) })
}

func (s recStore) Delete(ctx context.Context, id domain.AttachmentID) error {
	return rec0(s.r, "Store.Delete", func() error { return s.Store.Delete(ctx, id) })
}

func (s recStore) List(ctx context.Context) ([]domain.Attachment, error) {
	return rec1(s.r, "Store.List", func() ([]domain.Attachment, error) { return s.Store.List(ctx) })
}

type recLocks struct {
	ports.Locks
	r *recorder
}

func (l recLocks) Claim(ctx context.Context, links []string, owner string) (func(), error) {
	release, err := rec1(l.r, "Locks.Claim (flock)", func() (func(), error) { return l.Locks.Claim(ctx, links, owner) })
	if err != nil {
		return release, err
	}
	l.r.mu.Lock()
	l.r.held += len(links)
	l.r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			release()
			l.r.mu.Lock()
			l.r.held -= len(links)
			l.r.mu.Unlock()
		})
	}, nil
}

// inProcess is app.Service wired as cmd/bond wires it, with every port
// recorded.
type inProcess struct {
	svc *app.Service
	rt  *nlkernel.Adapter
	rec *recorder
}

func newInProcess() (*inProcess, error) {
	rt := nlkernel.New()
	r := &recorder{rt: rt, calls: map[string]*PortCall{}}
	svc, err := app.New(app.Deps{
		Links:      recLinks{rt, r},
		Bonds:      recBonds{rt, r},
		VLANs:      recVLANs{rt, r},
		Addresses:  recAddrs{rt, r},
		Namespaces: recNS{netns.Checker{}, r},
		Props:      recProps{ethtool.Props{Conns: rt}, r},
		VFs:        recVFs{sriov.Reader{Conns: rt}, r},
		IPAM:       recIPAM{ipam.New(nil), r},
		Store:      recStore{state.New(os.Getenv("BOND_STATE_DIR")), r},
		Locks:      recLocks{locks.New(os.Getenv("BOND_LOCK_DIR")), r},
	})
	if err != nil {
		return nil, err
	}
	return &inProcess{svc: svc, rt: rt, rec: r}, nil
}

func (p *inProcess) request(containerID, pod, ifname, binDir string, conf []byte) app.Request {
	return app.Request{
		Invocation: ports.Invocation{ContainerID: containerID, Netns: domain.Netns(pod), IfName: ifname, Args: podArgs(containerID), Path: binDir},
		Config:     conf,
	}
}

// measure runs one verb and returns what it cost.
func (p *inProcess) measure(f func(context.Context) error) (VerbCost, error) {
	p.rec.reset()
	start := time.Now()
	err := f(context.Background())
	return p.rec.cost(time.Since(start)), err
}

// medianCost merges rounds of one verb: the first round's round trips and
// dump counts (the same in every round), the median total, and each port
// method's median time (a method a round did not call counts 0 there).
func medianCost(rounds []VerbCost) VerbCost {
	v := rounds[0]
	v.Calls = slices.Clone(v.Calls)
	totals := make([]float64, len(rounds))
	for i, r := range rounds {
		totals[i] = r.Total
	}
	v.Total = round3(medianOf(totals))
	for i := range v.Calls {
		times := make([]float64, len(rounds))
		for j, r := range rounds {
			for _, c := range r.Calls {
				if c.Method == v.Calls[i].Method {
					times[j] = c.Millis
				}
			}
		}
		v.Calls[i].Millis = round3(medianOf(times))
	}
	return v
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
