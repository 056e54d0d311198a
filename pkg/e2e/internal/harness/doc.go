//go:build e2e

// Package harness stands up the real parts for the end-to-end tests under
// pkg/e2e: a regtoken binary built from this tree, nginx, and the registries
// (distribution 2.8 from Debian's docker-registry package, distribution v3
// installed with go install).
//
// It is internal to pkg/e2e and built only with the e2e tag, so the product's
// packages never carry test code. Nothing here is mocked: a test that needs a
// component which cannot be found or started fails with a message saying how
// to install it (bash .ci/test.sh installs everything the suite needs).
package harness
