// Package e2e holds regtoken's end-to-end tests: real nginx in front of a real
// regtoken and real registries (distribution 2.8 and 3.x), driven by real
// clients (crane, skopeo, docker, curl-like HTTP). It has no code of its own
// beyond the tests; the harness is package testenv.
package e2e
