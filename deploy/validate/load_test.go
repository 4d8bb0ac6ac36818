package validate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The tests run in deploy/validate.
const (
	repoRoot  = "../.."
	deployDir = ".."
)

// nadGV is Multus' NetworkAttachmentDefinition API group and version.
var nadGV = schema.GroupVersion{Group: "k8s.cni.cncf.io", Version: "v1"}

// NetworkAttachmentDefinition is the Multus CRD, defined here rather than
// imported from k8snetworkplumbingwg/network-attachment-definition-client
// (which would bring client-go): its schema is only spec.config, a string
// holding the CNI network config.
type NetworkAttachmentDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              NetworkAttachmentDefinitionSpec `json:"spec"`
}

// NetworkAttachmentDefinitionSpec is the NAD's spec.
type NetworkAttachmentDefinitionSpec struct {
	Config string `json:"config"`
}

// DeepCopyObject implements runtime.Object.
func (n *NetworkAttachmentDefinition) DeepCopyObject() runtime.Object {
	c := *n
	n.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}

// decoder decodes YAML strictly into the registered types: an unknown or
// duplicate field, a field in the wrong case, or an unregistered kind is
// an error.
var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, corev1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	scheme.AddKnownTypes(nadGV, &NetworkAttachmentDefinition{})
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true})
}()

// object is one decoded YAML document.
type object struct {
	File  string // relative to deploy/
	Index int    // document number in the file, from 1
	Obj   runtime.Object
}

func (o object) String() string {
	name := ""
	if m, ok := o.Obj.(metav1.Object); ok {
		name = " " + m.GetName()
	}
	kind := fmt.Sprintf("%T", o.Obj)
	kind = kind[strings.LastIndex(kind, ".")+1:]
	return fmt.Sprintf("%s#%d (%s%s)", o.File, o.Index, kind, name)
}

// decodeFile decodes every document of a YAML file strictly.
func decodeFile(path, rel string) ([]object, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{err}
	}
	return decodeYAML(data, rel)
}

// decodeYAML decodes every document of a YAML stream strictly; rel names
// it in messages.
func decodeYAML(data []byte, rel string) ([]object, []error) {
	var out []object
	var errs []error
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s#%d: %w", rel, i, err))
			break
		}
		if isBlank(doc) {
			i--
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s#%d: %w", rel, i, err))
			continue
		}
		out = append(out, object{File: rel, Index: i, Obj: obj})
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no manifest in it", rel))
	}
	return out, errs
}

// isBlank reports whether a YAML document holds only comments and space.
func isBlank(doc []byte) bool {
	for _, l := range strings.Split(string(doc), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && l != "---" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// manifestFiles lists every YAML file under dir except the validator's own.
func manifestFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// The validator's own test data, and the kustomize tree, whose
		// pieces are not manifests on their own: loadAll builds its overlays.
		if d.IsDir() && (p == filepath.Join(deployDir, "validate") || p == filepath.Join(deployDir, "kustomize")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// loadAll decodes every manifest in deploy/ and the output of every
// kustomize overlay, failing the test on any error.
func loadAll(t *testing.T) []object {
	t.Helper()
	var all []object
	for _, f := range manifestFiles(t, deployDir) {
		rel, _ := filepath.Rel(deployDir, f)
		objs, errs := decodeFile(f, rel)
		for _, err := range errs {
			t.Error(err)
		}
		all = append(all, objs...)
	}
	for _, o := range overlays {
		objs, errs := buildOverlay(o)
		for _, err := range errs {
			t.Error(err)
		}
		all = append(all, objs...)
	}
	if t.Failed() {
		t.FailNow()
	}
	return all
}

func filter[T runtime.Object](objs []object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// where finds the object a typed value came from, for messages.
func where(objs []object, v runtime.Object) string {
	for _, o := range objs {
		if o.Obj == v {
			return o.String()
		}
	}
	return fmt.Sprintf("%T", v)
}

// Multus' network selection annotation.
const networksAnnotation = "k8s.v1.cni.cncf.io/networks"

// resourceNameAnnotation on a NAD names the device plugin resource whose
// device the network attaches (SR-IOV).
const resourceNameAnnotation = "k8s.v1.cni.cncf.io/resourceName"

// networkSelection is one element of the networks annotation
// (Multus' NetworkSelectionElement).
type networkSelection struct {
	Name               string          `json:"name"`
	Namespace          string          `json:"namespace,omitempty"`
	Interface          string          `json:"interface,omitempty"`
	IPs                []string        `json:"ips,omitempty"`
	MAC                string          `json:"mac,omitempty"`
	InfinibandGUID     string          `json:"infiniband-guid,omitempty"`
	PortMappings       json.RawMessage `json:"portMappings,omitempty"`
	Bandwidth          json.RawMessage `json:"bandwidth,omitempty"`
	CNIArgs            json.RawMessage `json:"cni-args,omitempty"`
	DefaultRoute       []string        `json:"default-route,omitempty"`
	IPAMClaimReference string          `json:"ipam-claim-reference,omitempty"`
}

// attachment is one secondary network of a pod, with the interface name
// Multus gives it.
type attachment struct {
	networkSelection
	IfName string
}

// podNetworks parses a pod's networks annotation the way Multus does: a
// JSON list of selections, or a comma-separated list of
// [namespace/]name[@interface]. An unnamed interface is net<position>.
func podNetworks(pod *corev1.Pod) ([]attachment, error) {
	v, ok := pod.Annotations[networksAnnotation]
	if !ok {
		return nil, nil
	}
	var sels []networkSelection
	if s := strings.TrimSpace(v); strings.HasPrefix(s, "[") {
		d := json.NewDecoder(strings.NewReader(s))
		d.DisallowUnknownFields()
		if err := d.Decode(&sels); err != nil {
			return nil, fmt.Errorf("%s: %w", networksAnnotation, err)
		}
	} else {
		for _, item := range strings.Split(s, ",") {
			item = strings.TrimSpace(item)
			var sel networkSelection
			if ns, rest, ok := strings.Cut(item, "/"); ok {
				sel.Namespace, item = ns, rest
			}
			sel.Name, sel.Interface, _ = strings.Cut(item, "@")
			sels = append(sels, sel)
		}
	}
	var out []attachment
	seen := map[string]bool{}
	for i, sel := range sels {
		if sel.Name == "" {
			return nil, fmt.Errorf("%s: element %d has no name", networksAnnotation, i+1)
		}
		ifname := sel.Interface
		if ifname == "" {
			ifname = "net" + strconv.Itoa(i+1)
		}
		if seen[ifname] {
			return nil, fmt.Errorf("%s: interface %q twice (Multus refuses the pod)", networksAnnotation, ifname)
		}
		seen[ifname] = true
		out = append(out, attachment{networkSelection: sel, IfName: ifname})
	}
	return out, nil
}
