package httpdebug

import (
	_ "embed"
	"html/template"
	"net/http"
)

// page.html is the whole page: inline CSS, inline JS that fetches the JSON
// API, and SVG drawn in the browser. It loads nothing else, and its
// Content-Security-Policy forbids it to.
//
//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

const pageCSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	err := pageTmpl.Execute(w, struct {
		Version   string
		RefreshMS int64
	}{s.o.Version, s.o.Refresh.Milliseconds()})
	if err != nil {
		s.log.Error("rendering the page", "err", err)
	}
}
