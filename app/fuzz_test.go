package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzAddDel runs a whole ADD, with a kernel fault injected at a fuzzed
// point, then DEL, against the memory adapter. Whatever the config and the
// fault, nothing panics and DEL leaves the node as it was.
func FuzzAddDel(f *testing.F) {
	seeds, _ := filepath.Glob("../fixtures/configs/*.json")
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data, uint8(0))
			f.Add(data, uint8(3))
		}
	}
	f.Add([]byte(hostBondConf), uint8(255))
	f.Add([]byte(hostBondConf), uint8(2))
	f.Fuzz(func(t *testing.T, conf []byte, failAt uint8) {
		ctx := context.Background()
		w := newWorld(t)
		initial := w.state()
		if failAt != 255 {
			w.k.FailAfter(int(failAt), errors.New("fuzzed kernel fault"))
		}
		_, _ = w.svc.Add(ctx, w.req(string(conf), "fz"))
		w.k.ClearFaults()
		if err := w.svc.Del(ctx, w.req(string(conf), "fz")); err != nil {
			t.Fatalf("DEL failed: %v", err)
		}
		if got := w.state(); got != initial {
			t.Fatalf("node changed after ADD+DEL:\nbefore:\n%s\nafter:\n%s", initial, got)
		}
	})
}
