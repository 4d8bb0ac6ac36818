package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeSRIOVExampleIsTheDeployExample: the README's SR-IOV block (after
// the sriov-example marker) is, byte for byte, the bond
// NetworkAttachmentDefinition of deploy/examples/sriov-802.3ad.yaml.
func TestReadmeSRIOVExampleIsTheDeployExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- sriov-example -->\n```yaml\n")
	if !ok {
		t.Fatal("README.md: no <!-- sriov-example --> yaml block")
	}
	block, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("README.md: the sriov-example block is not closed")
	}
	example, err := os.ReadFile(filepath.Join(deployDir, "examples", "sriov-802.3ad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	for _, d := range strings.Split(string(example), "\n---\n") {
		if strings.Contains(d, `"type": "bond"`) {
			doc = d
		}
	}
	if doc == "" {
		t.Fatal("deploy/examples/sriov-802.3ad.yaml: no bond NAD")
	}
	if strings.TrimSpace(block) != strings.TrimSpace(doc) {
		t.Errorf("README.md's SR-IOV example differs from deploy/examples/sriov-802.3ad.yaml's bond NAD:\n%s\n---\n%s", block, doc)
	}
	objs, errs := decodeYAML([]byte(block), "README.md")
	if len(errs) > 0 || len(objs) != 1 {
		t.Errorf("README.md's SR-IOV example does not decode: %v", errs)
	}
}
