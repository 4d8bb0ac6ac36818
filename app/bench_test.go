package app_test

import (
	"context"
	"net"
	"testing"

	"github.com/bondcni/bond/adapters/memory"
	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
	"github.com/bondcni/bond/ports"
)

// Benchmarks of whole use cases against the in-memory node
// (adapters/memory): everything the plugin does in process, without the
// kernel, the process start or the IPAM exec — the part of an ADD or DEL
// that is the plugin's own code. `make bench` measures the rest on a real
// kernel. Names are stable for benchstat:
//
//	go test -run '^$' -bench . -benchmem -count 10 ./app > old.txt
//
// The memory kernel and IPAM keep a log of every call; the node is rebuilt
// (timer stopped) every benchNodeUses iterations so the logs stay small.

const benchNodeUses = 256

const (
	benchHostConf = `{"cniVersion":"1.1.0","name":"bond0","type":"bond","mode":"active-backup","miimon":"100",
"failOverMac":1,"links":[{"name":"eth1000"},{"name":"eth1001"}],"ipam":{"type":"host-local","subnet":"10.10.20.0/24"},
"kubernetes":{"kubeconfig":"/etc/cni/net.d/calico-kubeconfig"},"datastore_type":"kubernetes"}`
	benchPodConf = `{"cniVersion":"1.1.0","name":"bond0","type":"bond","mode":"802.3ad","miimon":"100",
"linksInContainer":true,"links":[{"name":"net1"},{"name":"net2"}],
"ipam":{"type":"static","addresses":[{"address":"192.168.0.1/24"}]}}`
)

// benchNode is one node in memory: two host NICs, a pod (holding two veths
// for the in-pod scenario), and the use cases wired to it.
type benchNode struct {
	svc  *app.Service
	pod  domain.Netns
	uses int
}

func newBenchNode(b *testing.B, inPod bool) *benchNode {
	b.Helper()
	k := memory.NewKernel()
	pod := k.AddNetns("/run/netns/bench-pod")
	for i, name := range []string{"eth1000", "eth1001"} {
		k.AddPhysical(domain.HostNetns, name, 1500, net.HardwareAddr{0x52, 0x54, 0, 0, 0x10, byte(i)})
		if inPod {
			k.AddVirtual(pod, "veth", "net"+string(rune('1'+i)), 1500, nil)
		}
	}
	svc, err := app.New(app.Deps{Links: k, Bonds: k, Addresses: k, Namespaces: k, Props: k,
		IPAM: memory.NewIPAM("10.10.20.0/24"), Store: memory.NewStore(), Locks: memory.NewLocks()})
	if err != nil {
		b.Fatal(err)
	}
	return &benchNode{svc: svc, pod: pod}
}

func (n *benchNode) req(conf, ifname string) app.Request {
	return app.Request{
		Invocation: ports.Invocation{ContainerID: "bench-ctr", Netns: n.pod, IfName: ifname, Path: "/opt/cni/bin",
			Args: "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench"},
		Config: []byte(conf),
	}
}

var benchScenarios = []struct {
	name, conf, ifname string
	inPod              bool
}{
	{"host-nics", benchHostConf, "net1", false},
	{"in-pod", benchPodConf, "bond0", true},
}

// fresh returns the node, rebuilt with the timer stopped once it has served
// benchNodeUses iterations.
func fresh(b *testing.B, n **benchNode, inPod bool) *benchNode {
	if *n == nil || (*n).uses >= benchNodeUses {
		b.StopTimer()
		*n = newBenchNode(b, inPod)
		b.StartTimer()
	}
	(*n).uses++
	return *n
}

// BenchmarkAddDel is one ADD followed by its DEL: the node ends each
// iteration as it started.
func BenchmarkAddDel(b *testing.B) {
	ctx := context.Background()
	for _, sc := range benchScenarios {
		b.Run(sc.name, func(b *testing.B) {
			var n *benchNode
			b.ReportAllocs()
			for b.Loop() {
				node := fresh(b, &n, sc.inPod)
				req := node.req(sc.conf, sc.ifname)
				if _, err := node.svc.Add(ctx, req); err != nil {
					b.Fatal(err)
				}
				if err := node.svc.Del(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheck is CHECK of an attached bond (record, bond, options,
// slaves and addresses compared; IPAM CHECK).
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	for _, sc := range benchScenarios {
		b.Run(sc.name, func(b *testing.B) {
			n := newBenchNode(b, sc.inPod)
			req := n.req(sc.conf, sc.ifname)
			if _, err := n.svc.Add(ctx, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := n.svc.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
