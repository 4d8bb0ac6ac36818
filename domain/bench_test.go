package domain

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// Benchmarks of the domain work one ADD does before it touches the node:
// parsing the config, validating it into a BondSpec, and planning the
// steps. (BenchmarkParseAndValidate in config_test.go times the first two
// together for the seed's host example.) Names are stable for benchstat:
//
//	go test -run '^$' -bench . -benchmem -count 10 ./domain > old.txt

// benchConfigs are the seed's two examples and the config with the most
// options.
var benchConfigs = []struct{ name, file, ifname string }{
	{"seed-host", "seed-host-active-backup.json", "net1"},
	{"seed-sriov", "seed-sriov-8023ad.json", "bond0"},
	{"all-options", "mode-active-backup.json", "bond0"},
}

func benchFixture(b *testing.B, name string) []byte {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("..", "fixtures", "configs", name))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkParseConfig(b *testing.B) {
	for _, c := range benchConfigs {
		data := benchFixture(b, c.file)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ParseConfig(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSpec(b *testing.B) {
	for _, c := range benchConfigs {
		cfg, err := ParseConfig(benchFixture(b, c.file))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cfg.Spec(c.ifname); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSpecRefused is the cost of refusing a bad config (every problem
// is collected and named).
func BenchmarkSpecRefused(b *testing.B) {
	cfg, err := ParseConfig(benchFixture(b, "invalid-updelay-not-multiple.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.Spec("bond0"); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkPlanAdd(b *testing.B) {
	for _, c := range benchConfigs[:2] {
		cfg, err := ParseConfig(benchFixture(b, c.file))
		if err != nil {
			b.Fatal(err)
		}
		spec, err := cfg.Spec(c.ifname)
		if err != nil {
			b.Fatal(err)
		}
		in := AddInput{Spec: spec, HasIPAM: cfg.IPAMType != ""}
		for i, name := range spec.Links {
			in.Links = append(in.Links, Link{
				Index: 10 + i, Name: name, MTU: 1500, Up: i == 0,
				MAC: net.HardwareAddr{0x52, 0x54, 0, 0, 0x10, byte(i)}, PermMAC: net.HardwareAddr{0x52, 0x54, 0, 0, 0x10, byte(i)},
			})
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := PlanAdd(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
