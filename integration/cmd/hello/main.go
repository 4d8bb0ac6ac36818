// Command hello is the floor of `make bench`: the smallest static Go
// program that starts the runtime, writes one line and exits. A cold exec
// of the bond plugin is compared with a cold exec of this binary, built
// with the same flags, so the ratio shows what the plugin's package
// initialisation and wiring cost on top of any Go process start.
package main

import "os"

func main() {
	_, _ = os.Stdout.WriteString("hello, world\n")
}
