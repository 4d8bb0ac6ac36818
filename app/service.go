// Package app holds the plugin's use cases (ADD, DEL, CHECK, STATUS, GC).
// It drives the node only through the ports, so the same code runs behind
// the CNI binary, the debug server and the in-memory tests.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Deps are the driven ports the use cases need.
type Deps struct {
	Links     ports.Links
	Bonds     ports.Bonds
	Addresses ports.Addresses
	// VLANs may be left nil when Links also implements ports.VLANs (both
	// kernel adapters do).
	VLANs      ports.VLANs
	Namespaces ports.Namespaces
	Props      ports.LinkProps
	// VFs reads SR-IOV facts; nil treats no link as a VF (unit tests of
	// nodes without SR-IOV).
	VFs   ports.VFs
	IPAM  ports.IPAM
	Store ports.Store
	Locks ports.Locks
	// Node is the node admin's policy (which host links pods may take,
	// whether configs may opt in to unsafe ones); checked before anything
	// on the node is read. The zero value allows any host link and refuses
	// the opt-in.
	Node domain.NodePolicy
	// LockWait bounds the wait for a host link another ADD or DEL holds;
	// default 10s. A timeout answers code 11 (try again later).
	LockWait time.Duration
	// ReturnWait bounds how long DEL waits for a physical NIC from a dead
	// pod netns to come back to the host; default 5s.
	ReturnWait time.Duration
	// BeforeStep, if set, is called before each ADD step runs. Production
	// leaves it nil; the crash tests build the binary with a hook that
	// pauses at a named step so they can SIGKILL the plugin there.
	BeforeStep func(domain.Step)
	// BesideDone, if set, is called once a step planned Beside (IPAM ADD)
	// has finished, on its goroutine, after the other branch can see it
	// has: tests use it to place the kernel branch exactly. Production
	// leaves it nil.
	BesideDone func(domain.Step)
	// Clock is the time the use cases read (records' timestamps, DEL's
	// wait for a NIC to return); nil is the system clock.
	Clock Clock
	// Log defaults to a logger that discards.
	Log *slog.Logger
}

// Clock is a source of time. After(d) delivers once Now has moved d on, so
// a wait that reads both sees one time line, whatever the clock (a test's
// may move only when waited on).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// returnPoll is how often DEL looks again for a NIC still on its way back
// from a dead netns, within Deps.ReturnWait.
const returnPoll = 50 * time.Millisecond

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Service runs the use cases.
type Service struct {
	d   Deps
	log *slog.Logger
}

// New returns a Service; every port must be set.
func New(d Deps) (*Service, error) {
	if v, ok := d.Links.(ports.VLANs); ok && d.VLANs == nil {
		d.VLANs = v
	}
	if d.Links == nil || d.Bonds == nil || d.Addresses == nil || d.VLANs == nil || d.Namespaces == nil || d.Props == nil || d.IPAM == nil || d.Store == nil || d.Locks == nil {
		return nil, errors.New("app: every port must be provided")
	}
	if d.LockWait <= 0 {
		d.LockWait = 10 * time.Second
	}
	if d.ReturnWait <= 0 {
		d.ReturnWait = 5 * time.Second
	}
	if d.Clock == nil {
		d.Clock = systemClock{}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d, log: d.Log}, nil
}

// Request is one invocation: the runtime's environment and the config.
type Request struct {
	ports.Invocation
	Config []byte
}

func (r Request) id() domain.AttachmentID {
	return domain.AttachmentID{ContainerID: r.ContainerID, IfName: r.IfName}
}

// podRef parses K8S_POD_NAMESPACE and K8S_POD_NAME from CNI_ARGS.
func podRef(args string) (ns, name string) {
	for _, kv := range strings.Split(args, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k {
		case "K8S_POD_NAMESPACE":
			ns = v
		case "K8S_POD_NAME":
			name = v
		}
	}
	return ns, name
}

// requireEnv checks the environment ADD and CHECK need.
func requireEnv(r Request) error {
	var missing []string
	if r.ContainerID == "" {
		missing = append(missing, "CNI_CONTAINERID")
	}
	if r.Netns == "" {
		missing = append(missing, "CNI_NETNS")
	}
	if r.IfName == "" {
		missing = append(missing, "CNI_IFNAME")
	}
	if len(missing) > 0 {
		return domain.Errorf(domain.CodeInvalidEnv, "required environment variables missing: %s", strings.Join(missing, ", "))
	}
	return nil
}

// checkPodNetns maps a bad CNI_NETNS to a code-4 error.
func (s *Service) checkPodNetns(ctx context.Context, ns domain.Netns) error {
	if err := s.d.Namespaces.Check(ctx, ns); err != nil {
		return domain.Errorf(domain.CodeInvalidEnv, "CNI_NETNS %q: %w", string(ns), err)
	}
	return nil
}

// wrapPort gives a port error its CNI code: absent links are code 100,
// busy ones 101, other kernel refusals 102.
func wrapPort(err error, format string, args ...any) error {
	code := domain.CodeKernelRefused
	switch {
	case errors.Is(err, domain.ErrNotFound):
		code = domain.CodeLinkNotFound
	case errors.Is(err, domain.ErrBusy), errors.Is(err, domain.ErrExists):
		code = domain.CodeLinkBusy
	}
	var coded *domain.Error
	if errors.As(err, &coded) {
		code = coded.Code
	}
	return domain.Errorf(code, "%s: %w", fmt.Sprintf(format, args...), err)
}

// claimHostLinks locks the named host links for this attachment, bounded by
// LockWait; a timeout is code 11 so the runtime retries.
func (s *Service) claimHostLinks(ctx context.Context, names []string, req Request) (func(), error) {
	podNS, podName := podRef(req.Args)
	owner := "container " + req.ContainerID
	if podName != "" {
		owner += " (pod " + podNS + "/" + podName + ")"
	}
	ctx, cancel := context.WithTimeout(ctx, s.d.LockWait)
	defer cancel()
	release, err := s.d.Locks.Claim(ctx, names, owner)
	if err != nil {
		if errors.Is(err, domain.ErrBusy) {
			var held *domain.HeldError
			if errors.As(err, &held) {
				s.log.Warn("host link held by another attachment", "link", held.Link, "holder", held.Holder, "for", owner)
			}
			return nil, domain.Errorf(domain.CodeTryAgainLater, "links: %w; try again later", err)
		}
		return nil, domain.Errorf(domain.CodeIOFailure, "locking host links: %w", err)
	}
	return release, nil
}

// holderOf names the recorded attachment that holds a host link, for the
// error a losing racer gets; "" if none is recorded.
func (s *Service) holderOf(ctx context.Context, link string) string {
	recs, err := s.d.Store.List(ctx)
	if err != nil {
		return ""
	}
	for _, r := range recs {
		if r.LinksInContainer {
			continue
		}
		for _, l := range r.Links {
			if l.Name == link {
				h := "container " + r.ID.ContainerID
				if r.PodName != "" {
					h += " (pod " + r.PodNamespace + "/" + r.PodName + ")"
				}
				return h
			}
		}
	}
	return ""
}

// ipamFailed gives an IPAM failure its code: the one the IPAM adapter kept
// from the IPAM plugin (with its message and details), else CodeIPAMFailed.
func ipamFailed(err error, plugin, verb string) error {
	var coded *domain.Error
	if errors.As(err, &coded) {
		return err
	}
	return domain.Errorf(domain.CodeIPAMFailed, "IPAM plugin %q %s: %w", plugin, verb, err)
}
