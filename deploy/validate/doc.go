// Package validate holds no code: its tests check deploy/ (see
// manifests_test.go). Run them with `make manifests`, part of `make test`.
package validate
