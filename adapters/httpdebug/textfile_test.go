package httpdebug_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTextfileHoldsOnlyOurMetrics(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "bondcni.prom")
	require.NoError(t, f.debugSrv.WriteTextfile(path))

	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "node_exporter runs as another user")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	fams, err := parseText(strings.NewReader(string(data)))
	require.NoError(t, err)
	for name := range fams {
		assert.True(t, strings.HasPrefix(name, "bondcni_"), "%s would clash with node_exporter's own", name)
	}
	v, ok := value(fams, "bondcni_bond_slaves", map[string]string{"container_id": f.b.ContainerID})
	assert.True(t, ok && v == 2)
	assert.Contains(t, fams, "bondcni_build_info")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")
}

// A reader (node_exporter) never sees a partial file while it is rewritten.
func TestTextfileIsReplacedAtomically(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "bondcni.prom")
	require.NoError(t, f.debugSrv.WriteTextfile(path))
	var stop atomic.Bool
	var reads, bad atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			data, err := os.ReadFile(path)
			if err != nil {
				bad.Add(1)
				continue
			}
			fams, err := parseText(strings.NewReader(string(data)))
			if err != nil || fams["bondcni_attachments"] == nil {
				bad.Add(1)
			}
			reads.Add(1)
		}
	}()
	for i := 0; i < 200; i++ {
		require.NoError(t, f.debugSrv.WriteTextfile(path))
	}
	stop.Store(true)
	wg.Wait()
	assert.Zero(t, bad.Load(), "of %d reads", reads.Load())
	assert.Positive(t, reads.Load())
}

// StartTextfile writes at once, and removes the file when it stops.
func TestStartTextfileRemovesTheFileAtStop(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "bondcni.prom")
	stop := f.debugSrv.StartTextfile(path, time.Hour)
	_, err := os.Stat(path)
	require.NoError(t, err, "written before StartTextfile returns")
	stop()
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err), "the file of a stopped daemon is removed: %v", err)
}

func parseText(r *strings.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}
