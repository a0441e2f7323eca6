#!/usr/bin/env bash
# Re-vendors the GraphiQL page's assets (embedded in the binary by src/http/graphiql.rs)
# from the npm registry at pinned versions. To upgrade: change a version below, run this
# script, update the versions in src/http/graphiql.rs (ASSET_VERSION) and README.md, run
# the browser test (tests/api/hardening/node.rs), commit the changed files and SHA256SUMS.
set -euo pipefail
GRAPHIQL=3.9.0
REACT=18.3.1
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" --loglevel=error >/dev/null
for pkg in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  mkdir "$pkg" && tar xzf "$pkg.tgz" -C "$pkg"
done
cp "graphiql-$GRAPHIQL/package/graphiql.min.js" "graphiql-$GRAPHIQL/package/graphiql.min.css" "$here/"
cp "react-$REACT/package/umd/react.production.min.js" "$here/"
cp "react-dom-$REACT/package/umd/react-dom.production.min.js" "$here/"
cp "graphiql-$GRAPHIQL/package/LICENSE" "$here/LICENSE.graphiql"
cp "react-$REACT/package/LICENSE" "$here/LICENSE.react"
cp "react-dom-$REACT/package/LICENSE" "$here/LICENSE.react-dom"
cd "$here"
sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js > SHA256SUMS
echo "vendored graphiql@$GRAPHIQL react@$REACT react-dom@$REACT"
