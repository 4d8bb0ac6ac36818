// Package httpdebug is the debug daemon's driving adapter: a read-only HTTP
// server on a loopback address that shows every bond the plugin created on
// the node. It drives the read-only use cases of app (ListAttachments,
// Inspect, Validate) and serves
//
//	GET  /                                        HTML page (inline CSS, JS and SVG)
//	GET  /healthz                                 liveness
//	GET  /v1/attachments                          the attachment records
//	GET  /v1/bonds                                every bond, live, in one answer (the page's)
//	GET  /v1/attachments/{containerID}/{ifname}   one bond, live, with its drift
//	POST /v1/validate[?ifname=NAME]               a config in, the verdict and ADD's plan out
//	GET  /metrics                                 Prometheus text format
//
// Every answer but the page and /metrics is JSON; errors are
// {"error": {"status": N, "message": "..."}}.
package httpdebug

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

// DefaultPort is bond-debugd's port (unassigned by IANA, not used by the
// usual node agents: node_exporter 9100, kubelet 10250/10255, kube-proxy
// 10249/10256, calico-node 9091/9099).
const DefaultPort = 9487

// DefaultListen is the default listen address: IPv4 loopback only.
var DefaultListen = net.JoinHostPort("127.0.0.1", strconv.Itoa(DefaultPort))

// MaxBodyBytes caps a request body (POST /v1/validate): 1 MiB, far more
// than any network config.
const MaxBodyBytes = 1 << 20

// Queries are the use cases the adapter drives (app.Service).
type Queries interface {
	ListAttachments(ctx context.Context) ([]domain.Attachment, error)
	UnreadableRecords(ctx context.Context) ([]domain.UnreadableRecord, error)
	Inspect(ctx context.Context, id domain.AttachmentID) (app.Inspection, error)
	Validate(ctx context.Context, config []byte, ifname string) (app.ValidationResult, error)
}

// Options tune the server; zero values take the defaults.
type Options struct {
	// Version is shown on the page and by /healthz; Commit is the build's
	// revision. Both label bondcni_build_info.
	Version string
	Commit  string
	// NodeName is the node the daemon runs on (the page's title).
	NodeName string
	// RequestTimeout bounds each request, /metrics included; default 20s.
	RequestTimeout time.Duration
	// MaxInFlight bounds the requests reading the kernel at once; more
	// wait for a slot (within RequestTimeout). Default 8.
	MaxInFlight int
	// Refresh is how often the page fetches the API again; default 5s.
	Refresh time.Duration
	// Log defaults to a logger that discards.
	Log *slog.Logger
}

// Server is the debug HTTP adapter. It is safe for concurrent use.
type Server struct {
	q       Queries
	o       Options
	log     *slog.Logger
	slots   chan struct{}
	reg     *prometheus.Registry
	handler http.Handler
}

// New returns the server for q.
func New(q Queries, o Options) *Server {
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 20 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 8
	}
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Second
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Commit == "" {
		o.Commit = "unknown"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{q: q, o: o, log: o.Log, slots: make(chan struct{}, o.MaxInFlight)}
	s.reg = prometheus.NewRegistry()
	// A scrape must finish within the request's own timeout.
	s.reg.MustRegister(
		newCollector(q, o.RequestTimeout*3/4, o.Version, o.Commit),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	s.handler = s.routes()
	return s
}

// Handler is the whole API, page and metrics, with its protections
// (loopback Host check, request timeout, body limit, panic recovery).
func (s *Server) Handler() http.Handler { return s.handler }

// Registry is the Prometheus registry behind /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// HTTPServer returns an http.Server for Handler with connection-level
// timeouts, so that a slow or stalled client cannot hold a connection.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      s.o.RequestTimeout + 10*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(slogWriter{s.log}, "", 0),
	}
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("http server", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}

// CheckLoopback accepts only an IP literal on a loopback network with a
// port: 127.0.0.0/8 or [::1]. Anything else (a host name, 0.0.0.0, [::], a
// node address, no host at all) is refused: the daemon shows every pod's
// network and must not be reachable from the network.
func CheckLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w; want a loopback IP and a port such as %s or [::1]:%d", addr, err, DefaultListen, DefaultPort)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("listen address %q: port %q is not a number 0-65535", addr, port)
	}
	ip := net.ParseIP(host)
	switch {
	case host == "":
		return fmt.Errorf("listen address %q: no host would listen on every address; the debug daemon listens only on loopback: use 127.0.0.1:%s or [::1]:%s", addr, port, port)
	case ip == nil:
		return fmt.Errorf("listen address %q: %q is not an IP address; the debug daemon listens only on a loopback IP (127.0.0.1 or [::1]), never a name that could resolve elsewhere", addr, host)
	case !ip.IsLoopback():
		return fmt.Errorf("listen address %q: %s is not a loopback address; the debug daemon is read-only but shows every pod's network, so it listens only on loopback: use 127.0.0.1:%s or [::1]:%s", addr, host, port, port)
	}
	return nil
}

