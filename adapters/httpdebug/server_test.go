package httpdebug

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

// stubQueries answers with canned values, for the paths the memory
// adapter cannot produce (failures, slowness, panics).
type stubQueries struct {
	listErr  error
	delay    time.Duration
	panicMsg string
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func (q *stubQueries) enter(ctx context.Context) error {
	n := q.inFlight.Add(1)
	defer q.inFlight.Add(-1)
	for {
		m := q.maxSeen.Load()
		if n <= m || q.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if q.panicMsg != "" {
		panic(q.panicMsg)
	}
	select {
	case <-time.After(q.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *stubQueries) ListAttachments(ctx context.Context) ([]domain.Attachment, error) {
	if err := q.enter(ctx); err != nil {
		return nil, err
	}
	return nil, q.listErr
}

func (q *stubQueries) UnreadableRecords(context.Context) ([]domain.UnreadableRecord, error) {
	return nil, nil
}

func (q *stubQueries) Inspect(ctx context.Context, id domain.AttachmentID) (app.Inspection, error) {
	if err := q.enter(ctx); err != nil {
		return app.Inspection{}, err
	}
	return app.Inspection{Attachment: domain.Attachment{ID: id}, Netns: app.NetnsPresent}, nil
}

func (q *stubQueries) Validate(ctx context.Context, _ []byte, _ string) (app.ValidationResult, error) {
	if err := q.enter(ctx); err != nil {
		return app.ValidationResult{}, err
	}
	return app.ValidationResult{}, errors.New("boom")
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:9487", "127.1.2.3:80", "[::1]:9487", "127.0.0.1:0"} {
		assert.NoError(t, CheckLoopback(ok), ok)
	}
	for _, bad := range []string{"0.0.0.0:9487", "[::]:9487", ":9487", "10.1.2.3:9487", "localhost:9487",
		"example.com:80", "127.0.0.1", "127.0.0.1:99999", "[::ffff:10.0.0.1]:80", "[fe80::1%eth0]:80"} {
		err := CheckLoopback(bad)
		assert.Error(t, err, bad)
	}
	err := CheckLoopback("0.0.0.0:9487")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only on loopback")
}

func TestListenRefusesNonLoopback(t *testing.T) {
	_, err := Listen("0.0.0.0:0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a loopback address")
	ln, err := Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	assert.True(t, ln.Addr().(*net.TCPAddr).IP.IsLoopback())
}

func TestHostHeaderMustBeLoopback(t *testing.T) {
	h := New(&stubQueries{}, Options{}).Handler()
	for _, host := range []string{"127.0.0.1:9487", "localhost:9487", "[::1]:9487", "LOCALHOST", "127.0.0.1"} {
		r := httptest.NewRequest("GET", "/healthz", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, http.StatusOK, w.Code, host)
	}
	for _, host := range []string{"evil.example:9487", "10.0.0.1:9487", "rebind.127.0.0.1.nip.io"} {
		r := httptest.NewRequest("GET", "/v1/attachments", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, http.StatusForbidden, w.Code, host)
		assert.Contains(t, w.Body.String(), "not a loopback address")
	}
}

func TestInternalErrorsAreJSON500(t *testing.T) {
	h := New(&stubQueries{listErr: errors.New("state dir unreadable")}, Options{}).Handler()
	w := do(t, h, "GET", "http://127.0.0.1/v1/attachments", nil)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.JSONEq(t, `{"error":{"status":500,"message":"state dir unreadable"}}`, w.Body.String())

	w = do(t, h, "POST", "http://127.0.0.1/v1/validate", strings.NewReader(`{}`))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Contains(t, w.Body.String(), "boom")
}

func TestSlowRequestTimesOut(t *testing.T) {
	h := New(&stubQueries{delay: time.Minute}, Options{RequestTimeout: 100 * time.Millisecond}).Handler()
	start := time.Now()
	w := do(t, h, "GET", "http://127.0.0.1/v1/attachments/c/net1", nil)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Contains(t, w.Body.String(), "timed out")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestPanicIsA500NotACrash(t *testing.T) {
	h := New(&stubQueries{panicMsg: "bug"}, Options{}).Handler()
	w := do(t, h, "GET", "http://127.0.0.1/v1/attachments/c/net1", nil)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Contains(t, w.Body.String(), "internal error")
}

// TestKernelReadsAreBounded: at most MaxInFlight requests read the kernel
// at once, whatever the number of clients.
func TestKernelReadsAreBounded(t *testing.T) {
	q := &stubQueries{delay: 30 * time.Millisecond}
	srv := httptest.NewServer(New(q, Options{MaxInFlight: 3}).Handler())
	defer srv.Close()
	done := make(chan int, 20)
	for i := 0; i < 20; i++ {
		go func() {
			r, err := http.Get(srv.URL + "/v1/attachments/c/net1")
			if err != nil {
				done <- 0
				return
			}
			r.Body.Close()
			done <- r.StatusCode
		}()
	}
	for i := 0; i < 20; i++ {
		assert.Equal(t, http.StatusOK, <-done)
	}
	assert.LessOrEqual(t, q.maxSeen.Load(), int32(3))
}
