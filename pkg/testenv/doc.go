// Package testenv stands up the real parts for end-to-end tests: a regtoken
// binary built from this tree, nginx, and the registries (distribution 2.8 from
// Debian's docker-registry package, distribution v3 installed with go install).
//
// It is imported only by tests. Nothing here is mocked: a test that needs a
// component which cannot be found or started fails with a message saying how
// to install it (.ci/test.sh installs everything CI needs).
package testenv
