package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// RecordVersion is the format of the attachment records this plugin writes.
// Version 0 is the format before versions existed (no "version" key, no
// "podIndex"); it is read as is. Version 2 adds each link's "device" (its
// parent device, which identifies a NIC whose driver rewrites its
// permanent MAC, as VF drivers do). A record of a later version is
// refused, never guessed at: DEL would move the wrong links. "bond" (an
// attachment with "vlan") is written only when used, so a binary without
// it refuses such a record (an unknown key) rather than delete the wrong
// bond.
const RecordVersion = 2

// ErrUnreadable: a record exists but this version cannot read it (corrupt,
// truncated, another shape, a newer format).
var ErrUnreadable = errors.New("attachment record unreadable")

// UnreadableRecord is a record file the store could not read, for the
// debug view and GC's log: it is shown, never silently skipped.
type UnreadableRecord struct {
	File string
	Err  string
}

// EncodeRecord is the on-disk form of a record, stamped with RecordVersion.
func EncodeRecord(a Attachment) ([]byte, error) {
	a.Version = RecordVersion
	return json.MarshalIndent(a, "", "  ")
}

// DecodeRecord reads a record of version 0 to RecordVersion strictly: an
// unknown key, a wrong type, trailing data or a missing identity is an
// error wrapping ErrUnreadable.
func DecodeRecord(data []byte) (Attachment, error) {
	var probe struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Attachment{}, fmt.Errorf("%w: not a JSON record: %w", ErrUnreadable, err)
	}
	if probe.Version != nil && (*probe.Version < 0 || *probe.Version > RecordVersion) {
		return Attachment{}, fmt.Errorf("%w: format version %d; this plugin reads versions 0 to %d", ErrUnreadable, *probe.Version, RecordVersion)
	}
	var a Attachment
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Attachment{}, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Attachment{}, fmt.Errorf("%w: data after the record", ErrUnreadable)
	}
	if a.ID.ContainerID == "" || a.ID.IfName == "" {
		return Attachment{}, fmt.Errorf("%w: no containerID or ifname", ErrUnreadable)
	}
	return a, nil
}
