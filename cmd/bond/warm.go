package main

import (
	"encoding/json"

	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/bondcni/bond/adapters/nlkernel"
	"github.com/bondcni/bond/domain"
)

// warmUp starts, beside the graph's construction on the other CPU, the
// once-per-process work a verb would otherwise meet on its critical path.
// Each piece is work the verb does anyway, moved earlier; none changes
// anything on the node or can fail the call.
func warmUp(verb string) {
	go func() {
		// encoding/json builds a type's encoder (and the field tables its
		// decoder shares) on first use: the record's, and ADD's result.
		_, _ = domain.EncodeRecord(domain.Attachment{})
		if verb == "ADD" {
			_, _ = json.Marshal(&types100.Result{})
		}
	}()
}

// openPodSocket opens the rtnetlink socket in CNI_NETNS while the verb
// parses its config and checks its inputs. The socket has no effect on the
// namespace; if it cannot be opened, the verb's first request there meets
// the same error and reports it.
func openPodSocket(a *nlkernel.Adapter, netns string) {
	if netns != "" {
		go a.Open(domain.Netns(netns))
	}
}
