package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// IPAM is a ports.IPAM that allocates addresses from one pool the way
// host-local does: one address per (containerID, ifname), a second ADD for
// the same pair refused, DEL idempotent. The pool's first address is the
// gateway; results carry a default route through it unless SetRoutes says
// otherwise. Safe for concurrent use.
type IPAM struct {
	mu       sync.Mutex
	pool     netip.Prefix
	gateway  netip.Addr
	routes   []domain.Route
	dns      domain.DNS
	allocs   map[domain.AttachmentID]netip.Addr
	lastConf []byte
	plugin   string
	calls    []string
	f        faults
}

var _ ports.IPAM = (*IPAM)(nil)

// NewIPAM returns an IPAM allocating from pool, an IPv4 or IPv6 prefix
// such as "10.0.0.0/24" ("" for that one). It panics on a bad prefix.
func NewIPAM(pool string) *IPAM {
	if pool == "" {
		pool = "10.0.0.0/24"
	}
	p, err := netip.ParsePrefix(pool)
	if err != nil || p.Bits() >= p.Addr().BitLen()-1 {
		panic(fmt.Sprintf("memory: NewIPAM: pool %q is not a prefix with room for addresses", pool))
	}
	p = p.Masked()
	gw := p.Addr().Next()
	def := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	if p.Addr().Is6() {
		def = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	return &IPAM{
		pool: p, gateway: gw,
		routes: []domain.Route{{Dst: def, GW: gw}},
		allocs: map[domain.AttachmentID]netip.Addr{},
	}
}

// SetRoutes replaces the routes results carry (nil for none).
func (m *IPAM) SetRoutes(routes []domain.Route) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.routes = slices.Clone(routes)
}

// SetDNS sets the DNS results carry.
func (m *IPAM) SetDNS(dns domain.DNS) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dns = dns
}

// Gateway is the pool's gateway address.
func (m *IPAM) Gateway() netip.Addr { return m.gateway }

// FailAfter makes the call after the next n mutating ones (Add, Del, GC)
// fail with an error wrapping err, changing nothing. One-shot.
func (m *IPAM) FailAfter(n int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.f.failAfter(n, err)
}

// FailOn makes the nth next call of op ("Add", "Del", "Check", "Status",
// "GC") fail with an error wrapping err, changing nothing. One-shot.
func (m *IPAM) FailOn(op string, nth int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.f.failOn(op, nth, err)
}

// ClearFaults disarms every pending failure.
func (m *IPAM) ClearFaults() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.f.clear()
}

// Injected lists the operations that failed by injection so far.
func (m *IPAM) Injected() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.f.firedOps()
}

// LastConf returns the network config the last call received.
func (m *IPAM) LastConf() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.lastConf)
}

// LastPlugin returns the plugin name the last call asked for.
func (m *IPAM) LastPlugin() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.plugin
}

// Calls logs every call as "ADD containerID/ifname" (with " -> error" if
// it failed).
func (m *IPAM) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// Allocations returns the current allocations.
func (m *IPAM) Allocations() map[domain.AttachmentID]netip.Prefix {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[domain.AttachmentID]netip.Prefix, len(m.allocs))
	for id, a := range m.allocs {
		out[id] = netip.PrefixFrom(a, m.pool.Bits())
	}
	return out
}

func (m *IPAM) begin(ctx context.Context, op string, mutating bool, conf []byte, plugin string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lastConf = slices.Clone(conf)
	m.plugin = plugin
	return m.f.hit(op, mutating)
}

func (m *IPAM) log(cmd string, inv ports.Invocation, err error) {
	s := fmt.Sprintf("%s %s/%s", cmd, inv.ContainerID, inv.IfName)
	if err != nil {
		s += " -> " + err.Error()
	}
	m.calls = append(m.calls, s)
}

func idOf(inv ports.Invocation) domain.AttachmentID {
	return domain.AttachmentID{ContainerID: inv.ContainerID, IfName: inv.IfName}
}

// Add allocates the lowest free address of the pool.
func (m *IPAM) Add(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) (res domain.IPAMResult, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.log("ADD", inv, err) }()
	if err := m.begin(ctx, "Add", true, conf, plugin); err != nil {
		return domain.IPAMResult{}, err
	}
	id := idOf(inv)
	if a, ok := m.allocs[id]; ok {
		return domain.IPAMResult{}, fmt.Errorf("%s has been allocated to %s/%s, duplicate allocation is not allowed", a, id.ContainerID, id.IfName)
	}
	used := map[netip.Addr]bool{m.gateway: true}
	for _, a := range m.allocs {
		used[a] = true
	}
	for a := m.gateway.Next(); m.pool.Contains(a); a = a.Next() {
		if used[a] || (a.Is4() && !m.pool.Contains(a.Next())) { // keep the broadcast address
			continue
		}
		m.allocs[id] = a
		return domain.IPAMResult{
			IPs:    []domain.IPConfig{{Address: netip.PrefixFrom(a, m.pool.Bits()), Gateway: m.gateway}},
			Routes: slices.Clone(m.routes),
			DNS:    m.dns,
		}, nil
	}
	return domain.IPAMResult{}, fmt.Errorf("no IP addresses available in range set: %s", m.pool)
}

// Del releases the pair's address; releasing nothing is fine.
func (m *IPAM) Del(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) (err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.log("DEL", inv, err) }()
	if err := m.begin(ctx, "Del", true, conf, plugin); err != nil {
		return err
	}
	delete(m.allocs, idOf(inv))
	return nil
}

// Check fails if the pair holds no address.
func (m *IPAM) Check(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) (err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.log("CHECK", inv, err) }()
	if err := m.begin(ctx, "Check", false, conf, plugin); err != nil {
		return err
	}
	if _, ok := m.allocs[idOf(inv)]; !ok {
		return fmt.Errorf("failed to find address for %s/%s", inv.ContainerID, inv.IfName)
	}
	return nil
}

// Status reports the plugin ready.
func (m *IPAM) Status(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) (err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.log("STATUS", inv, err) }()
	return m.begin(ctx, "Status", false, conf, plugin)
}

// GC releases every allocation not listed in the config's
// "cni.dev/valid-attachments".
func (m *IPAM) GC(ctx context.Context, plugin string, conf []byte, inv ports.Invocation) (err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.log("GC", inv, err) }()
	if err := m.begin(ctx, "GC", true, conf, plugin); err != nil {
		return err
	}
	var c struct {
		Valid []domain.AttachmentID `json:"cni.dev/valid-attachments"`
	}
	if err := json.Unmarshal(conf, &c); err != nil {
		return fmt.Errorf("decoding GC config: %w", err)
	}
	for id := range m.allocs {
		if !slices.Contains(c.Valid, id) {
			delete(m.allocs, id)
		}
	}
	return nil
}
