package domain

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateReadme = flag.Bool("update", false, "rewrite README.md's option table from the option table")

const (
	tableStart = "<!-- option-table: generated from domain/options.go by `go test ./domain -run TestReadmeOptionTable -update` -->\n"
	tableEnd   = "<!-- /option-table -->\n"
)

// optionTableMarkdown renders the option table as the README shows it:
// one row per key, in table order.
func optionTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Kernel option | Modes | Values | Meaning |\n|---|---|---|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, r := range OptionRules() {
		kernel, modes := r.Kernel, "all"
		if kernel == "" {
			kernel = "—"
		}
		if len(r.Modes) != len(AllModes()) {
			modes = modeList(r.Modes)
		}
		for _, c := range []string{"`" + r.Key + "`", r.Type, r.Default, kernel, modes, r.Values, r.Description} {
			b.WriteString("| " + cell(c) + " ")
		}
		b.WriteString("|\n")
	}
	return b.String()
}

// TestReadmeOptionTable: README.md's key table is the option table's
// rendering; -update rewrites it.
func TestReadmeOptionTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	i := bytes.Index(readme, []byte(tableStart))
	j := bytes.Index(readme, []byte(tableEnd))
	require.True(t, i >= 0 && j > i, "README.md has no %q ... %q block", tableStart, tableEnd)
	want := optionTableMarkdown()
	got := string(readme[i+len(tableStart) : j])
	if got == want {
		return
	}
	if *updateReadme {
		out := append(append(append([]byte{}, readme[:i+len(tableStart)]...), want...), readme[j:]...)
		require.NoError(t, os.WriteFile("../README.md", out, 0o644))
		return
	}
	t.Errorf("README.md's option table is not the option table's: run go test ./domain -run TestReadmeOptionTable -update\n--- README\n%s--- table\n%s", got, want)
}