// Listen opens a TCP listener on a loopback address, refusing any other.
func Listen(addr string) (net.Listener, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("listening on %s: bound %s, which is not loopback", addr, ln.Addr())
	}
	return ln, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /v1/attachments", s.list)
	mux.HandleFunc("GET /v1/bonds", s.bonds)
	mux.HandleFunc("GET /v1/attachments/{containerID}/{ifname}", s.inspect)
	mux.HandleFunc("POST /v1/validate", s.validate)
	mux.Handle("GET /metrics", s.withSlot(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog:      promLog{s.log},
		ErrorHandling: promhttp.ContinueOnError,
	})))
	// The same paths with any other method: a JSON 405 naming the method
	// allowed (the mux's own 405 is plain text).
	for path, allow := range map[string]string{
		"/healthz": "GET, HEAD", "/v1/attachments": "GET, HEAD", "/v1/bonds": "GET, HEAD", "/v1/attachments/{containerID}/{ifname}": "GET, HEAD",
		"/v1/validate": "POST", "/metrics": "GET, HEAD",
	} {
		mux.HandleFunc(path, methodNotAllowed(allow))
	}
	mux.HandleFunc("/", s.notFound)

	var h http.Handler = mux
	h = recoverPanics(s.log, h)
	h = http.TimeoutHandler(h, s.o.RequestTimeout, `{"error":{"status":503,"message":"request timed out"}}`)
	h = s.loopbackHost(h)
	return h
}

type promLog struct{ l *slog.Logger }

func (p promLog) Println(v ...any) { p.l.Warn("metrics", "msg", fmt.Sprint(v...)) }

// loopbackHost refuses requests whose Host is not a loopback address or
// localhost: a web page the operator visits could otherwise read the API
// through DNS rebinding. It also sets the headers every answer carries.
func (s *Server) loopbackHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		ip := net.ParseIP(host)
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("Host %q is not a loopback address: the debug daemon answers only requests addressed to 127.0.0.1, [::1] or localhost", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func recoverPanics(l *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				l.Error("handler panicked", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// acquire waits for a kernel-reading slot; false when the request ended
// first (it has been answered then).
func (s *Server) acquire(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, true
	case <-r.Context().Done():
		writeError(w, http.StatusServiceUnavailable, "too many requests reading the kernel; try again")
		return nil, false
	}
}

func (s *Server) withSlot(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, ok := s.acquire(w, r)
		if !ok {
			return
		}
		defer release()
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	var e ErrorJSON
	e.Error.Status, e.Error.Message = status, msg
	data, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; allowed: %s (the debug API is read-only)", r.Method, r.URL.Path, allow))
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		methodNotAllowed("GET, HEAD")(w, r)
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s; see / for the page, /v1/attachments, /v1/bonds, /v1/validate, /metrics, /healthz", r.URL.Path))
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.o.Version, "commit": s.o.Commit, "node": s.o.NodeName})
}

// bonds answers every bond of the node in one request, so the page
// refreshes with one round trip however many pods there are.
func (s *Server) bonds(w http.ResponseWriter, r *http.Request) {
	release, ok := s.acquire(w, r)
	if !ok {
		return
	}
	defer release()
	ins, err := inspectAll(r.Context(), s.q)
	if err != nil {
		s.log.Error("listing attachments", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := NodeJSON{Node: s.o.NodeName, Version: s.o.Version, Commit: s.o.Commit, ReadAt: time.Now().UTC(), Count: len(ins), Bonds: []InspectionJSON{},
		Unreadable: s.unreadable(r.Context())}
	for _, in := range ins {
		out.Bonds = append(out.Bonds, inspectionJSON(in))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	recs, err := s.q.ListAttachments(r.Context())
	if err != nil {
		s.log.Error("listing attachments", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := ListJSON{Count: len(recs), Attachments: []AttachmentJSON{}}
	for _, a := range recs {
		out.Attachments = append(out.Attachments, attachmentJSON(a))
	}
	out.Unreadable = s.unreadable(r.Context())
	writeJSON(w, http.StatusOK, out)
}

// unreadable lists the record files this version cannot read (logged, and
// left out, if even that fails).
func (s *Server) unreadable(ctx context.Context) []UnreadableJSON {
	out := []UnreadableJSON{}
	bad, err := s.q.UnreadableRecords(ctx)
	if err != nil {
		s.log.Error("listing unreadable records", "err", err)
	}
	for _, b := range bad {
		out = append(out, UnreadableJSON{File: b.File, Error: b.Err})
	}
	return out
}

func (s *Server) inspect(w http.ResponseWriter, r *http.Request) {
	id := domain.AttachmentID{ContainerID: r.PathValue("containerID"), IfName: r.PathValue("ifname")}
	release, ok := s.acquire(w, r)
	if !ok {
		return
	}
	defer release()
	in, err := s.q.Inspect(r.Context(), id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no attachment recorded for container %q, interface %q", id.ContainerID, id.IfName))
	case err != nil:
		s.log.Error("inspecting attachment", "containerID", id.ContainerID, "ifname", id.IfName, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, inspectionJSON(in))
	}
}

// sameOriginJSON refuses a POST a browser page of another site could have
// sent: a form or a "simple" fetch can POST text/plain cross-site without
// a preflight, so only application/json is read, and a request that says
// it comes from another site (Sec-Fetch-Site, Origin) is refused.
func sameOriginJSON(r *http.Request) (int, string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, "POST a network config with Content-Type: application/json"
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return http.StatusForbidden, fmt.Sprintf("cross-site request refused (Sec-Fetch-Site: %s)", site)
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return http.StatusForbidden, fmt.Sprintf("cross-origin request refused (Origin: %s)", o)
	}
	return 0, ""
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	if status, msg := sameOriginJSON(r); status != 0 {
		writeError(w, status, msg)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes; a network config is far smaller", tooBig.Limit))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return
	}
	release, ok := s.acquire(w, r)
	if !ok {
		return
	}
	defer release()
	res, err := s.q.Validate(r.Context(), body, r.URL.Query().Get("ifname"))
	if err != nil {
		s.log.Error("validating a config", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	status := http.StatusOK
	if res.Error != nil && domain.CodeOf(res.Error, 0) == domain.CodeDecode {
		// Not a JSON object at all: the request is malformed, not the config.
		status = http.StatusBadRequest
	}
	writeJSON(w, status, validationJSON(res))
}
