package main

import (
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/bondcni/bond/adapters/cni"
	"github.com/bondcni/bond/adapters/nlkernel"
)

// BenchmarkWiring builds the graph an ADD or DEL builds, warm, in process:
// what fx costs per exec on top of the constructors (which open nothing).
func BenchmarkWiring(b *testing.B) {
	b.ReportAllocs()
	env := Env{StateDir: b.TempDir(), LockDir: b.TempDir()}
	for b.Loop() {
		var got *cni.Plugin
		app := fx.New(Module(env),
			fx.Invoke(func(p *cni.Plugin, a *nlkernel.Adapter) { got = p; a.Close() }),
			fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }))
		if err := app.Err(); err != nil || got == nil {
			b.Fatal(err)
		}
	}
}
