package domain

import (
	"errors"
	"strings"
)

// LogLevels are the levels a network config or the node file may name.
var LogLevels = []string{"debug", "info", "warn", "error"}

// ValidLogLevel reports whether name is one of LogLevels (any case;
// "warning" too).
func ValidLogLevel(name string) bool {
	switch strings.ToLower(name) {
	case "debug", "info", "warn", "warning", "error":
		return true
	}
	return false
}

// CheckLogFileName accepts a log file name that can only mean a file
// directly inside the node admin's log directory: a network config chooses
// at most the name, never the place.
func CheckLogFileName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return errors.New("want a file name; allowed: a plain file name inside the node admin's log directory")
	case strings.ContainsAny(name, "/\x00"):
		return errors.New("is a path; allowed: a plain file name (no '/') inside the node admin's log directory, which only the node settings file can choose")
	case len(name) > 255:
		return errors.New("is longer than 255 bytes; allowed: a plain file name inside the node admin's log directory")
	}
	return nil
}
