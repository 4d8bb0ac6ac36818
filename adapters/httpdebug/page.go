package httpdebug

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

// page.html is the whole page: inline CSS, inline JS that fetches the JSON
// API, and SVG drawn in the browser. It loads nothing else, and its
// Content-Security-Policy forbids it to.
//
//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// pageCSP allows exactly the page's one inline script and one inline style
// block, by their SHA-256, and nothing injected next to them: no
// 'unsafe-inline'. The hashes are taken from the rendered page (the
// template engine rewrites script text, e.g. drops comments), so they
// cannot drift from what the browser gets.
func pageCSP(page string) (string, error) {
	script, err := inlineHash(page, "script")
	if err != nil {
		return "", err
	}
	style, err := inlineHash(page, "style")
	if err != nil {
		return "", err
	}
	return "default-src 'none'; script-src " + script + "; style-src " + style +
		"; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", nil
}

// inlineHash is the CSP source for the content of the one <tag> element of
// page.
func inlineHash(page, tag string) (string, error) {
	open, end := "<"+tag+">", "</"+tag+">"
	i, j := strings.Index(page, open), strings.Index(page, end)
	if i < 0 || j < i || strings.Count(page, open) != 1 {
		return "", fmt.Errorf("page.html needs exactly one <%s> block", tag)
	}
	sum := sha256.Sum256([]byte(page[i+len(open) : j]))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'", nil
}

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	var b bytes.Buffer
	err := pageTmpl.Execute(&b, struct {
		Version, Commit, NodeName string
		RefreshMS                 int64
	}{s.o.Version, s.o.Commit, s.o.NodeName, s.o.Refresh.Milliseconds()})
	var csp string
	if err == nil {
		csp, err = pageCSP(b.String())
	}
	if err != nil {
		s.log.Error("rendering the page", "err", err)
		writeError(w, http.StatusInternalServerError, "rendering the page: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	_, _ = w.Write(b.Bytes())
}
