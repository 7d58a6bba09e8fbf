#!/usr/bin/env bash
# Neon stand-in for the e2e tests (e2e/neon_test.go, internal/pgharness):
# PgBouncer 1.18 plays Neon's -pooler endpoint, and two /etc/hosts names
# play the pooled and direct endpoints of one branch. Idempotent; run as root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-neon-standin.sh must run as root" >&2
  exit 1
fi

# PgBouncer (Debian's package; the tests start their own instances, each
# with its own config, as the postgres user). The package's own service is
# not needed; on machines without systemd it is not started anyway.
if [ ! -x /usr/sbin/pgbouncer ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y pgbouncer
fi
/usr/sbin/pgbouncer --version | head -n 1

# The stand-in endpoint names: the pooled one is PgBouncer on 127.0.0.2, the
# direct one (the same name without -pooler) PostgreSQL on 127.0.0.1.
add_host() {
  local ip=$1 name=$2
  if ! grep -Eq "^[[:space:]]*${ip//./\\.}[[:space:]]+([^#]*[[:space:]])?${name//./\\.}([[:space:]]|\$)" /etc/hosts; then
    echo "$ip $name" >> /etc/hosts
  fi
}
add_host 127.0.0.2 ep-test-123456-pooler.local
add_host 127.0.0.1 ep-test-123456.local
grep -E 'ep-test-123456' /etc/hosts
