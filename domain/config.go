package domain

import "net"

// MaxConfigBytes bounds the network config: a real one is a few hundred
// bytes, and runtimes keep it in their caches and in every delegate's stdin.
const MaxConfigBytes = 1 << 20

// Config is a bond network config as the runtime sends it on stdin, decoded
// with the types operators actually write (see ParseConfig).
type Config struct {
	CNIVersion string
	Name       string
	Type       string
	// IfName is the legacy "ifname" key; CNI_IFNAME wins when both are set.
	IfName string

	Mode             string
	Miimon           *uint32
	MTU              int
	FailOverMac      *FailOverMac
	LinksInContainer bool
	Links            []string
	AllSlavesActive  *uint8
	TLBDynamicLB     *uint8
	XmitHashPolicy   *XmitHashPolicy

	LacpRate        *LacpRate
	Primary         string
	PrimaryReselect *PrimaryReselect
	UpDelay         *uint32
	DownDelay       *uint32
	ArpInterval     *uint32
	ArpIPTargets    []string
	ArpValidate     *ArpValidate
	MinLinks        *uint32
	AdSelect        *AdSelect
	NumGratArp      *uint8
	PacketsPerSlave *uint32

	// VLAN, if not 0, makes CNI_IFNAME an 8021q device with this id on
	// top of the bond; VLANMTU (0 = the bond's) and VLANProtocol (0 =
	// 802.1Q) describe it.
	VLAN         int
	VLANMTU      int
	VLANProtocol VLANProtocol

	// AllowUnsafeHostLinks is the explicit opt-in to take host links that
	// look like they carry the node's own traffic.
	AllowUnsafeHostLinks bool
	// RequireDistinctPFs refuses two SR-IOV VFs of one PF among the links.
	RequireDistinctPFs bool

	// LogLevel and LogFile are the config's logging keys: a level, and a
	// file name inside the node admin's log directory (Spec checks both).
	LogLevel string
	LogFile  string

	// IPAMType is ipam.type; empty means no IPAM (L2-only bond).
	IPAMType string
	// RuntimeMAC is runtimeConfig.mac (the "mac" capability), if any.
	RuntimeMAC net.HardwareAddr
	// PrevResult is the raw prevResult object, if any.
	PrevResult []byte
	// ValidAttachments is cni.dev/valid-attachments (GC).
	ValidAttachments []AttachmentID
	// DNS is the config's "dns" object; the old plugin copied it into the
	// ADD result when IPAM was used.
	DNS DNS
	// UnknownKeys lists the top-level keys the plugin does not read, sorted.
	// They still reach IPAM through Raw (calico's "kubernetes", for one).
	UnknownKeys []string
	// KeyHints are the unknown keys that look like the plugin's own
	// (misspelt, kernel spelling, or a kernel option the plugin does not
	// set), in key order.
	KeyHints []KeyHint
	// Raw is the config exactly as received; IPAM gets it unchanged.
	Raw []byte
}

// logKeys are the plugin's logging keys.
var logKeys = []string{"logLevel", "logFile"}

// cniKeys are the standard top-level keys ParseConfig reads or knowingly
// leaves to others.
var cniKeys = []string{
	"cniVersion", "name", "type", "ifname", "ipam", "dns", "runtimeConfig",
	"prevResult", "cni.dev/valid-attachments", "args", "capabilities",
}

// ParseConfig decodes a bond network config. It accepts the types users
// write (miimon as 100 or "100", failOverMac as 1, "1" or "active", links as
// objects or strings) and checks each value's type and range; rules that
// involve several keys or the mode are Spec's. Keys match like
// encoding/json's (exact, else case-insensitive), as the old plugin did.
// Errors are CodeDecode when data is not a JSON object, else
// CodeInvalidConfig naming every key that is wrong, its value and what is
// allowed.
func ParseConfig(data []byte) (*Config, error) {
	c, v, err := parse(data)
	if err != nil {
		return nil, err
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// SpecOptions are the node's choices about what a config may do.
type SpecOptions struct {
	// RefuseLookalikeKeys makes an unknown key that looks like one of the
	// plugin's (a KeyHint) an error instead of a warning.
	RefuseLookalikeKeys bool
}

// ParseSpec parses and validates a config for a bond named ifname (see
// Spec) and reports every type, range and cross-key problem at once. The
// config is returned, as far as it decoded, unless the error is
// CodeDecode or the input is too large.
func ParseSpec(data []byte, ifname string, o SpecOptions) (*Config, BondSpec, error) {
	c, v, err := parse(data)
	if err != nil {
		return nil, BondSpec{}, err
	}
	if o.RefuseLookalikeKeys {
		for _, h := range c.KeyHints {
			v.fail("key "+h.Key, `%s (the node settings refuse unknown keys that look like bond keys: "unknownKeys": "error")`, h)
		}
	}
	spec, err := c.spec(ifname, v)
	return c, spec, err
}
