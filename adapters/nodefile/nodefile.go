// Package nodefile reads the node settings file: what the node admin, not
// the author of a network config, decides about the plugin on one node
// (which host NICs pods may take, whether configs may opt in to unsafe host
// links, where logs, records and locks live). The default path is
// /etc/cni/bond.d/node.json; BOND_NODE_CONFIG, set in the runtime's
// environment, overrides it.
//
// The file is strict: an unknown key, a wrong type, trailing data or a bad
// value is an error naming the file, and the plugin then fails every verb.
// It never falls back to permissive defaults. A missing file is not an
// error: the plugin behaves as a drop-in for bond-cni (any host NIC), with
// logs confined to DefaultLogDir and the unsafe-host-link opt-in refused.
// A file that exists allows only the host NICs its "hostLinks" lists.
package nodefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"

	"github.com/bondcni/bond/domain"
)

// DefaultPath is where the node settings live unless BOND_NODE_CONFIG says.
const DefaultPath = "/etc/cni/bond.d/node.json"

// DefaultLogDir is the admin's log directory when the file names none.
const DefaultLogDir = "/var/log/bond-cni"

// maxBytes bounds the file; a real one is a few hundred bytes.
const maxBytes = 1 << 20

// Settings is the node settings file. To add a setting, add a field here
// (with its json tag and a line in README's "Node settings" table) and, if
// it has rules, a check in validate; decoding stays strict by itself.
type Settings struct {
	// HostLinks lists the host interfaces (names or path.Match globs such
	// as "ens1f*", "*" for any) that network configs may move into pods.
	// Absent or empty: none. Only a missing file means any host interface
	// (bond-cni's behaviour).
	HostLinks *[]string `json:"hostLinks,omitempty"`
	// AllowUnsafeHostLinks lets a network config's "allowUnsafeHostLinks"
	// take host links that have a global address or a default route.
	AllowUnsafeHostLinks bool `json:"allowUnsafeHostLinks,omitempty"`
	// LogDir is the only directory the plugin writes logs in (DefaultLogDir
	// when empty). A network config's "logFile" is a file name inside it.
	LogDir string `json:"logDir,omitempty"`
	// LogFile, a file name inside LogDir, receives every invocation's logs
	// (in addition to stderr), whatever the network config says.
	LogFile string `json:"logFile,omitempty"`
	// LogLevel is the default level (debug, info, warn, error); a network
	// config's "logLevel" can only make its own invocations more verbose.
	LogLevel string `json:"logLevel,omitempty"`
	// IPAMEnv names variables of the plugin's environment that the IPAM
	// plugin also gets (it always gets the CNI variables and PATH).
	IPAMEnv []string `json:"ipamEnv,omitempty"`
	// StateDir holds the attachment records; LockDir the host-link locks.
	StateDir string `json:"stateDir,omitempty"`
	LockDir  string `json:"lockDir,omitempty"`
	// UnknownKeys is what an unknown network-config key that looks like a
	// bond key ("lacp_rate", "miimmon") gets: "warn" (the default) logs
	// it, "error" refuses the config on ADD and CHECK.
	UnknownKeys string `json:"unknownKeys,omitempty"`
}

// Node is the loaded settings and where they came from.
type Node struct {
	Settings
	// Path is the file read; Found is false when it does not exist.
	Path  string
	Found bool
}

// Policy is the part of the settings the use cases enforce.
func (n Node) Policy() domain.NodePolicy {
	// A file that names no host link allows none: the admin who writes the
	// file lists the NICs meant for pods.
	p := domain.NodePolicy{Source: n.Path, AllowUnsafeHostLinks: n.AllowUnsafeHostLinks, RestrictHostLinks: n.Found,
		RefuseLookalikeKeys: n.UnknownKeys == "error"}
	if n.HostLinks != nil {
		p.HostLinks = append([]string(nil), (*n.HostLinks)...)
	}
	return p
}

// EffectiveLogDir is LogDir or DefaultLogDir.
func (n Node) EffectiveLogDir() string {
	if n.LogDir == "" {
		return DefaultLogDir
	}
	return n.LogDir
}

// Error is a node settings file that cannot be used. Every verb fails with
// it, so the message names the file and says who must fix it.
type Error struct {
	Path string
	Err  error
	// IO is true when the file could not be read (code 5), false when its
	// content is wrong (code 7).
	IO bool
}

