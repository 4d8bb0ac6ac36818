package domain

// Decoding a network config: the top-level keys, looked up as
// encoding/json matches fields, and each value in the types operators write.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// parse decodes data; every per-key problem is recorded in the returned
// validator, and only input that is no JSON object is an error.
func parse(data []byte) (*Config, *validator, error) {
	if len(data) > MaxConfigBytes {
		return nil, nil, Errorf(CodeInvalidConfig, "network config: got %d bytes, want at most %d", len(data), MaxConfigBytes)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		what := "empty input"
		if len(trimmed) > 0 {
			what = "a JSON " + kindOf(trimmed)
			if !json.Valid(trimmed) {
				what = "not JSON"
			}
		}
		return nil, nil, Errorf(CodeDecode, "network config: got %s, want a JSON object", what)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, nil, Errorf(CodeDecode, "network config is not valid JSON: %w", err)
	}
	c := &Config{Raw: slices.Clone(data)}
	v := newValidator(c)
	obj := newObject("", top)

	for _, k := range []struct {
		key string
		dst *string
	}{
		{"cniVersion", &c.CNIVersion}, {"name", &c.Name}, {"type", &c.Type}, {"ifname", &c.IfName},
		{"logLevel", &c.LogLevel}, {"logFile", &c.LogFile},
	} {
		raw, key, err := obj.get(k.key)
		if err == nil && raw != nil {
			*k.dst, err = decodeString(key, raw)
		}
		v.failErr(k.key, err)
	}
	for _, r := range rules() {
		raw, key, err := obj.get(r.Key)
		if err == nil && raw != nil {
			err = r.decode(c, key, raw)
		}
		v.failErr(r.Key, err)
	}
	v.failErr("ipam", c.parseIPAM(obj))
	v.failErr("runtimeConfig", c.parseRuntimeConfig(obj))
	if raw, key, err := obj.get("prevResult"); err != nil {
		v.failErr("prevResult", err)
	} else if raw != nil {
		if raw[0] != '{' {
			v.failErr("prevResult", gotErr(key, raw, "an object (the previous plugin's result)"))
		} else {
			c.PrevResult = raw
		}
	}
	if raw, key, err := obj.get("cni.dev/valid-attachments"); err != nil {
		v.failErr("cni.dev/valid-attachments", err)
	} else if raw != nil {
		const want = `an array of {"containerID": "...", "ifname": "..."}`
		if raw[0] != '[' {
			v.failErr("cni.dev/valid-attachments", gotErr(key, raw, want))
		} else if err := json.Unmarshal(raw, &c.ValidAttachments); err != nil {
			v.failErr("cni.dev/valid-attachments", Errorf(CodeInvalidConfig, "%s: want %s: %w", key, want, err))
		}
	}
	if raw, key, err := obj.get("dns"); err != nil {
		v.failErr("dns", err)
	} else if raw != nil {
		const want = "an object with nameservers, domain, search, options"
		if raw[0] != '{' {
			v.failErr("dns", gotErr(key, raw, want))
		} else if err := json.Unmarshal(raw, &c.DNS); err != nil {
			v.failErr("dns", Errorf(CodeInvalidConfig, "%s: want %s: %w", key, want, err))
		}
	}
	c.UnknownKeys = obj.unknown()
	c.KeyHints = keyHints(c.UnknownKeys)
	return c, v, nil
}

func (c *Config) parseIPAM(obj object) error {
	raw, key, err := obj.get("ipam")
	if err != nil || raw == nil {
		return err
	}
	if raw[0] != '{' {
		return gotErr(key, raw, `an object with "type" (the IPAM plugin), or no ipam for an L2-only bond`)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Errorf(CodeInvalidConfig, "%s: %w", key, err)
	}
	ipam := newObject(key+".", m)
	traw, tkey, err := ipam.get("type")
	if err != nil {
		return err
	}
	if traw != nil {
		if c.IPAMType, err = decodeString(tkey, traw); err != nil {
			return err
		}
	}
	if c.IPAMType == "" {
		if len(m) > 0 {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return Errorf(CodeInvalidConfig, "%s.type: missing, but ipam has %s; set ipam.type to the IPAM plugin's name, or remove ipam for an L2-only bond",
				key, clip(strings.Join(keys, ", ")))
		}
		return nil
	}
	switch {
	case c.IPAMType == "bond":
		return Errorf(CodeInvalidConfig, `%s: "bond" is this plugin, not an IPAM plugin; use an IPAM plugin such as host-local, static, whereabouts or dhcp`, tkey)
	case c.IPAMType == "." || c.IPAMType == ".." || strings.ContainsAny(c.IPAMType, "/\\\x00"):
		return Errorf(CodeInvalidConfig, "%s: %s is not a plugin name; want a file name in CNI_PATH (no '/')", tkey, quote(c.IPAMType))
	}
	return nil
}

