// Package validate holds no code: its tests check deploy/ (see
// manifests_test.go and kustomize_test.go): every manifest and the output
// of every kustomize overlay (built with the kustomize Go API) decode
// strictly into the Kubernetes types and follow the DaemonSet rules. Run
// them with `make manifests`, part of `make test`. It is a module of its
// own so that k8s.io and kustomize never enter the plugin's module.
package validate
