#!/usr/bin/env bash
# Refreshes the embedded Swagger UI from the npm package, at the pinned
# version. Run from anywhere; commit the result.
set -euo pipefail
VERSION=5.35.0
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null && tar xzf swagger-ui-dist-$VERSION.tgz)
mkdir -p "$here/swagger-ui"
for f in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE; do
  cp "$tmp/package/$f" "$here/swagger-ui/$f"
done
echo "$VERSION" > "$here/swagger-ui/VERSION"
echo "swagger-ui-dist $VERSION copied to $here/swagger-ui"