func (c *Config) parseRuntimeConfig(obj object) error {
	raw, key, err := obj.get("runtimeConfig")
	if err != nil || raw == nil {
		return err
	}
	if raw[0] != '{' {
		return gotErr(key, raw, "an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Errorf(CodeInvalidConfig, "%s: %w", key, err)
	}
	rc := newObject(key+".", m)
	mraw, mkey, err := rc.get("mac")
	if err != nil || mraw == nil {
		return err
	}
	const want = "a unicast Ethernet MAC such as 02:00:00:00:00:01"
	s, err := decodeString(mkey, mraw)
	if err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	mac, perr := net.ParseMAC(s)
	switch {
	case perr != nil || len(mac) != 6:
		return Errorf(CodeInvalidConfig, "%s: %s is not an Ethernet MAC; want %s", mkey, quote(s), want)
	case mac[0]&1 == 1:
		return Errorf(CodeInvalidConfig, "%s: %s is a multicast address; want %s", mkey, quote(s), want)
	case bytes.Equal(mac, make([]byte, 6)):
		return Errorf(CodeInvalidConfig, "%s: %s is the all-zero address; want %s", mkey, quote(s), want)
	}
	c.RuntimeMAC = mac
	return nil
}

// object looks keys up in a decoded JSON object the way encoding/json
// matches struct fields: exactly, else case-insensitively. Two spellings of
// one key are refused, since which one wins would depend on key order.
type object struct {
	prefix string
	m      map[string]json.RawMessage
	folded map[string][]string
	used   map[string]bool
}

func newObject(prefix string, m map[string]json.RawMessage) object {
	o := object{prefix: prefix, m: m, folded: make(map[string][]string, len(m)), used: map[string]bool{}}
	for k := range m {
		l := strings.ToLower(k)
		o.folded[l] = append(o.folded[l], k)
	}
	return o
}

// get returns the value of key (nil when absent or JSON null) and the
// key's name for messages.
func (o object) get(key string) (json.RawMessage, string, error) {
	l := strings.ToLower(key)
	o.used[l] = true
	spellings := o.folded[l]
	switch len(spellings) {
	case 0:
		return nil, o.prefix + key, nil
	case 1:
	default:
		s := slices.Clone(spellings)
		slices.Sort(s)
		for i := range s {
			s[i] = quote(o.prefix + s[i])
		}
		return nil, "", Errorf(CodeInvalidConfig, "%s: set more than once (%s); keep only %q", o.prefix+key, strings.Join(s, ", "), o.prefix+key)
	}
	name := o.prefix + spellings[0]
	raw := o.m[spellings[0]]
	if len(raw) == 0 || raw[0] == 'n' { // JSON null: as if absent
		return nil, name, nil
	}
	return raw, name, nil
}

// unknown returns the keys get was never asked for, sorted.
func (o object) unknown() []string {
	for _, k := range cniKeys {
		o.used[strings.ToLower(k)] = true
	}
	var out []string
	for k := range o.m {
		if !o.used[strings.ToLower(k)] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// kindOf names the JSON type of a value.
func kindOf(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

const maxShown = 64

// clip shortens s for a message and makes it valid UTF-8.
func clip(s string) string {
	if len(s) > maxShown {
		s = s[:maxShown] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// quote renders a string value for a message: quoted, shortened.
func quote(s string) string {
	if len(s) > maxShown {
		return strconv.Quote(s[:maxShown]) + "…"
	}
	return strconv.Quote(s)
}

// showRaw renders a raw JSON value for a message.
func showRaw(raw []byte) string { return clip(string(raw)) }

// gotErr is the type/range error: "key: got <type> <value>, want <want>".
func gotErr(key string, raw []byte, want string) *Error {
	return Errorf(CodeInvalidConfig, "%s: got %s %s, want %s", key, kindOf(raw), showRaw(raw), want)
}

func decodeString(key string, raw json.RawMessage) (string, error) {
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", gotErr(key, raw, "a string")
	}
	return s, nil
}

func decodeBool(key string, raw json.RawMessage, strOK bool) (bool, error) {
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if strOK && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			switch s {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
	}
	if strOK {
		return false, gotErr(key, raw, `true or false (or "true"/"false")`)
	}
	return false, gotErr(key, raw, "true or false")
}

// digits returns the value of a JSON number or string that is a plain
// non-negative decimal integer, and ok false for anything else (negative,
// fraction, exponent, empty, other types).
func digits(raw json.RawMessage) (string, bool) {
	s := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
	} else if kindOf(raw) != "number" {
		return "", false
	}
	if s == "" {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// decodeUint reads an integer 0..max written as a JSON number or a numeric
// string.
func decodeUint(key string, raw json.RawMessage, max uint64, want string) (uint64, error) {
	s, ok := digits(raw)
	if !ok {
		return 0, gotErr(key, raw, want)
	}
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return 0, nil
	}
	if len(s) > 20 {
		return 0, gotErr(key, raw, want)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > max {
		return 0, gotErr(key, raw, want)
	}
	return v, nil
}

// decodeFlag reads 0/1 written as a number, a numeric string or a boolean
// (also "true"/"false").
func decodeFlag(key string, raw json.RawMessage) (uint64, error) {
	const want = `0 or 1 (number or string) or true/false`
	if b, err := decodeBool(key, raw, true); err == nil {
		if b {
			return 1, nil
		}
		return 0, nil
	}
	v, err := decodeUint(key, raw, 1, want)
	if err != nil {
		return 0, gotErr(key, raw, want)
	}
	return v, nil
}

// decodeEnum reads a named value (kernel names) or its number, as a JSON
// number or a numeric string.
func decodeEnum[T ~uint8 | ~uint32](key string, raw json.RawMessage, table []enumName[T]) (T, error) {
	want := fmt.Sprintf("one of %s, or 0..%d", enumNames(table), len(table)-1)
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if v, ok := lookupEnum(table, s); ok {
				return v, nil
			}
		}
	}
	n, err := decodeUint(key, raw, uint64(len(table)-1), want)
	if err != nil {
		return 0, err
	}
	for _, e := range table {
		if uint64(e.val) == n {
			return e.val, nil
		}
	}
	return 0, gotErr(key, raw, want)
}

// decodeStrings reads an array of strings.
func decodeStrings(field func(*Config) *[]string) func(*Config, string, json.RawMessage) error {
	return func(c *Config, key string, raw json.RawMessage) error {
		const want = "an array of strings"
		if raw[0] != '[' {
			return gotErr(key, raw, want)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return gotErr(key, raw, want)
		}
		out := make([]string, 0, len(items))
		for i, it := range items {
			s, err := decodeString(fmt.Sprintf("%s[%d]", key, i), it)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		*field(c) = out
		return nil
	}
}

// decodeLinks reads links as [{"name": "eth0"}, ...] (other keys in the
// entries are ignored, as the old plugin did) or as ["eth0", ...].
func decodeLinks(c *Config, key string, raw json.RawMessage) error {
	const want = `an array of {"name": "<interface>"} objects or of interface-name strings`
	if raw[0] != '[' {
		return gotErr(key, raw, want)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return gotErr(key, raw, want)
	}
	links := make([]string, 0, len(items))
	for i, it := range items {
		ik := fmt.Sprintf("%s[%d]", key, i)
		switch kindOf(it) {
		case "string":
			s, err := decodeString(ik, it)
			if err != nil {
				return err
			}
			links = append(links, s)
		case "object":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(it, &m); err != nil {
				return gotErr(ik, it, `{"name": "<interface>"}`)
			}
			n, ok := m["name"]
			if !ok || len(n) == 0 || n[0] == 'n' {
				return Errorf(CodeInvalidConfig, `%s: %s has no "name"; want {"name": "<interface>"}`, ik, showRaw(it))
			}
			s, err := decodeString(ik+".name", n)
			if err != nil {
				return err
			}
			links = append(links, s)
		default:
			return gotErr(ik, it, `{"name": "<interface>"} or an interface-name string`)
		}
	}
	c.Links = links
	return nil
}
