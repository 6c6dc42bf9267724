#!/usr/bin/env bash
# The outside-program check: a program outside this repository, using exactly the public names of DESIGN §4.1 and
# §4.2, works against an OpenAI-compatible server it did not write (a raw node:http server inside the program),
# through the Effect API and through Client.
#
# It builds the packages, packs @llm-api-router/core and @llm-api-router/providers as tarballs, installs them into a
# fresh npm project in a temporary directory (with effect and @effect/platform-node from the registry, so it needs
# the network), compiles the program with tsc against the packed .d.ts files and runs the output with plain `node`.
#
#   examples/outside/check.sh          # KEEP=1 keeps the temporary project and prints its path
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/examples/outside"
pnpm=(npx --yes pnpm@12.4.2)
work="$(mktemp -d "${TMPDIR:-/tmp}/llm-api-router-outside.XXXXXX")"
if [ "${KEEP:-}" = "1" ]; then
  trap 'echo "== kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi

echo "== build"
(cd "$repo" && "${pnpm[@]}" build)

echo "== pack"
mkdir -p "$work/tarballs"
for pkg in core providers; do
  (cd "$repo/packages/$pkg" && "${pnpm[@]}" pack --pack-destination "$work/tarballs" >/dev/null)
done
ls "$work/tarballs"

echo "== install into $work/app"
mkdir -p "$work/app"
cp "$here/program.mts" "$here/tsconfig.json" "$work/app/"
cd "$work/app"
cat >package.json <<'JSON'
{ "name": "outside-check", "private": true, "type": "module" }
JSON
# Explicit ranges: npm's `latest` of these packages is Effect 4.
npm install --no-audit --no-fund --loglevel=error \
  "$work"/tarballs/llm-api-router-core-*.tgz \
  "$work"/tarballs/llm-api-router-providers-*.tgz \
  "effect@^3.22.0" "@effect/platform-node@^0.108.0" \
  "typescript@~5.9.3" "@types/node@^20.19.0"

echo "== compile the program against the packed declarations"
npx --no-install tsc -p tsconfig.json

echo "== run it with plain node"
timeout 60 node out/program.mjs
echo "== outside check passed"
