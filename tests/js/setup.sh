#!/usr/bin/env bash
# Installs what tests/api/hardening/node.rs needs, idempotently: Debian's Chromium (for
# the GraphiQL browser test) and the npm packages of tests/js (graphql-http for the
# GraphQL-over-HTTP audit and playwright-core; graphiql/react are no longer loaded by the page,
# which the binary embeds). Called by .ci/run; safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends chromium
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends nodejs npm
fi

# npm ci reinstalls from the lock file; skip it when node_modules already matches.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.package-lock.json.stamp 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.package-lock.json.stamp
fi
