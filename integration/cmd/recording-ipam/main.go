// Command recording-ipam is a test-only IPAM plugin standing in for
// calico-ipam: it records every invocation's stdin and environment under
// $RECORDING_IPAM_DIR (default /tmp/recording-ipam) so tests can prove the
// whole network config, top-level keys such as "kubernetes" and
// "datastore_type" included, reached IPAM. ADD answers with an address in
// 10.10.20.0/24 derived from the container ID (the seed's IPPool).
package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
)

func main() {
	cmd := os.Getenv("CNI_COMMAND")
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(5, "reading stdin: "+err.Error())
	}
	if cmd == "VERSION" {
		fmt.Print(`{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}`)
		return
	}
	dir := os.Getenv("RECORDING_IPAM_DIR")
	if dir == "" {
		dir = "/tmp/recording-ipam"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(5, err.Error())
	}
	rec := map[string]any{
		"command":     cmd,
		"containerID": os.Getenv("CNI_CONTAINERID"),
		"ifname":      os.Getenv("CNI_IFNAME"),
		"netns":       os.Getenv("CNI_NETNS"),
		"args":        os.Getenv("CNI_ARGS"),
		"stdin":       json.RawMessage(stdin),
		"env":         os.Environ(),
	}
	data, _ := json.Marshal(rec)
	name := filepath.Join(dir, cmd+"-"+os.Getenv("CNI_CONTAINERID")+".json")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		fail(5, err.Error())
	}
	if cmd != "ADD" {
		return
	}
	var conf struct {
		CNIVersion string `json:"cniVersion"`
	}
	_ = json.Unmarshal(stdin, &conf)
	h := fnv.New32a()
	h.Write([]byte(os.Getenv("CNI_CONTAINERID")))
	host := 2 + h.Sum32()%250
	fmt.Printf(`{"cniVersion":%q,"ips":[{"version":"4","address":"10.10.20.%d/24"}]}`, conf.CNIVersion, host)
}

func fail(code int, msg string) {
	fmt.Printf(`{"code":%d,"msg":%q}`, code, msg)
	os.Exit(1)
}
