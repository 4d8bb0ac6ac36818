package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fixtureDir = "../fixtures/configs"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	require.NoError(t, err)
	return b
}

// conf builds a valid active-backup config with over applied; a nil value
// deletes the key, a json.RawMessage is written as is.
func conf(over map[string]any) []byte {
	base := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "bondnet",
		"type":       "bond",
		"mode":       "active-backup",
		"miimon":     100,
		"links":      []any{map[string]any{"name": "net1"}, map[string]any{"name": "net2"}},
	}
	for k, v := range over {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	b, err := json.Marshal(base)
	if err != nil {
		panic(err)
	}
	return b
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func u32(v uint32) *uint32 { return &v }
func u8(v uint8) *uint8    { return &v }

func TestParseConfigSeedHostActiveBackup(t *testing.T) {
	data := readFixture(t, "seed-host-active-backup.json")
	c, err := ParseConfig(data)
	require.NoError(t, err)

	assert.Equal(t, "0.3.1", c.CNIVersion)
	assert.Equal(t, "bond0", c.Name)
	assert.Equal(t, "bond", c.Type)
	assert.Equal(t, "net1", c.IfName)
	assert.Equal(t, "active-backup", c.Mode)
	assert.Equal(t, u32(100), c.Miimon)
	require.NotNil(t, c.FailOverMac)
	assert.Equal(t, FailOverMacActive, *c.FailOverMac)
	assert.False(t, c.LinksInContainer)
	assert.Equal(t, []string{"eth1000", "eth1001"}, c.Links)
	assert.Equal(t, "calico-ipam", c.IPAMType)
	assert.Equal(t, []string{"datastore_type", "kubernetes"}, c.UnknownKeys)
	assert.Equal(t, data, c.Raw, "Raw must be the input bytes, unchanged")
	assert.Contains(t, string(c.Raw), `"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"`)
	assert.Contains(t, string(c.Raw), `"datastore_type": "kubernetes"`)
}

func TestParseConfigSeedSRIOV8023AD(t *testing.T) {
	c, err := ParseConfig(readFixture(t, "seed-sriov-8023ad.json"))
	require.NoError(t, err)

	assert.Equal(t, "bond0", c.IfName)
	assert.Equal(t, "802.3ad", c.Mode)
	assert.Equal(t, u32(100), c.Miimon)
	assert.Nil(t, c.FailOverMac)
	assert.True(t, c.LinksInContainer)
	assert.Equal(t, []string{"net1", "net2"}, c.Links)
	assert.Equal(t, "static", c.IPAMType)
	assert.Empty(t, c.UnknownKeys)
}

func TestParseConfigRawIsACopy(t *testing.T) {
	data := conf(nil)
	c, err := ParseConfig(data)
	require.NoError(t, err)
	want := bytes.Clone(data)
	data[0] = 'X'
	assert.Equal(t, want, c.Raw)
}

func TestParseConfigAcceptedForms(t *testing.T) {
	tests := []struct {
		name  string
		over  map[string]any
		check func(t *testing.T, c *Config)
	}{
		{"miimon number", map[string]any{"miimon": 100}, func(t *testing.T, c *Config) { assert.Equal(t, u32(100), c.Miimon) }},
		{"miimon string", map[string]any{"miimon": "100"}, func(t *testing.T, c *Config) { assert.Equal(t, u32(100), c.Miimon) }},
		{"miimon zero-padded string", map[string]any{"miimon": "0100"}, func(t *testing.T, c *Config) { assert.Equal(t, u32(100), c.Miimon) }},
		{"miimon INT_MAX", map[string]any{"miimon": raw("2147483647")}, func(t *testing.T, c *Config) { assert.Equal(t, u32(IntMax), c.Miimon) }},
		{"miimon zero", map[string]any{"miimon": 0}, func(t *testing.T, c *Config) { assert.Equal(t, u32(0), c.Miimon) }},
		{"miimon null is absent", map[string]any{"miimon": raw("null")}, func(t *testing.T, c *Config) { assert.Nil(t, c.Miimon) }},
		{"miimon absent", map[string]any{"miimon": nil}, func(t *testing.T, c *Config) { assert.Nil(t, c.Miimon) }},
		{"key in other case", map[string]any{"miimon": nil, "MiiMon": 200}, func(t *testing.T, c *Config) { assert.Equal(t, u32(200), c.Miimon) }},
		{"failOverMac 1", map[string]any{"failOverMac": 1}, func(t *testing.T, c *Config) { assert.Equal(t, FailOverMacActive, *c.FailOverMac) }},
		{"failOverMac \"1\"", map[string]any{"failOverMac": "1"}, func(t *testing.T, c *Config) { assert.Equal(t, FailOverMacActive, *c.FailOverMac) }},
		{"failOverMac active", map[string]any{"failOverMac": "active"}, func(t *testing.T, c *Config) { assert.Equal(t, FailOverMacActive, *c.FailOverMac) }},
		{"failOverMac follow", map[string]any{"failOverMac": "follow"}, func(t *testing.T, c *Config) { assert.Equal(t, FailOverMacFollow, *c.FailOverMac) }},
		{"failOverMac 0", map[string]any{"failOverMac": 0}, func(t *testing.T, c *Config) { assert.Equal(t, FailOverMacNone, *c.FailOverMac) }},
		{"failOverMac none", map[string]any{"failOverMac": "none"}, func(t *testing.T, c *Config) { assert.Equal(t, FailOverMacNone, *c.FailOverMac) }},
		{"linksInContainer true", map[string]any{"linksInContainer": true}, func(t *testing.T, c *Config) { assert.True(t, c.LinksInContainer) }},
		{"linksInContainer \"true\"", map[string]any{"linksInContainer": "true"}, func(t *testing.T, c *Config) { assert.True(t, c.LinksInContainer) }},
		{"linksInContainer \"false\"", map[string]any{"linksInContainer": "false"}, func(t *testing.T, c *Config) { assert.False(t, c.LinksInContainer) }},
		{"links as strings", map[string]any{"links": []string{"a", "b", "c"}}, func(t *testing.T, c *Config) { assert.Equal(t, []string{"a", "b", "c"}, c.Links) }},
		{"links with extra keys", map[string]any{"links": raw(`[{"name":"a","pci":"0000:01:00.1"},{"name":"b","x":{}}]`)}, func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"a", "b"}, c.Links)
		}},
		{"links mixed", map[string]any{"links": raw(`[{"name":"a"},"b"]`)}, func(t *testing.T, c *Config) { assert.Equal(t, []string{"a", "b"}, c.Links) }},
		{"allSlavesActive 1", map[string]any{"allSlavesActive": 1}, func(t *testing.T, c *Config) { assert.Equal(t, u8(1), c.AllSlavesActive) }},
		{"allSlavesActive \"0\"", map[string]any{"allSlavesActive": "0"}, func(t *testing.T, c *Config) { assert.Equal(t, u8(0), c.AllSlavesActive) }},
		{"allSlavesActive true", map[string]any{"allSlavesActive": true}, func(t *testing.T, c *Config) { assert.Equal(t, u8(1), c.AllSlavesActive) }},
		{"tlbDynamicLb false", map[string]any{"tlbDynamicLb": false}, func(t *testing.T, c *Config) { assert.Equal(t, u8(0), c.TLBDynamicLB) }},
		{"xmitHashPolicy name", map[string]any{"xmitHashPolicy": "vlan+srcmac"}, func(t *testing.T, c *Config) { assert.Equal(t, XmitHashPolicy(5), *c.XmitHashPolicy) }},
		{"xmitHashPolicy number", map[string]any{"xmitHashPolicy": 1}, func(t *testing.T, c *Config) { assert.Equal(t, XmitHashPolicy(1), *c.XmitHashPolicy) }},
		{"lacpRate fast", map[string]any{"lacpRate": "fast"}, func(t *testing.T, c *Config) { assert.Equal(t, LacpRate(1), *c.LacpRate) }},
		{"lacpRate 0", map[string]any{"lacpRate": 0}, func(t *testing.T, c *Config) { assert.Equal(t, LacpRate(0), *c.LacpRate) }},
		{"primaryReselect 2", map[string]any{"primaryReselect": "2"}, func(t *testing.T, c *Config) { assert.Equal(t, PrimaryReselect(2), *c.PrimaryReselect) }},
		{"arpValidate filter_backup", map[string]any{"arpValidate": "filter_backup"}, func(t *testing.T, c *Config) { assert.Equal(t, ArpValidate(6), *c.ArpValidate) }},
		{"adSelect count", map[string]any{"adSelect": "count"}, func(t *testing.T, c *Config) { assert.Equal(t, AdSelect(2), *c.AdSelect) }},
		{"numGratArp 255", map[string]any{"numGratArp": 255}, func(t *testing.T, c *Config) { assert.Equal(t, u8(255), c.NumGratArp) }},
		{"packetsPerSlave 65535", map[string]any{"packetsPerSlave": "65535"}, func(t *testing.T, c *Config) { assert.Equal(t, u32(65535), c.PacketsPerSlave) }},
		{"delays", map[string]any{"updelay": 200, "downdelay": "300"}, func(t *testing.T, c *Config) {
			assert.Equal(t, u32(200), c.UpDelay)
			assert.Equal(t, u32(300), c.DownDelay)
		}},
		{"arp", map[string]any{"arpInterval": "1000", "arpIpTargets": []string{"192.0.2.1"}}, func(t *testing.T, c *Config) {
			assert.Equal(t, u32(1000), c.ArpInterval)
			assert.Equal(t, []string{"192.0.2.1"}, c.ArpIPTargets)
		}},
		{"minLinks", map[string]any{"minLinks": 2}, func(t *testing.T, c *Config) { assert.Equal(t, u32(2), c.MinLinks) }},
		{"primary", map[string]any{"primary": "net2"}, func(t *testing.T, c *Config) { assert.Equal(t, "net2", c.Primary) }},
		{"mtu", map[string]any{"mtu": 9000}, func(t *testing.T, c *Config) { assert.Equal(t, 9000, c.MTU) }},
		{"mtu 0", map[string]any{"mtu": 0}, func(t *testing.T, c *Config) { assert.Equal(t, 0, c.MTU) }},
		{"mtu 68", map[string]any{"mtu": "68"}, func(t *testing.T, c *Config) { assert.Equal(t, 68, c.MTU) }},
		{"allowUnsafeHostLinks", map[string]any{"allowUnsafeHostLinks": true}, func(t *testing.T, c *Config) { assert.True(t, c.AllowUnsafeHostLinks) }},
		{"ipam empty", map[string]any{"ipam": map[string]any{}}, func(t *testing.T, c *Config) { assert.Empty(t, c.IPAMType) }},
		{"ipam null", map[string]any{"ipam": raw("null")}, func(t *testing.T, c *Config) { assert.Empty(t, c.IPAMType) }},
		{"ipam type", map[string]any{"ipam": map[string]any{"type": "host-local", "subnet": "10.0.0.0/8"}}, func(t *testing.T, c *Config) {
			assert.Equal(t, "host-local", c.IPAMType)
		}},
		{"runtime mac", map[string]any{"runtimeConfig": map[string]any{"mac": "02:00:00:00:00:0a", "ips": []string{"10.0.0.1/24"}}}, func(t *testing.T, c *Config) {
			assert.Equal(t, "02:00:00:00:00:0a", c.RuntimeMAC.String())
		}},
		{"prevResult", map[string]any{"prevResult": raw(`{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]}`)}, func(t *testing.T, c *Config) {
			assert.JSONEq(t, `{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]}`, string(c.PrevResult))
		}},
		{"valid attachments", map[string]any{"cni.dev/valid-attachments": raw(`[{"containerID":"abc","ifname":"net1"},{"containerID":"def","ifname":"bond0"}]`)}, func(t *testing.T, c *Config) {
			assert.Equal(t, []AttachmentID{{"abc", "net1"}, {"def", "bond0"}}, c.ValidAttachments)
		}},
		{"dns", map[string]any{"dns": map[string]any{"nameservers": []string{"10.0.0.10"}, "search": []string{"svc"}}}, func(t *testing.T, c *Config) {
			assert.Equal(t, DNS{Nameservers: []string{"10.0.0.10"}, Search: []string{"svc"}}, c.DNS)
		}},
		{"unknown keys pass", map[string]any{"kubernetes": map[string]any{"k": 1}, "miimom": 5}, func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"kubernetes", "miimom"}, c.UnknownKeys)
		}},
		{"legacy ifname", map[string]any{"ifname": "bond7"}, func(t *testing.T, c *Config) { assert.Equal(t, "bond7", c.IfName) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := conf(tt.over)
			c, err := ParseConfig(data)
			require.NoError(t, err, "%s", data)
			tt.check(t, c)
			assert.Equal(t, data, c.Raw)
		})
	}
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		code Code
		want []string
	}{
		{"empty", []byte(""), CodeDecode, []string{"want a JSON object"}},
		{"whitespace", []byte(" \n"), CodeDecode, []string{"want a JSON object"}},
		{"array", []byte(`[1,2]`), CodeDecode, []string{"array", "want a JSON object"}},
		{"null", []byte(`null`), CodeDecode, []string{"want a JSON object"}},
		{"string", []byte(`"x"`), CodeDecode, []string{"string"}},
		{"garbage", []byte(`hello`), CodeDecode, []string{"not JSON"}},
		{"truncated", readFixture(t, "invalid-not-json.json"), CodeDecode, []string{"not valid JSON"}},
		{"trailing", []byte(`{"name":"a"} {}`), CodeDecode, []string{"not valid JSON"}},

		{"miimon negative", conf(map[string]any{"miimon": -100}), CodeInvalidConfig, []string{"miimon", "got number -100", "0..2147483647"}},
		{"miimon negative string", conf(map[string]any{"miimon": "-1"}), CodeInvalidConfig, []string{"miimon", `got string "-1"`}},
		{"miimon fraction", conf(map[string]any{"miimon": raw("100.5")}), CodeInvalidConfig, []string{"miimon", "100.5", "integer"}},
		{"miimon exponent", conf(map[string]any{"miimon": raw("1e2")}), CodeInvalidConfig, []string{"miimon", "1e2"}},
		{"miimon too big", conf(map[string]any{"miimon": raw("2147483648")}), CodeInvalidConfig, []string{"miimon", "2147483648", "0..2147483647"}},
		{"miimon huge", conf(map[string]any{"miimon": raw("1" + strings.Repeat("0", 400))}), CodeInvalidConfig, []string{"miimon", "0..2147483647"}},
		{"miimon huge string", conf(map[string]any{"miimon": strings.Repeat("9", 30)}), CodeInvalidConfig, []string{"miimon"}},
		{"miimon word", conf(map[string]any{"miimon": "fast"}), CodeInvalidConfig, []string{"miimon", `"fast"`}},
		{"miimon empty string", conf(map[string]any{"miimon": ""}), CodeInvalidConfig, []string{"miimon", `got string ""`}},
		{"miimon spaced string", conf(map[string]any{"miimon": " 100"}), CodeInvalidConfig, []string{"miimon"}},
		{"miimon bool", conf(map[string]any{"miimon": true}), CodeInvalidConfig, []string{"miimon", "got boolean true"}},
		{"miimon object", conf(map[string]any{"miimon": map[string]any{}}), CodeInvalidConfig, []string{"miimon", "got object"}},
		{"updelay too big", conf(map[string]any{"updelay": raw("4294967296")}), CodeInvalidConfig, []string{"updelay", "4294967296"}},
		{"arpInterval negative", conf(map[string]any{"arpInterval": -1}), CodeInvalidConfig, []string{"arpInterval", "-1"}},
		{"minLinks too big", conf(map[string]any{"minLinks": raw("3000000000")}), CodeInvalidConfig, []string{"minLinks", "3000000000"}},
		{"numGratArp 256", conf(map[string]any{"numGratArp": 256}), CodeInvalidConfig, []string{"numGratArp", "256", "0..255"}},
		{"packetsPerSlave 65536", conf(map[string]any{"packetsPerSlave": 65536}), CodeInvalidConfig, []string{"packetsPerSlave", "65536", "0..65535"}},
		{"mtu small", conf(map[string]any{"mtu": 67}), CodeInvalidConfig, []string{"mtu", "67", "68..65535"}},
		{"mtu big", conf(map[string]any{"mtu": 65536}), CodeInvalidConfig, []string{"mtu", "65536", "68..65535"}},
		{"mtu negative", conf(map[string]any{"mtu": -1}), CodeInvalidConfig, []string{"mtu", "-1"}},
		{"mode number", conf(map[string]any{"mode": 1}), CodeInvalidConfig, []string{"mode", "got number 1", `"active-backup"`}},
		{"mode bool", conf(map[string]any{"mode": false}), CodeInvalidConfig, []string{"mode", "got boolean false", "balance-rr"}},
		{"name number", conf(map[string]any{"name": 5}), CodeInvalidConfig, []string{"name", "got number 5", "string"}},
		{"cniVersion number", conf(map[string]any{"cniVersion": 1.0}), CodeInvalidConfig, []string{"cniVersion", "got number"}},
		{"type object", conf(map[string]any{"type": map[string]any{}}), CodeInvalidConfig, []string{"type", "got object"}},
		{"ifname number", conf(map[string]any{"ifname": 0}), CodeInvalidConfig, []string{"ifname", "got number 0"}},
		{"failOverMac 3", conf(map[string]any{"failOverMac": 3}), CodeInvalidConfig, []string{"failOverMac", "3", "none, active, follow"}},
		{"failOverMac word", conf(map[string]any{"failOverMac": "yes"}), CodeInvalidConfig, []string{"failOverMac", `"yes"`, "none, active, follow"}},
		{"failOverMac bool", conf(map[string]any{"failOverMac": true}), CodeInvalidConfig, []string{"failOverMac", "boolean true"}},
		{"failOverMac capitalised", conf(map[string]any{"failOverMac": "Active"}), CodeInvalidConfig, []string{"failOverMac", `"Active"`}},
		{"xmitHashPolicy bogus", conf(map[string]any{"xmitHashPolicy": "layer5"}), CodeInvalidConfig, []string{"xmitHashPolicy", `"layer5"`, "layer2, layer3+4"}},
		{"xmitHashPolicy 6", conf(map[string]any{"xmitHashPolicy": 6}), CodeInvalidConfig, []string{"xmitHashPolicy", "6", "0..5"}},
		{"lacpRate bogus", conf(map[string]any{"lacpRate": "medium"}), CodeInvalidConfig, []string{"lacpRate", "medium", "slow, fast"}},
		{"primaryReselect 3", conf(map[string]any{"primaryReselect": 3}), CodeInvalidConfig, []string{"primaryReselect", "3", "always, better, failure"}},
		{"arpValidate 7", conf(map[string]any{"arpValidate": "7"}), CodeInvalidConfig, []string{"arpValidate", `"7"`, "filter_backup"}},
		{"adSelect bogus", conf(map[string]any{"adSelect": "speed"}), CodeInvalidConfig, []string{"adSelect", "speed", "stable, bandwidth, count"}},
		{"allSlavesActive 2", conf(map[string]any{"allSlavesActive": 2}), CodeInvalidConfig, []string{"allSlavesActive", "2", "0 or 1"}},
		{"tlbDynamicLb word", conf(map[string]any{"tlbDynamicLb": "yes"}), CodeInvalidConfig, []string{"tlbDynamicLb", `"yes"`}},
		{"linksInContainer number", conf(map[string]any{"linksInContainer": 1}), CodeInvalidConfig, []string{"linksInContainer", "got number 1", "true or false"}},
		{"linksInContainer word", conf(map[string]any{"linksInContainer": "yes"}), CodeInvalidConfig, []string{"linksInContainer", `"yes"`}},
		{"allowUnsafeHostLinks string", conf(map[string]any{"allowUnsafeHostLinks": "true"}), CodeInvalidConfig, []string{"allowUnsafeHostLinks", `got string "true"`, "true or false"}},
		{"links object", conf(map[string]any{"links": map[string]any{"name": "a"}}), CodeInvalidConfig, []string{"links", "got object", "array"}},
		{"links string", conf(map[string]any{"links": "net1,net2"}), CodeInvalidConfig, []string{"links", `got string "net1,net2"`}},
		{"links number entry", conf(map[string]any{"links": raw(`[{"name":"a"}, 5]`)}), CodeInvalidConfig, []string{"links[1]", "got number 5"}},
		{"links null entry", conf(map[string]any{"links": raw(`[{"name":"a"}, null]`)}), CodeInvalidConfig, []string{"links[1]", "got null"}},
		{"links no name", conf(map[string]any{"links": raw(`[{"name":"a"}, {"ifname":"b"}]`)}), CodeInvalidConfig, []string{"links[1]", `no "name"`}},
		{"links name number", conf(map[string]any{"links": raw(`[{"name":"a"}, {"name":7}]`)}), CodeInvalidConfig, []string{"links[1].name", "got number 7"}},
		{"arpIpTargets string", conf(map[string]any{"arpIpTargets": "192.0.2.1"}), CodeInvalidConfig, []string{"arpIpTargets", `"192.0.2.1"`, "array of strings"}},
		{"arpIpTargets number entry", conf(map[string]any{"arpIpTargets": raw(`["192.0.2.1", 3232235777]`)}), CodeInvalidConfig, []string{"arpIpTargets[1]", "3232235777"}},
		{"ipam string", conf(map[string]any{"ipam": "host-local"}), CodeInvalidConfig, []string{"ipam", `"host-local"`, "object"}},
		{"ipam bond", readFixture(t, "invalid-ipam-bond.json"), CodeInvalidConfig, []string{"ipam.type", `"bond"`}},
		{"ipam type number", conf(map[string]any{"ipam": map[string]any{"type": 1}}), CodeInvalidConfig, []string{"ipam.type", "got number 1"}},
		{"ipam type path", conf(map[string]any{"ipam": map[string]any{"type": "../../bin/sh"}}), CodeInvalidConfig, []string{"ipam.type", "../../bin/sh"}},
		{"ipam no type", conf(map[string]any{"ipam": map[string]any{"subnet": "10.0.0.0/8"}}), CodeInvalidConfig, []string{"ipam.type", "missing", "subnet"}},
		{"runtimeConfig array", conf(map[string]any{"runtimeConfig": []any{}}), CodeInvalidConfig, []string{"runtimeConfig", "got array"}},
		{"mac not a mac", conf(map[string]any{"runtimeConfig": map[string]any{"mac": "zz"}}), CodeInvalidConfig, []string{"runtimeConfig.mac", `"zz"`}},
		{"mac number", conf(map[string]any{"runtimeConfig": map[string]any{"mac": 5}}), CodeInvalidConfig, []string{"runtimeConfig.mac", "got number 5"}},
		{"mac multicast", conf(map[string]any{"runtimeConfig": map[string]any{"mac": "01:00:5e:00:00:01"}}), CodeInvalidConfig, []string{"runtimeConfig.mac", "01:00:5e:00:00:01", "multicast"}},
		{"mac broadcast", conf(map[string]any{"runtimeConfig": map[string]any{"mac": "ff:ff:ff:ff:ff:ff"}}), CodeInvalidConfig, []string{"runtimeConfig.mac", "multicast"}},
		{"mac zero", conf(map[string]any{"runtimeConfig": map[string]any{"mac": "00:00:00:00:00:00"}}), CodeInvalidConfig, []string{"runtimeConfig.mac", "all-zero"}},
		{"mac infiniband", conf(map[string]any{"runtimeConfig": map[string]any{"mac": "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"}}), CodeInvalidConfig, []string{"runtimeConfig.mac", "not an Ethernet MAC"}},
		{"prevResult array", conf(map[string]any{"prevResult": []any{}}), CodeInvalidConfig, []string{"prevResult", "got array"}},
		{"valid-attachments object", conf(map[string]any{"cni.dev/valid-attachments": map[string]any{}}), CodeInvalidConfig, []string{"cni.dev/valid-attachments", "got object"}},
		{"valid-attachments bad entry", conf(map[string]any{"cni.dev/valid-attachments": raw(`[{"containerID": 5}]`)}), CodeInvalidConfig, []string{"cni.dev/valid-attachments"}},
		{"dns array", conf(map[string]any{"dns": []any{}}), CodeInvalidConfig, []string{"dns", "got array"}},
		{"key twice in two spellings", conf(map[string]any{"Miimon": 100}), CodeInvalidConfig, []string{"miimon", `"Miimon"`, `"miimon"`, "more than once"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(tt.data)
			require.Error(t, err, "%s", tt.data)
			assert.Nil(t, c)
			assert.Equal(t, tt.code, CodeOf(err, 0), err.Error())
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParseConfigLongValueIsClipped(t *testing.T) {
	long := strings.Repeat("x", 512<<10)
	_, err := ParseConfig(conf(map[string]any{"miimon": long}))
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 300)
	assert.Contains(t, err.Error(), "miimon")
}

func TestParseConfigHostileInputs(t *testing.T) {
	links := make([]string, 1000)
	for i := range links {
		links[i] = fmt.Sprintf("eth%d", i)
	}
	bigString := strings.Repeat("a", 900<<10)
	tests := map[string][]byte{
		"900 KB name":       conf(map[string]any{"name": bigString}),
		"900 KB unknown":    conf(map[string]any{"blob": bigString}),
		"deep nesting":      []byte(`{"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`),
		"deep in ipam":      conf(map[string]any{"ipam": raw(`{"type":"x","y":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + `}`)}),
		"1000 links":        conf(map[string]any{"links": links}),
		"non-UTF-8 name":    []byte("{\"name\":\"bo\xffnd\",\"mode\":\"active-backup\",\"miimon\":100,\"links\":[\"a\",\"b\"]}"),
		"non-UTF-8 link":    []byte("{\"name\":\"bond\",\"mode\":\"active-backup\",\"miimon\":100,\"links\":[\"\xc3\x28\",\"b\"]}"),
		"non-UTF-8 value":   []byte("{\"name\":\"bond\",\"miimon\":\"\xff\xfe\"}"),
		"non-UTF-8 outside": []byte("{\"name\":\"bond\"\xff}"),
		"NUL bytes":         []byte("{\"name\":\"bo\\u0000nd\",\"links\":[\"a\\u0000\",\"b\"]}"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			assert.NotPanics(t, func() {
				c, err := ParseConfig(data)
				if err != nil {
					code := CodeOf(err, 0)
					assert.True(t, code == CodeDecode || code == CodeInvalidConfig, "code %d: %v", code, err)
					return
				}
				_, err = c.Spec("net1")
				if err != nil {
					assert.Less(t, len(err.Error()), 4096)
				}
			})
		})
	}
}

func TestParseConfigThousandLinksRefusedBySpec(t *testing.T) {
	links := make([]string, 1000)
	for i := range links {
		links[i] = fmt.Sprintf("eth%d", i)
	}
	c, err := ParseConfig(conf(map[string]any{"links": links}))
	require.NoError(t, err)
	_, err = c.Spec("bond0")
	require.Error(t, err)
	assert.Equal(t, CodeInvalidConfig, CodeOf(err, 0))
	assert.Contains(t, err.Error(), "links: 1000 entries; at most 32 allowed")
}

// fixtures returns the config fixtures by name.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = b
	}
	return out
}

func TestFixtures(t *testing.T) {
	fs := fixtures(t)
	for _, m := range AllModes() {
		assert.Contains(t, fs, "mode-"+m.String()+".json", "a valid fixture per mode")
	}
	for name, data := range fs {
		t.Run(name, func(t *testing.T) {
			c, err := ParseConfig(data)
			if err == nil {
				_, err = c.Spec("net0")
			}
			if strings.HasPrefix(name, "invalid-") {
				require.Error(t, err)
				code := CodeOf(err, 0)
				assert.True(t, code == CodeDecode || code == CodeInvalidConfig, "code %d", code)
				return
			}
			require.NoError(t, err)
			if strings.HasPrefix(name, "mode-") {
				assert.Equal(t, strings.TrimSuffix(strings.TrimPrefix(name, "mode-"), ".json"), c.Mode)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "net1")
		}
	}
	f.Add(conf(map[string]any{"miimon": "100", "updelay": "150"}), "")
	f.Add(conf(map[string]any{"mode": "802.3ad", "arpIpTargets": []string{"1.2.3.4"}}), "bond0")
	f.Add([]byte(`{"links":["a","a"],"mode":"balance-alb","tlbDynamicLb":0}`), "a")
	f.Fuzz(func(t *testing.T, data []byte, ifname string) {
		// ParseSpec, strict or not, agrees with ParseConfig then Spec on
		// whether a config is valid and on the bond it builds.
		_, pspec, perr := ParseSpec(data, ifname, SpecOptions{})
		_, _, _ = ParseSpec(data, ifname, SpecOptions{RefuseLookalikeKeys: true})
		defer func() {
			if t.Failed() {
				t.Logf("ParseSpec: %v %+v", perr, pspec)
			}
		}()
		c, err := ParseConfig(data)
		if err == nil {
			spec, serr := c.Spec(ifname)
			if (serr == nil) != (perr == nil) || serr == nil && !reflect.DeepEqual(spec, pspec) {
				t.Fatalf("ParseSpec %v differs from ParseConfig+Spec %v", perr, serr)
			}
		} else if perr == nil {
			t.Fatalf("ParseSpec accepted what ParseConfig refused: %v", err)
		}
		if err != nil {
			if code := CodeOf(err, 0); code != CodeDecode && code != CodeInvalidConfig {
				t.Fatalf("ParseConfig code %d: %v", code, err)
			}
			return
		}
		if !bytes.Equal(c.Raw, data) {
			t.Fatal("Raw differs from the input")
		}
		spec, err := c.Spec(ifname)
		if err != nil {
			if code := CodeOf(err, 0); code != CodeInvalidConfig && code != CodeInvalidEnv {
				t.Fatalf("Spec code %d: %v", code, err)
			}
			return
		}
		// A spec that passed must satisfy the basic invariants.
		if badIfName(spec.Name) != "" {
			t.Fatalf("invalid bond name %q accepted", spec.Name)
		}
		if len(spec.Links) < 2 || len(spec.Links) > MaxLinks {
			t.Fatalf("%d links accepted", len(spec.Links))
		}
		for _, l := range spec.Links {
			if badIfName(l) != "" || l == spec.Name {
				t.Fatalf("invalid link %q accepted", l)
			}
		}
		o := spec.Options
		if (o.Miimon == nil || *o.Miimon == 0) && (o.ArpInterval == nil || *o.ArpInterval == 0) {
			t.Fatal("spec without link monitoring accepted")
		}
		if spec.MTU != 0 && (spec.MTU < 68 || spec.MTU > 65535) {
			t.Fatalf("mtu %d accepted", spec.MTU)
		}
	})
}

func BenchmarkParseAndValidate(b *testing.B) {
	data := readFixture(b, "seed-host-active-backup.json")
	b.ReportAllocs()
	for b.Loop() {
		c, err := ParseConfig(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Spec("net1"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseConfigRefusesOversizedConfig(t *testing.T) {
	data := conf(map[string]any{"blob": strings.Repeat("a", 10<<20)})
	_, err := ParseConfig(data)
	require.Error(t, err)
	assert.Equal(t, CodeInvalidConfig, CodeOf(err, 0))
	assert.Contains(t, err.Error(), "at most 1048576")
}
