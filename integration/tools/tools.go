//go:build tools

// Package tools pins the reference plugins the integration tests run: the
// IPAM plugins, and vlan for the two-network alternative to "vlan".
package tools

import (
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "github.com/containernetworking/plugins/plugins/ipam/static"
	_ "github.com/containernetworking/plugins/plugins/main/vlan"
)
