package domain

import (
	"net/netip"
	"time"
)

// Phase tells how far an ADD got; DEL and GC use it after a crash.
type Phase string

const (
	// PhaseAdding: the record was written before anything on the node changed;
	// the ADD may have stopped anywhere after that.
	PhaseAdding Phase = "adding"
	// PhaseReady: the ADD completed and returned its result.
	PhaseReady Phase = "ready"
)

// AttachmentID names one attachment: a container's interface.
type AttachmentID struct {
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifname"`
}

// Attachment is the durable record of one bond attachment, written before ADD
// changes anything so that DEL or GC can finish or undo the work even after a
// crash or a lost runtime cache.
type Attachment struct {
	// Version is the record format (RecordVersion when written; 0 in records
	// from before versions existed).
	Version          int          `json:"version"`
	ID               AttachmentID `json:"id"`
	Netns            Netns        `json:"netns"`
	Network          string       `json:"network"`
	Phase            Phase        `json:"phase"`
	CreatedAt        time.Time    `json:"createdAt"`
	LinksInContainer bool         `json:"linksInContainer"`
	Mode             string       `json:"mode"`
	// Links holds each slave's state as found before the ADD.
	Links []LinkState `json:"links"`
	// Bond is the bond's name when it is not ID.IfName: with "vlan", the
	// interface named CNI_IFNAME is a VLAN device on a bond named Bond.
	Bond string `json:"bond,omitempty"`
	// BondMTU is the bond's effective MTU (configured, or the slaves').
	BondMTU int `json:"bondMtu,omitempty"`
	// IPs configured on the bond, for CHECK and the debug view.
	IPs []netip.Prefix `json:"ips,omitempty"`
	// PodNamespace and PodName come from CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME).
	PodNamespace string `json:"podNamespace,omitempty"`
	PodName      string `json:"podName,omitempty"`
	// Config is the network config the ADD ran with, so DEL and GC can
	// release IPAM even when the runtime lost its copy.
	Config []byte `json:"config,omitempty"`
}

// BondAlias marks a bond created by this plugin for one attachment, so DEL
// never deletes a link it did not create.
func BondAlias(id AttachmentID) string {
	a := "bond-cni:" + id.ContainerID
	if len(a) > 128 {
		a = a[:128]
	}
	return a
}
