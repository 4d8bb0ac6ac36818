//go:build benchfloor

package main

import "os"

// A benchfloor build exits once every package it imports is initialised,
// before this package's own init (the main thread's lock) and main: make
// bench measures with it what the binary's dependencies cost to start,
// which no code of the plugin can take back. (Files initialise in name
// order, and this one sorts before main.go.)
func init() { os.Exit(0) }