func (e *Error) Error() string {
	return fmt.Sprintf("node settings file %s: %v (the node admin must fix it)", e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Code is the CNI code for this error.
func (e *Error) Code() domain.Code {
	if e.IO {
		return domain.CodeIOFailure
	}
	return domain.CodeInvalidConfig
}

// Load reads the settings at path (DefaultPath if empty). The file must be a
// regular file owned by root and writable by nobody else: whoever can write
// it decides what the root plugin does.
func Load(p string) (Node, error) {
	if p == "" {
		p = DefaultPath
	}
	n := Node{Path: p}
	// O_NONBLOCK: a FIFO planted at the path must fail the call (trusted
	// refuses it), not hang every verb waiting for a writer. Symlinks are
	// followed: admins may link the file from elsewhere.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return n, &Error{Path: p, Err: err, IO: true}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return n, &Error{Path: p, Err: err, IO: true}
	}
	if err := trusted(fi); err != nil {
		return n, &Error{Path: p, Err: err}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return n, &Error{Path: p, Err: err, IO: true}
	}
	if len(data) > maxBytes {
		return n, &Error{Path: p, Err: fmt.Errorf("larger than %d bytes", maxBytes)}
	}
	s, err := Decode(data)
	if err != nil {
		return n, &Error{Path: p, Err: err}
	}
	n.Settings, n.Found = s, true
	return n, nil
}

// trusted refuses a file that is not regular, not root's, or writable by
// group or others.
func trusted(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("is a %s, want a regular file", fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return fmt.Errorf("is owned by uid %d, want root (0)", st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("mode %04o lets group or others write it; want at most 0644", fi.Mode().Perm())
	}
	return nil
}

// Decode parses and checks the settings: one JSON object, no unknown key
// (matched exactly: encoding/json alone would take "hostlinks" for
// "hostLinks").
func Decode(data []byte) (Settings, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil || keys == nil {
		return Settings{}, fmt.Errorf("not valid: want a JSON object: %v", err)
	}
	known := knownKeys()
	for k := range keys {
		if !known[k] {
			return Settings{}, fmt.Errorf("unknown key %q; known keys: %s", k, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
	}
	var s Settings
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("not valid: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Settings{}, errors.New("not valid: data after the JSON object")
	}
	return s, s.validate()
}

// knownKeys are the json names of Settings' fields.
func knownKeys() map[string]bool {
	t := reflect.TypeFor[Settings]()
	out := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out[name] = true
	}
	return out
}

func (s Settings) validate() error {
	if s.HostLinks != nil {
		for _, pat := range *s.HostLinks {
			if pat == "" || strings.ContainsAny(pat, "/\x00") {
				return fmt.Errorf("hostLinks: %q is not an interface name or glob", pat)
			}
			if _, err := path.Match(pat, ""); err != nil {
				return fmt.Errorf("hostLinks: %q is not a valid glob: %w", pat, err)
			}
		}
	}
	for _, d := range []struct{ key, val string }{{"logDir", s.LogDir}, {"stateDir", s.StateDir}, {"lockDir", s.LockDir}} {
		if d.val != "" && (!filepath.IsAbs(d.val) || filepath.Clean(d.val) != d.val) {
			return fmt.Errorf("%s: %q is not a clean absolute path", d.key, d.val)
		}
	}
	for _, v := range s.IPAMEnv {
		if v == "" || strings.ContainsAny(v, "=\x00") {
			return fmt.Errorf("ipamEnv: %q is not a variable name", v)
		}
	}
	if s.LogFile != "" {
		if err := domain.CheckLogFileName(s.LogFile); err != nil {
			return fmt.Errorf("logFile: %w", err)
		}
	}
	switch s.UnknownKeys {
	case "", "warn", "error":
	default:
		return fmt.Errorf("unknownKeys: %q is not one of warn, error", s.UnknownKeys)
	}
	if s.LogLevel != "" && !domain.ValidLogLevel(s.LogLevel) {
		return fmt.Errorf("logLevel: %q is not one of %s", s.LogLevel, strings.Join(domain.LogLevels, ", "))
	}
	return nil
}
