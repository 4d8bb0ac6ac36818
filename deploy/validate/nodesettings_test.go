package validate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/bondcni/bond/adapters/nodefile"
)

// The shipped node settings ConfigMap holds a node.json the plugin accepts
// (decoded as strictly as the plugin does), in the namespace of the
// DaemonSet that mounts it.
func TestNodeSettingsConfigMap(t *testing.T) {
	var found bool
	for _, cm := range filter[*corev1.ConfigMap](loadAll(t)) {
		if cm.Name != nodeSettingsConfigMap {
			continue
		}
		found = true
		if cm.Namespace != "kube-system" {
			t.Errorf("ConfigMap %s: namespace %q, want kube-system", cm.Name, cm.Namespace)
		}
		data, ok := cm.Data["node.json"]
		if !ok {
			t.Fatalf("ConfigMap %s: no node.json", cm.Name)
		}
		if _, err := nodefile.Decode([]byte(data)); err != nil {
			t.Errorf("ConfigMap %s: node.json: %v", cm.Name, err)
		}
	}
	if !found {
		t.Errorf("no ConfigMap %s in deploy/", nodeSettingsConfigMap)
	}
}
