package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The archive test reads back what `make image` wrote (BOND_IMAGE_DIST,
// the dist/ directory; `make image` sets it) as a consumer would: the OCI
// layout, the index, each image's config and layer, and runs the host
// platform's installer from it.

func distDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("BOND_IMAGE_DIST")
	if d == "" {
		t.Skip("BOND_IMAGE_DIST is not set: `make image` builds the archives and runs this test on them")
	}
	return d
}

// untar unpacks an archive into a new directory.
func untar(t *testing.T, archive string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("%s: entry %q escapes the archive", archive, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: unexpected entry %q type %c", archive, h.Name, h.Typeflag)
		}
	}
}

type layerFile struct {
	mode int64
	uid  int
	dir  bool
	data []byte
}

// layerFiles reads an image's single layer.
func layerFiles(t *testing.T, img v1.Image) map[string]layerFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("want one layer, got %d", len(layers))
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]layerFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out["/"+strings.TrimSuffix(h.Name, "/")] = layerFile{mode: h.Mode, uid: h.Uid, dir: h.Typeflag == tar.TypeDir, data: data}
	}
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func TestArchive(t *testing.T) {
	dist := distDir(t)
	lp, err := layout.FromPath(untar(t, filepath.Join(dist, ArchiveName(nil))))
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json: want one image index, got %+v", tm.Manifests)
	}
	version := tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"]
	if version == "" {
		t.Error("index.json: no org.opencontainers.image.ref.name")
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range im.Manifests {
		if m.Platform == nil {
			t.Fatalf("index entry %s has no platform", m.Digest)
		}
		got = append(got, m.Platform.OS+"/"+m.Platform.Architecture)
		if m.MediaType != types.OCIManifestSchema1 {
			t.Errorf("%s: media type %s", m.Platform, m.MediaType)
		}
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, img, *m.Platform, version)

		// The platform's own archive holds the same image.
		one, err := layout.FromPath(untar(t, filepath.Join(dist, ArchiveName(m.Platform))))
		if err != nil {
			t.Fatal(err)
		}
		oi, err := one.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		om, err := oi.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(om.Manifests) != 1 || om.Manifests[0].Digest != m.Digest || om.Manifests[0].Platform == nil || om.Manifests[0].Platform.Architecture != m.Platform.Architecture {
			t.Errorf("%s: its own archive does not hold image %s: %+v", ArchiveName(m.Platform), m.Digest, om.Manifests)
		}
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(got, want) {
		t.Errorf("platforms %v, want %v", got, want)
	}
}

func checkImage(t *testing.T, img v1.Image, p v1.Platform, version string) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Architecture {
		t.Errorf("%s: config says %s/%s", p, cf.OS, cf.Architecture)
	}
	if !slices.Equal(cf.Config.Entrypoint, Entrypoint) || cf.Config.User != User {
		t.Errorf("%s: entrypoint %v user %q, want %v %q", p, cf.Config.Entrypoint, cf.Config.User, Entrypoint, User)
	}
	if cf.Config.Labels["org.opencontainers.image.version"] != version || cf.Config.Labels["org.opencontainers.image.licenses"] != "Apache-2.0" {
		t.Errorf("%s: labels %v", p, cf.Config.Labels)
	}
	files := layerFiles(t, img)
	want := map[string]bool{}
	for _, f := range Files {
		want[f.Path] = true
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			want[d] = true
		}
	}
	for name, f := range files {
		if !want[name] {
			t.Errorf("%s: unexpected %s in the layer", p, name)
		}
		if f.uid != 0 {
			t.Errorf("%s: %s owned by uid %d, want root", p, name, f.uid)
		}
		if f.dir && f.mode != 0o755 {
			t.Errorf("%s: directory %s mode %o, want 755", p, name, f.mode)
		}
	}
	for _, f := range Files {
		lf, ok := files[f.Path]
		if !ok || lf.dir {
			t.Errorf("%s: %s missing", p, f.Path)
			continue
		}
		if lf.mode != f.Mode {
			t.Errorf("%s: %s mode %o, want %o", p, f.Path, lf.mode, f.Mode)
		}
		// A static binary for the platform: right machine, no interpreter.
		e, err := elf.NewFile(bytes.NewReader(lf.data))
		if err != nil {
			t.Errorf("%s: %s is not ELF: %v", p, f.Path, err)
			continue
		}
		if e.Machine != elfMachine[p.Architecture] {
			t.Errorf("%s: %s is for %s", p, f.Path, e.Machine)
		}
		for _, prog := range e.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s: %s is dynamically linked", p, f.Path)
			}
		}
	}
	if p.OS == runtime.GOOS && p.Architecture == runtime.GOARCH {
		runInstaller(t, files, version)
	}
}

