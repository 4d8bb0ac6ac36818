package httpdebug_test

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/domain"
)

// chromium finds Debian's chromium (BOND_CHROMIUM overrides the path).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BOND_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("headless Chromium not found: install Debian's chromium package (apt-get install -y chromium; `make deps` does) to run the page's browser test")
	return ""
}

// headless runs chromium headless on url with mode flags (--dump-dom or
// --screenshot=FILE), letting the page's scripts run for 5 s of virtual
// time, and returns stdout.
func headless(t *testing.T, bin, url string, mode ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
		"--window-size=1200,800", "--virtual-time-budget=5000",
	}
	args = append(append(args, mode...), url)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Run(), "chromium: %s", errb.String())
	return out.String()
}

// TestPageInChromium loads the page in headless Chromium against the daemon
// on the memory adapter: pod A with a slave down, pod B as configured, and
// pod C whose netns is gone. The page must list all three, draw a picture
// per bond, and the screenshot must show up and down slaves.
func TestPageInChromium(t *testing.T) {
	bin := chromium(t)
	f := newFixture(t)
	f.k.SetCarrier(f.podA, "eth1001", false)
	podC := f.k.AddNetns("/var/run/netns/cni-0c3e9d71-cccc")
	f.k.AddVirtual(podC, "veth", "net1", 0, nil)
	f.k.AddVirtual(podC, "veth", "net2", 0, nil)
	c := f.add(strings.Replace(confB, `"lacpRate":"fast"`, `"lacp_rate":"fast"`, 1), podC, "c0ffee00d15ea5e0000000000000cccc", "bond0", "batch/job-7")
	f.k.DestroyNetns(podC)
	f.store.PutRaw(domain.AttachmentID{ContainerID: "broken", IfName: "net1"}, []byte(`{"links":{}}`))
	f.k.SetLACPPartner(f.podB, "bond0", mustMAC("02:00:5e:10:00:01"))
	f.k.SetCounters(f.podB, "net1", domain.LinkCounters{RxPackets: 1200, TxPackets: 3400, RxBytes: 1_500_000, TxBytes: 4_200_000, RxDropped: 3})

	// Count what the page asks for: one request per refresh, for the whole node.
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		f.handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	dom := headless(t, bin, srv.URL+"/", "--dump-dom")
	for _, want := range []string{
		`data-container-id="` + f.a.ContainerID + `"`, `data-container-id="` + f.b.ContainerID + `"`,
		`data-container-id="` + c.ContainerID + `"`,
		"web-0", "du-0", "telco", "job-7", "eth1000", "eth1001", "802.3ad", "active-backup",
		"as configured", "netns gone", "★ active", "3</b> attachments", "1</b> slave down", "1</b> unreadable record",
		// The node, the per-slave LACP state and counters, the ignored key.
		`id="node" title="node">worker-3<`, "LACP actor ", "LACP partner ", "in sync",
		"0x3f activity timeout aggregation synchronization collecting distributing", "02:00:5e:10:00:01",
		"rx 1.5 MB / 1200 pkts · tx 4.2 MB / 3400 pkts", "drop 3", "1 ignored key",
		"lacp_rate is not a bond plugin key and is ignored; did you mean lacpRate?",
		"passed to IPAM: kubernetes",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	assert.Equal(t, 3, strings.Count(dom, `class="bondpic"`), "one picture per bond")
	assert.Regexp(t, regexp.MustCompile(`id="status-text">live · updated`), dom, "the fetch of the JSON API succeeded")
	mu.Lock()
	for path, n := range hits {
		if path != "/" && path != "/v1/bonds" && path != "/favicon.ico" {
			t.Errorf("the page requested %s %d times; it must refresh with GET /v1/bonds alone", path, n)
		}
	}
	assert.GreaterOrEqual(t, hits["/v1/bonds"], 1)
	mu.Unlock()

	shot := filepath.Join(t.TempDir(), "page.png")
	headless(t, bin, srv.URL+"/", "--screenshot="+shot, "--window-size=1400,900")
	data, err := os.ReadFile(shot)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, 1400, img.Bounds().Dx())
	assert.Equal(t, 900, img.Bounds().Dy())
	colors := map[[3]uint8]int{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[[3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}]++
		}
	}
	// The fills of an up slave (#e6f6ec) and a down one (#fdecec), and the
	// header bar (#1d2433), are on screen.
	for name, c := range map[string][3]uint8{"up slave": {0xe6, 0xf6, 0xec}, "down slave": {0xfd, 0xec, 0xec}, "header": {0x1d, 0x24, 0x33}} {
		assert.Greater(t, colors[c], 100, "%s colour %x on the screenshot", name, c)
	}
	if dir := os.Getenv("BOND_UI_SCREENSHOT_DIR"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bond-debugd-page.png"), data, 0o644))
	}
}
