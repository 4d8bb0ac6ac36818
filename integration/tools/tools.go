//go:build tools

// Package tools pins the IPAM plugins the integration tests run.
package tools

import (
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "github.com/containernetworking/plugins/plugins/ipam/static"
)
