//go:build e2e

// Package e2e holds regtoken's end-to-end tests: real nginx in front of a real
// regtoken and real registries (distribution 2.8 and 3.x), driven by real
// clients (crane, skopeo, oras, containerd, docker, curl-like HTTP). It has no
// code of its own beyond the tests.
//
// Every test that runs a program other than the test binary and go lives
// under pkg/e2e, behind the e2e build tag, so that go test ./... stays a unit
// test run that needs nothing but Go:
//
//	go test -tags e2e ./pkg/e2e/...      # what bash .ci/test.sh runs
//
// The subpackages are the soak test (soak), the wrk load table (load) and
// package listen's checks with nginx and systemd-socket-activate (listeners);
// all of them start their parts with the one harness, internal/harness.
package e2e
