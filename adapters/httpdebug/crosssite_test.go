package httpdebug_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A page of another site can POST text/plain (a form, a simple fetch)
// without a preflight: /v1/validate reads only JSON from the same origin.
func TestValidateRefusesCrossSitePosts(t *testing.T) {
	f := newFixture(t)
	post := func(contentType string, headers map[string]string) int {
		req, err := http.NewRequest("POST", f.srv.URL+"/v1/validate?ifname=net1", strings.NewReader(confA))
		require.NoError(t, err)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		r, err := f.srv.Client().Do(req)
		require.NoError(t, err)
		r.Body.Close()
		return r.StatusCode
	}
	assert.Equal(t, http.StatusUnsupportedMediaType, post("text/plain", nil))
	assert.Equal(t, http.StatusUnsupportedMediaType, post("", nil))
	assert.Equal(t, http.StatusUnsupportedMediaType, post("application/x-www-form-urlencoded", nil))
	assert.Equal(t, http.StatusForbidden, post("application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}))
	assert.Equal(t, http.StatusForbidden, post("application/json", map[string]string{"Sec-Fetch-Site": "same-site"}))
	assert.Equal(t, http.StatusForbidden, post("application/json", map[string]string{"Origin": "http://evil.example"}))
	assert.Equal(t, http.StatusForbidden, post("application/json", map[string]string{"Origin": "null"}))

	assert.Equal(t, http.StatusOK, post("application/json; charset=utf-8", nil), "curl")
	assert.Equal(t, http.StatusOK, post("application/json", map[string]string{
		"Sec-Fetch-Site": "same-origin", "Origin": f.srv.URL,
	}), "the page's own form")
}

// The page's CSP allows its own inline script and style by hash, and no
// other inline code.
func TestPageCSPHasNoUnsafeInline(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/", nil)
	require.Equal(t, http.StatusOK, r.status)
	csp := r.header.Get("Content-Security-Policy")
	assert.NotContains(t, csp, "unsafe-inline")
	page := string(r.body)
	for _, tag := range []string{"script", "style"} {
		i := strings.Index(page, "<"+tag+">") + len(tag) + 2
		j := strings.Index(page, "</"+tag+">")
		sum := sha256.Sum256([]byte(page[i:j]))
		assert.Contains(t, csp, tag+"-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
}
