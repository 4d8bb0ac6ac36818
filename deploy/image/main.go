// Command bond-image builds the bond image as OCI image archives from the
// static release binaries (make release's dist/), with go-containerregistry:
// no container engine, no registry, no base image to pull.
//
//	go run . -dist ../../dist -version v0.1.0 -commit 1a2b3c4
//
// writes into -dist:
//
//	bond-image.oci.tar               OCI image layout: an image index with both platforms
//	bond-image-linux-amd64.oci.tar   OCI image layout: the linux/amd64 image alone
//	bond-image-linux-arm64.oci.tar   OCI image layout: the linux/arm64 image alone
//
// Push the index with `skopeo copy --all oci-archive:dist/bond-image.oci.tar
// docker://REGISTRY/bond:TAG` or `crane push`; `podman load` reads them.
// The image holds exactly what deploy/Dockerfile's final stage holds
// (Files, the entrypoint, the user, the labels), and the archive test
// checks both.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Platforms are the image's platforms, as make release builds them.
var Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// File is one file of the image and the release binary it comes from
// (dist/<Binary>-<os>-<arch>).
type File struct {
	Path   string // absolute path in the image
	Binary string
	Mode   int64
}

// Files is the image's content: the one table of what goes where.
var Files = []File{
	{Path: "/opt/bond/bin/bond", Binary: "bond", Mode: 0o755},
	{Path: "/opt/bond/bin/bond-debugd", Binary: "bond-debugd", Mode: 0o755},
	{Path: "/usr/local/bin/bond-install", Binary: "bond-install", Mode: 0o755},
}

// Entrypoint runs the installer; the DaemonSets run bond-debugd by command.
var Entrypoint = []string{"/usr/local/bin/bond-install"}

// User is root: writing the host's CNI bin directory needs it.
const User = "0:0"

// Labels are the OCI annotations of the image config.
func Labels(version, commit string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "bond",
		"org.opencontainers.image.description": "Linux bonding CNI plugin for Kubernetes pods, with its installer",
		"org.opencontainers.image.source":      "https://github.com/bondcni/bond",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.revision":    commit,
	}
}

// ArchiveName is the archive of one platform ("" for the index).
func ArchiveName(p *v1.Platform) string {
	if p == nil {
		return "bond-image.oci.tar"
	}
	return fmt.Sprintf("bond-image-%s-%s.oci.tar", p.OS, p.Architecture)
}

// epoch is every timestamp in the image, so that the same binaries give
// the same digests.
var epoch = time.Unix(0, 0).UTC()

func main() {
	dist := flag.String("dist", "dist", "directory with the release binaries (make release); the archives are written there")
	version := flag.String("version", "dev", "image version (label org.opencontainers.image.version, ref name)")
	commit := flag.String("commit", "unknown", "source commit (label org.opencontainers.image.revision)")
	flag.Parse()
	if err := Build(*dist, *version, *commit); err != nil {
		fmt.Fprintln(os.Stderr, "bond-image:", err)
		os.Exit(1)
	}
}

// Build writes the index archive and one archive per platform into dist.
func Build(dist, version, commit string) error {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range Platforms {
		img, err := Image(dist, p, version, commit)
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
		if err := writeArchive(filepath.Join(dist, ArchiveName(&p)), version, func(lp layout.Path, ann layout.Option) error {
			return lp.AppendImage(img, layout.WithPlatform(p), ann)
		}); err != nil {
			return err
		}
	}
	return writeArchive(filepath.Join(dist, ArchiveName(nil)), version, func(lp layout.Path, ann layout.Option) error {
		return lp.AppendIndex(idx, ann)
	})
}

// Image builds one platform's image: a single layer with Files, from scratch.
func Image(dist string, p v1.Platform, version, commit string) (v1.Image, error) {
	data, err := layerTar(dist, p)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: epoch}, CreatedBy: "bond-image: " + fmt.Sprint(len(Files)) + " static binaries from make release",
	}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = Entrypoint
	cf.Config.User = User
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	cf.Config.Labels = Labels(version, commit)
	return mutate.ConfigFile(img, cf)
}

// layerTar is the layer's tar: the parent directories (0755), then Files,
// owned by root, at the epoch, in a fixed order.
func layerTar(dist string, p v1.Platform) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range Files {
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var sorted []string
	for d := range dirs {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted) // parents before children
	for _, d := range sorted {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	for _, f := range Files {
		src := filepath.Join(dist, fmt.Sprintf("%s-%s-%s", f.Binary, p.OS, p.Architecture))
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("%s for %s: %w (run make release first)", f.Binary, p, err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Path[1:], Mode: f.Mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeArchive writes an OCI image layout (add puts the image or index in
// it, annotated with the version as its ref name) and tars it to path,
// atomically.
func writeArchive(path, version string, add func(layout.Path, layout.Option) error) error {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".oci-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := add(lp, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": version})); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := tarDir(dir, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// tarDir writes the tree at dir as a tar file, in name order, at the epoch.
func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Format: tar.FormatPAX}
		if d.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			return tw.WriteHeader(h)
		}
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, info.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
