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

// EncodeRecord is the on-disk form of a record, stamped with RecordVersion:
// compact JSON, since two are written on every ADD and indenting costs
// three times the encoding; the debug server and jq show them indented.
func EncodeRecord(a Attachment) ([]byte, error) {
	a.Version = RecordVersion
	return json.Marshal(a)
}

// DecodeRecord reads a record of version 0 to RecordVersion strictly: an
// unknown key, a wrong type, trailing data or a missing identity is an
// error wrapping ErrUnreadable.
func DecodeRecord(data []byte) (Attachment, error) {
	a, err := decodeStrict(data)
	if err != nil {
		// Say why in the terms of the format: not JSON, or a version this
		// plugin does not know (whose unknown keys made the strict decode
		// fail), before the strict decoder's own complaint.
		var probe struct {
			Version *int `json:"version"`
		}
		if perr := json.Unmarshal(data, &probe); perr != nil {
			return Attachment{}, fmt.Errorf("%w: not a JSON record: %w", ErrUnreadable, perr)
		}
		if probe.Version != nil {
			if err := checkVersion(*probe.Version); err != nil {
				return Attachment{}, err
			}
		}
		return Attachment{}, err
	}
	if err := checkVersion(a.Version); err != nil {
		return Attachment{}, err
	}
	if a.ID.ContainerID == "" || a.ID.IfName == "" {
		return Attachment{}, fmt.Errorf("%w: no containerID or ifname", ErrUnreadable)
	}
	return a, nil
}

// decodeStrict decodes one record, refusing unknown keys and trailing data.
func decodeStrict(data []byte) (Attachment, error) {
	var a Attachment
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Attachment{}, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Attachment{}, fmt.Errorf("%w: data after the record", ErrUnreadable)
	}
	return a, nil
}

func checkVersion(v int) error {
	if v < 0 || v > RecordVersion {
		return fmt.Errorf("%w: format version %d; this plugin reads versions 0 to %d", ErrUnreadable, v, RecordVersion)
	}
	return nil
}
