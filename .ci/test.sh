#!/usr/bin/env bash
# The whole regtoken test suite, as README.md describes it and CI runs it.
#
# It installs what the end-to-end tests need when missing (Debian packages and
# pinned Go tools), checks formatting, vet (with and without the e2e build tag)
# and that go.mod is tidy, runs the unit tests (go test ./..., which need
# nothing but Go), then the end-to-end tests under pkg/e2e (behind the e2e
# build tag: conformance, front ends, deployment files, soak and load smoke),
# then each fuzz target for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-20s}
export PATH="$PATH:$(go env GOPATH)/bin:/usr/sbin"

# --- what the tests need -------------------------------------------------------
apt_packages=()
have() { command -v "$1" >/dev/null 2>&1; }
have nginx || apt_packages+=(nginx-light)
have docker-registry || apt_packages+=(docker-registry)
have skopeo || apt_packages+=(skopeo)
have wrk || apt_packages+=(wrk)
have htpasswd || apt_packages+=(apache2-utils)
have curl || apt_packages+=(curl)
have jq || apt_packages+=(jq)
have systemd-socket-activate || apt_packages+=(systemd)
have systemd-analyze || apt_packages+=(systemd)
# containerd (its daemon and ctr) for the containerd column of the conformance
# suite; the tests start their own daemon, so no engine is needed.
have containerd || apt_packages+=(containerd)
have ctr || apt_packages+=(containerd)
# Apache httpd and Caddy, to run the shipped deploy/apache and deploy/caddy files.
have apache2 || apt_packages+=(apache2 libapache2-mod-proxy-uwsgi)
have caddy || apt_packages+=(caddy)
# OpenLDAP for the LDAP login tests, which start their own slapd on loopback
# with a database made by slapadd; ldap-utils for an operator's ldapsearch.
have slapd || apt_packages+=(slapd)
have slapadd || apt_packages+=(slapd)
have ldapsearch || apt_packages+=(ldap-utils)
# Redis for the replica tests, which start their own redis-server on loopback
# with a temporary directory.
have redis-server || apt_packages+=(redis-server)
# The tests run their own nginx, registry, Apache, Caddy, slapd and store; the
# packages must not start theirs (two of them would fight over port 80 and fail
# the install). policy-rc.d is Debian's switch for that, kept only for the install.
apt_install() {
  local policy="" rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
  [ -z "$policy" ] || rm -f "$policy"
  return "$rc"
}
if ((${#apt_packages[@]})); then
  echo "installing Debian packages: ${apt_packages[*]}"
  apt-get update -qq
  apt_install "${apt_packages[@]}"
fi
# Valkey, for the replica tests run against it as well as Redis. Debian 13 has
# valkey-server in its main archive, Debian 12 only in bookworm-backports: that
# suite is enabled (signed by Debian's archive key) when the plain install fails.
if ! have valkey-server; then
  apt-get update -qq
  if apt-cache show valkey-server >/dev/null 2>&1 && apt_install valkey-server; then
    echo "installed valkey-server $(dpkg-query -W -f='${Version}' valkey-server) from the main archive"
  else
    backports=/etc/apt/sources.list.d/regtoken-backports.sources
    echo "valkey-server is not in the main archive: enabling bookworm-backports in $backports"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$backports"
    apt-get update -qq
    apt_install -t bookworm-backports valkey-server
    echo "installed valkey-server $(dpkg-query -W -f='${Version}' valkey-server) from bookworm-backports"
  fi
fi
# Debian starts the packaged registry and nginx as services; the tests run their own.
have crane || go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
have registry || go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2
have oras || go install oras.land/oras/cmd/oras@v1.3.6
# containerd 2.x (what Docker's containerd image store runs) beside Debian's 1.6,
# in a directory of its own so its ctr does not shadow Debian's.
containerd2=$(go env GOPATH)/opt/containerd-v2.4.2/bin
if [ ! -x "$containerd2/containerd" ] || [ ! -x "$containerd2/ctr" ]; then
  GOBIN=$containerd2 go install github.com/containerd/containerd/v2/cmd/ctr@v2.4.2
  GOBIN=$containerd2 CGO_ENABLED=0 go install -tags no_btrfs,no_devmapper,no_zfs \
    github.com/containerd/containerd/v2/cmd/containerd@v2.4.2
fi

# zot, for the zot columns of the conformance suite. Its module path is not
# served by the Go module proxy (its dependencies are), so it is built from the
# source kept beside the repository, once, into $(go env GOPATH)/bin like the
# other Go tools. Where that source is, the zot columns must run; elsewhere
# they say they did not.
zot_src=$(ls ../shared/thirdparty/zot-*-src.tar.gz 2>/dev/null | sort | tail -n 1 || true)
if ! have zot && [ -n "$zot_src" ]; then
  echo "building zot from $zot_src"
  zot_build=$(mktemp -d /tmp/regtoken-zot-src.XXXXXX)
  tar -xzf "$zot_src" -C "$zot_build"
  zot_started=$SECONDS
  # The Makefile's binary-minimal: no extensions, no UI.
  (cd "$zot_build" && CGO_ENABLED=0 GOEXPERIMENT=jsonv2 go build -trimpath -ldflags "-s -w" \
    -o "$(go env GOPATH)/bin/zot" ./cmd/zot)
  echo "zot built in $((SECONDS - zot_started)) s"
  rm -rf "$zot_build"
fi
if [ -n "$zot_src" ] || have zot; then
  export REGTOKEN_REQUIRE_ZOT=1
  echo "zot found: the zot columns of the conformance suite run"
else
  echo "NO ZOT (no zot on PATH, no source in ../shared/thirdparty): the zot columns will report 'not run'"
fi

# The docker columns of the conformance suite and the docker login/push/pull
# tests need the engine; where there is one they must run, not skip.
if docker info >/dev/null 2>&1; then
  export REGTOKEN_REQUIRE_DOCKER=1
  if ! have docker-compose; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
  fi
  echo "Docker engine found: the docker client tests run"
else
  echo "NO DOCKER ENGINE (docker info failed): the docker client tests will report 'not run'"
fi
export REGTOKEN_CONFORMANCE_TABLE=${REGTOKEN_CONFORMANCE_TABLE:-$(mktemp /tmp/regtoken-conformance.XXXXXX.md)}

# --- static checks -------------------------------------------------------------
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go vet -tags e2e ./...
# go.mod and go.sum must say exactly what the code needs.
if ! tidy=$(go mod tidy -diff); then
  echo "go mod tidy would change go.mod or go.sum:" >&2
  echo "$tidy" >&2
  exit 1
fi

# --- unit tests: only Go needed ------------------------------------------------
go test -count=1 ./...

# --- end-to-end tests: real nginx, registries, clients (build tag e2e) ---------
go test -count=1 -tags e2e -timeout 40m ./pkg/e2e/...
echo "conformance table (client x registry x flow):"
cat "$REGTOKEN_CONFORMANCE_TABLE"

# --- fuzzing: each target for $FUZZTIME; any crash fails the run ---------------
# Without the e2e tag go list leaves out pkg/e2e, which has no fuzz targets.
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target for $FUZZTIME"
    for attempt in 1 2; do
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" >/tmp/regtoken-fuzz.log 2>&1; then
        break
      fi
      # On a loaded machine the fuzzing engine itself sometimes ends with
      # "context deadline exceeded" when a worker answers late; that is no
      # crash (a crash writes its input under testdata/fuzz). Retry once.
      if [ "$attempt" = 1 ] && grep -q "context deadline exceeded" /tmp/regtoken-fuzz.log &&
        ! grep -q "Failing input written" /tmp/regtoken-fuzz.log; then
        echo "fuzz engine timed out (not a crash); running $target again"
        continue
      fi
      cat /tmp/regtoken-fuzz.log >&2
      echo "fuzz target $target in $pkg failed" >&2
      exit 1
    done
  done
done
echo "all tests passed"
