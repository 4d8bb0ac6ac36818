package domain

import (
	"slices"
	"strings"
	"sync"
)

// KeyHint is an unknown top-level key that looks like one of the plugin's:
// a case, '_'/'-' or kernel spelling of it, or a small typo. Such a key
// changes nothing on the bond, which is what its author did not mean.
type KeyHint struct {
	// Key is the key as written.
	Key string
	// Want is the plugin key it probably means; empty when Key is a kernel
	// bonding option the plugin does not set (Unsupported).
	Want        string
	Unsupported bool
}

func (h KeyHint) String() string {
	if h.Unsupported {
		return h.Key + " is a kernel bonding option this plugin does not set; it is ignored"
	}
	return h.Key + " is not a bond plugin key and is ignored; did you mean " + h.Want + "?"
}

// foreignKeys are top-level keys that IPAM plugins read from the network
// config (calico-ipam above all), so they are expected next to ours and
// never hinted at, however close they are to one of our keys.
var foreignKeys = []string{
	"log_level", "log_file_path", "log_file_max_size", "log_file_max_age", "log_file_max_count",
	"datastore_type", "etcd_endpoints", "etcd_discovery_srv", "etcd_scheme", "etcd_key_file",
	"etcd_cert_file", "etcd_ca_cert_file", "kubernetes", "policy", "nodename", "nodename_file",
	"nodename_file_optional", "feature_control", "container_settings", "kubeconfig",
}

// unsupportedKernelOptions are bonding options of the kernel the plugin
// does not set: a config naming one is asking for something it will not get.
var unsupportedKernelOptions = []string{
	"ad_actor_sys_prio", "ad_actor_system", "ad_user_port_key", "arp_all_targets", "arp_missed_max",
	"coupled_control", "lp_interval", "peer_notif_delay", "resend_igmp", "use_carrier",
	"queue_id", "active_slave", "ns_ip6_target",
}

// keyCandidate is a spelling (normalised) and the plugin key it stands for.
type keyCandidate struct{ norm, key string }

// keyCandidates lists every plugin key under its own and its kernel
// spelling, in table order so ties resolve the same way every time. Built
// on first use: only a config with an unknown key needs it, and every exec
// of the plugin (VERSION included) would pay for it at package init.
var keyCandidates = sync.OnceValue(func() []keyCandidate {
	var out []keyCandidate
	add := func(spelling, key string) { out = append(out, keyCandidate{normKey(spelling), key}) }
	for _, r := range rules() {
		add(r.Key, r.Key)
		if r.Kernel != "" {
			add(r.Kernel, r.Key)
		}
	}
	add("num_peer_notif", "numGratArp")
	for _, k := range append(slices.Clone(logKeys), cniKeys...) {
		add(k, k)
	}
	return out
})

// normKey folds case and drops the separators people put between words.
func normKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r != '_' && r != '-' && r != '.' && r != ' ' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// hintFor returns the hint for an unknown key, if it looks like ours.
func hintFor(key string) (KeyHint, bool) {
	if slices.Contains(foreignKeys, strings.ToLower(key)) {
		return KeyHint{}, false
	}
	n := normKey(key)
	if n == "" {
		return KeyHint{}, false
	}
	for _, u := range unsupportedKernelOptions {
		if n == normKey(u) {
			return KeyHint{Key: key, Unsupported: true}, true
		}
	}
	// A typo: one edit in a short key, two in a longer one.
	limit := 1
	if len(n) > 5 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range keyCandidates() {
		if d := editDistance(n, c.norm, bestD); d < bestD {
			best, bestD = c.key, d
		}
	}
	if best == "" {
		return KeyHint{}, false
	}
	return KeyHint{Key: key, Want: best}, true
}

// editDistance is the Levenshtein distance of a and b, or any value >= max
// once it is known to be at least max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d >= max || -d >= max {
		return max
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= max {
			return max
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// keyHints returns the hints for a config's unknown keys, in key order.
func keyHints(unknown []string) []KeyHint {
	var out []KeyHint
	for _, k := range unknown {
		if h, ok := hintFor(k); ok {
			out = append(out, h)
		}
	}
	return out
}
