package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// volatileKeys are the keys the runtime adds or changes per call (GC's list
// of valid attachments, a result, capabilities, the spec version a GC is
// sent in), so they say nothing about which network a config is.
// libcni also sends the valid attachments as "cni.dev/attachments", the
// name an early spec draft used.
var volatileKeys = []string{"cni.dev/valid-attachments", "cni.dev/attachments", "prevResult", "runtimeConfig", "args", "cniVersion"}

// NetworkIdentity is what identifies one network for GC: the config as the
// network's author wrote it, canonicalised (keys sorted, whitespace gone),
// without the runtime's per-call keys. Network names alone are not unique:
// two namespaces can each have a NetworkAttachmentDefinition "bond0", and a
// GC of one must not delete the other's attachments.
func NetworkIdentity(config []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil || top == nil {
		return "", fmt.Errorf("network identity: config is not a JSON object: %v", err)
	}
	for _, k := range volatileKeys {
		delete(top, k)
	}
	out, err := json.Marshal(top) // maps marshal with sorted keys
	if err != nil {
		return "", fmt.Errorf("network identity: %w", err)
	}
	return string(out), nil
}
