package state

import (
	"context"
	"os"
	"testing"
)

// BenchmarkSave writes one record on a tmpfs (no fsync) and on the test's
// temporary directory (fsync unless that is a tmpfs too).
func BenchmarkSave(b *testing.B) {
	a := record("c1")
	a.Config = make([]byte, 600)
	for name, parent := range map[string]string{"tmpfs": "/dev/shm", "tempdir": ""} {
		b.Run(name, func(b *testing.B) {
			dir, err := os.MkdirTemp(parent, "bond-bench")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
			s := New(dir)
			for b.Loop() {
				if err := s.Save(context.Background(), a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
