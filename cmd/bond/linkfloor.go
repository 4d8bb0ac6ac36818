//go:build benchfloor

package main

import "os"

// A benchfloor build exits as soon as every package is initialised, before
// main: make bench measures with it what this binary's dependencies cost
// to start, which no code of the plugin can take back.
func init() { os.Exit(0) }
