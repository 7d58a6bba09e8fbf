#!/usr/bin/env bash
# The README's test command, and CI's: installs what the tests need when it is
# missing (idempotent), starts PostgreSQL when it is down, then runs gofmt,
# go vet, staticcheck, govulncheck, the whole suite, each fuzz target for a
# few seconds, and deadcode. A fresh Debian machine needs nothing else: the
# suite fails, never skips, when a part is missing, so the parts are set up
# here rather than by hand.
#
# Setup needs root; run as another user, it goes through sudo.
# FUZZTIME=5m explores longer (default 3s per target).
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
export DEBIAN_FRONTEND=noninteractive

step() { printf '== %s (%ds)\n' "$1" "$SECONDS"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo --preserve-env=DEBIAN_FRONTEND "$@"; fi
}

# Go toolchain: the patched release named by go.mod's toolchain line (see the
# README's "Toolchain and supply chain"), for every step below, including the
# tools built with `go install`. It is exported by name, not as
# GOTOOLCHAIN=auto: auto would build those tools, which are outside this
# module, with the machine's older Go, and a tool built with an older Go
# cannot type-check the newer standard library.
toolchain=$(sed -n 's/^toolchain \(go[0-9][0-9.]*\)$/\1/p' go.mod)
export GOTOOLCHAIN="${toolchain:-auto}"
go version

# Go tools, pinned, built with that toolchain into a directory of their own.
STATICCHECK_VERSION=v0.8.2
export GOVULNCHECK_VERSION=v1.9.0   # also read by govulncheck-offline.sh
DEADCODE_VERSION=v0.52.0            # golang.org/x/tools
TOOLBIN="$(go env GOPATH)/ci-tools/$(go env GOVERSION)"

step "setup"
# Test prerequisites: Chromium (docs page test), Node.js and npm (generated
# TypeScript client), PgBouncer (Neon pooler stand-in), HAProxy (the load
# balancer in front of three instances in e2e/balancer_test.go).
# Debian packages are not pinned to exact versions (the archive drops old
# ones, so such pins break); they come signed from the distribution's archive
# and are installed only when missing. The client's npm packages are pinned by
# e2e/tsclient/package-lock.json (`npm ci`).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update
  as_root apt-get install -y "${missing[@]}"
fi
# The Neon stand-in host names in /etc/hosts (and PgBouncer, already there).
as_root bash .ci/setup-neon-standin.sh

# PostgreSQL: the machine's own cluster on 127.0.0.1:5432.
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432

step "gofmt"
unformatted=$("$(go env GOROOT)/bin/gofmt" -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt-ed: $unformatted"; exit 1; fi

# The OpenAPI document itself, linted by Spectral (its OpenAPI rules and the
# OWASP API Security ones; apidocs/lint/.spectral.yaml says which are off and
# why): the contract tests hold the server to the document, this holds the
# document to what generators and validating proxies need. Any warning fails.
# Spectral is pinned by apidocs/lint/package-lock.json; `npm ci` (about 70 MB)
# runs only when node_modules is missing or older than the project's files.
step "openapi lint"
lintdir=apidocs/lint
installed="$lintdir/node_modules/.package-lock.json"
if [ ! -f "$installed" ] || [ "$lintdir/package-lock.json" -nt "$installed" ] || [ "$lintdir/package.json" -nt "$installed" ]; then
  (cd "$lintdir" && npm ci --no-audit --no-fund)
fi
(cd "$lintdir" && ./node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity warn ../openapi.yaml)

step "go vet"
go vet ./...
step "staticcheck"
GOBIN="$TOOLBIN" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
"$TOOLBIN/staticcheck" ./...

# The linters of .golangci.yml (it says which and why): the dependency
# direction between packages (depguard), no AutoMigrate (forbidigo), and
# errors, bodies, rows and contexts handled (errorlint, bodyclose,
# sqlclosecheck, rowserrcheck, contextcheck). Pinned and built with the
# toolchain like the tools above: the first build takes several minutes,
# later runs reuse $TOOLBIN and golangci-lint's cache. bench/soak is a
# module of its own, linted from its directory with the same file.
step "golangci-lint"
GOLANGCI_LINT_VERSION=v2.15.0
GOBIN="$TOOLBIN" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
"$TOOLBIN/golangci-lint" run ./...
(cd bench/soak && "$TOOLBIN/golangci-lint" run --config ../../.golangci.yml ./...)

# Known vulnerabilities (Go vulnerability database) in the standard library
# and the modules, counted only where our code reaches the vulnerable symbol;
# any such finding fails the run. The data (newest snapshot, so new
# advisories count) comes from the Go module proxy, where the public
# database service may not be reachable.
step "govulncheck"
if [ -f ../shared/tools/govulncheck-offline.sh ]; then
  VULNDB_VERSION="${VULNDB_VERSION:-latest}" VULNCHECK_WORK="$TOOLBIN/govulncheck-offline" \
    bash ../shared/tools/govulncheck-offline.sh . ./...
else
  GOBIN="$TOOLBIN" go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
  # The database is also published as the module golang.org/x/vulndb (its
  # data/osv holds the same entries), which the Go module proxy serves:
  # read the newest one from there, so a machine that reaches the proxy but
  # not vuln.go.dev checks against the same advisories.
  vulndb=$(cd "$TOOLBIN" && go mod download -json golang.org/x/vulndb@latest |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$vulndb/data/osv/GO-2021-0113.json" ] || { echo "no vulnerability entries under $vulndb/data/osv" >&2; exit 1; }
  "$TOOLBIN/govulncheck" -db "file://$vulndb/data/osv" ./...
fi

step "tests"
# -artifacts keeps what tests save with t.ArtifactDir (the browser test's
# screenshot of each journey's end) under test-artifacts/.
rm -rf test-artifacts && mkdir test-artifacts
go test -race -count=1 -artifacts -outputdir "$PWD/test-artifacts" ./...

# The fuzz targets' seed corpora ran above as ordinary tests; here each
# target also explores for a few seconds. `go test -fuzz` would link a test
# binary per target, each carrying the coverage-instrumented OpenAPI
# validator; instead each package's fuzzing binary is built once and run per
# target, in the package directory (where testdata/fuzz is) and with the
# corpus cache `go test` would use.
step "fuzz (brief)"
fuzzbin=$(mktemp -d)
trap 'rm -rf "$fuzzbin"' EXIT
fuzzcache="$(go env GOCACHE)/fuzz"
module=$(go list -m)
for pkg in $(grep -l '^func Fuzz' $(git ls-files '*_test.go') | xargs -n1 dirname | sort -u); do
  bin="$fuzzbin/$(echo "$pkg" | tr / _).test"
  go test -c -fuzz=. -o "$bin" "./$pkg"
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$pkg"/*_test.go); do
    echo "fuzz $pkg $target"
    (cd "$pkg" && "$bin" -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="${FUZZTIME:-3s}" \
      -test.timeout=10m -test.paniconexit0 -test.fuzzcachedir="$fuzzcache/$module/$pkg")
  done
done

# Functions that no command and no test reaches: delete them (or reach them)
# rather than keep code nobody runs. deadcode itself exits 0 on findings.
step "deadcode"
GOBIN="$TOOLBIN" go install "golang.org/x/tools/cmd/deadcode@$DEADCODE_VERSION"
dead=$("$TOOLBIN/deadcode" -test ./...)
if [ -n "$dead" ]; then
  echo "unreachable code:"
  echo "$dead"
  exit 1
fi

step "done"