// runInstaller unpacks the host platform's image into a directory and runs
// its entrypoint as the DaemonSet would (sources where the image has them,
// a fresh CNI bin directory), then the plugin it installed.
func runInstaller(t *testing.T, files map[string]layerFile, version string) {
	t.Helper()
	root := t.TempDir()
	for name, f := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if f.dir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, os.FileMode(f.mode)); err != nil {
			t.Fatal(err)
		}
	}
	dest := t.TempDir()
	entry := filepath.Join(root, Entrypoint[0])
	out, err := exec.Command(entry, "-src="+filepath.Join(root, "opt/bond/bin"), "-dest="+dest, "-sleep=false").CombinedOutput()
	if err != nil {
		t.Fatalf("the image's installer: %v\n%s", err, out)
	}
	if out, err := exec.Command(entry, "-check", "-src="+filepath.Join(root, "opt/bond/bin"), "-dest="+dest).CombinedOutput(); err != nil {
		t.Errorf("bond-install -check after installing: %v\n%s", err, out)
	}
	installed, err := os.ReadFile(filepath.Join(dest, "bond"))
	if err != nil {
		t.Fatalf("the installer did not install bond: %v", err)
	}
	if !bytes.Equal(installed, files["/opt/bond/bin/bond"].data) {
		t.Error("the installed bond differs from the image's")
	}
	// Without CNI_COMMAND the plugin prints its version.
	vout, _ := exec.Command(filepath.Join(dest, "bond")).CombinedOutput()
	if !strings.Contains(string(vout), "bond CNI plugin "+version) {
		t.Errorf("installed bond says %q, want version %s", vout, version)
	}
}

// TestDockerfileSameLayout: deploy/Dockerfile's final stage puts the same
// files at the same paths, with the same entrypoint, user and label keys.
func TestDockerfileSameLayout(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var final []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "FROM ") {
			final = nil
		}
		if l != "" && !strings.HasPrefix(l, "#") {
			final = append(final, l)
		}
	}
	text := strings.Join(final, "\n")
	text = strings.ReplaceAll(text, "\\\n", " ")
	if !strings.HasPrefix(final[0], "FROM scratch") {
		t.Errorf("final stage %q: want FROM scratch, as bond-image builds", final[0])
	}
	dirs := map[string]bool{}
	for _, f := range Files {
		dirs[path.Dir(f.Path)+"/"] = true
	}
	copied := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		fields := strings.Fields(l)
		switch {
		case len(fields) == 4 && fields[0] == "COPY":
			copied[fields[3]] = true
		case fields[0] == "ENTRYPOINT":
			var ep []string
			if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "ENTRYPOINT ")), &ep); err != nil || !slices.Equal(ep, Entrypoint) {
				t.Errorf("Dockerfile %s, want %v", l, Entrypoint)
			}
		case fields[0] == "USER" && fields[1] != User:
			t.Errorf("Dockerfile %s, want %s", l, User)
		}
	}
	for _, f := range Files {
		if !copied[f.Path] && !copied[path.Dir(f.Path)+"/"] {
			t.Errorf("Dockerfile: nothing copies %s", f.Path)
		}
	}
	for k := range Labels("v", "c") {
		if !strings.Contains(text, k+"=") {
			t.Errorf("Dockerfile: no LABEL %s", k)
		}
	}
}
