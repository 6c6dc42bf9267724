#!/usr/bin/env bash
# The packages as a user gets them. After `pnpm build`, it packs core, providers and cache-redis, checks the tarballs
# (README.md, LICENSE, package.json fields, effect and @effect/* as peers, no export condition leading to a .ts
# file), then installs them with effect@^3.22 into two fresh projects in a temporary directory, outside the
# workspace: one with npm, one with pnpm (isolated node_modules, no hoisting, strict peers). In each it checks what
# was installed (one effect, none of @effect/platform-node's cluster/sql/workflow/rpc tree), type-checks
# examples/outside/program.mts against the packed .d.ts files (nodenext and bundler resolution, strict,
# exactOptionalPropertyTypes, no skipLibCheck) and runs it with plain node against the fake servers of
# @llm-api-router/providers/testing (in the pnpm project under `--conditions=source`, which no published export has).
#
#   .ci/package-check.sh        # KEEP=1 keeps the temporary directory and prints its path
#
# It needs the npm registry (for effect, typescript and @types/node).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
here="$repo/examples/outside"
pnpm=(npx --yes pnpm@12.4.2)
work="$(mktemp -d "${TMPDIR:-/tmp}/llm-api-router-pack.XXXXXX")"
if [ "${KEEP:-}" = "1" ]; then
  trap 'echo "== kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
packages=(core providers cache-redis)
# what a consumer installs beside our tarballs (explicit ranges: npm's `latest` of effect is Effect 4)
consumer_deps=("effect@^3.22.0" "typescript@~5.9.3" "@types/node@^20.19.0")

echo "== the workspace's source condition is @llm-api-router/source everywhere"
# ("source" itself would be published, or would not resolve: see the README's Development section)
if git -C "$repo" grep -nE -- '--conditions=source\b|"source": "\./src|customConditions": \["source"\]' -- \
  ':!examples/outside' ':!.ci/package-check.sh'; then
  echo "FAIL the lines above use the plain \"source\" condition"
  exit 1
fi

echo "== pack into $work/tarballs"
mkdir -p "$work/tarballs" "$work/unpacked"
for pkg in "${packages[@]}"; do
  (cd "$repo/packages/$pkg" && "${pnpm[@]}" pack --pack-destination "$work/tarballs" >/dev/null)
done
# effect-ai's tarball is checked with the others; it is not installed below (@effect/ai needs @effect/rpc, which an
# install of the other three must not bring)
(cd "$repo/packages/effect-ai" && "${pnpm[@]}" pack --pack-destination "$work/tarballs" >/dev/null)
for tgz in "$work"/tarballs/*.tgz; do
  name="$(basename "$tgz" .tgz)"
  mkdir -p "$work/unpacked/$name"
  tar -xzf "$tgz" -C "$work/unpacked/$name"
  echo "$name.tgz: $(wc -c <"$tgz") bytes"
done
node "$here/check-packages.mjs" tarballs "$work/unpacked"
tgz() { echo "$work/tarballs/llm-api-router-$1-0.1.0.tgz"; }

# The consumer: the program, its two tsconfigs, and a package.json that is an ES module.
setup() {
  mkdir -p "$1"
  cp "$here/program.mts" "$here/tsconfig.nodenext.json" "$here/tsconfig.bundler.json" "$1/"
  echo '{ "name": "outside-check", "private": true, "type": "module" }' >"$1/package.json"
}

# Both consumers get the nodenext check and a run; to keep the step short, the bundler check and the run under
# --conditions=source (which no published export carries, so it is the plain run as well) are done in the pnpm one,
# whose strict layout is the stricter test.
consume() {
  local dir="$1" manager="$2"
  (
    cd "$dir"
    node "$here/check-packages.mjs" tree "$dir" "$manager"
    echo "== $manager: tsc, nodenext resolution"
    node node_modules/typescript/bin/tsc -p tsconfig.nodenext.json
    if [ "$manager" = "pnpm" ]; then
      echo "== $manager: tsc, bundler resolution with customConditions [\"source\"]"
      node node_modules/typescript/bin/tsc -p tsconfig.bundler.json
      echo "== $manager: run with node --conditions=source"
      timeout 60 node --conditions=source out/program.mjs
    else
      echo "== $manager: run with node"
      timeout 60 node out/program.mjs
    fi
  )
}

echo "== npm install"
setup "$work/npm"
(
  cd "$work/npm"
  npm install --no-audit --no-fund --loglevel=error \
    "$(tgz core)" "$(tgz providers)" "$(tgz cache-redis)" "${consumer_deps[@]}"
)
consume "$work/npm" npm

echo "== pnpm install"
setup "$work/pnpm"
cat >"$work/pnpm/pnpm-workspace.yaml" <<YAML
nodeLinker: isolated
hoist: false
strictPeerDependencies: true
autoInstallPeers: true
# providers and cache-redis depend on @llm-api-router/core ^0.1.0: the packed one, not the registry's
overrides:
  "@llm-api-router/core": "file:$(tgz core)"
# a tarball's version reads as "file:…" to the peer check: allowed for this one optional peer
peerDependencyRules:
  allowedVersions:
    "@llm-api-router/providers>@llm-api-router/cache-redis": "*"
# pnpm asks about every build script: msgpackr (under @effect/platform) has a pure-JS fallback for its addon
allowBuilds:
  msgpackr-extract: false
YAML
(
  cd "$work/pnpm"
  "${pnpm[@]}" add --reporter=append-only \
    "$(tgz core)" "$(tgz providers)" "$(tgz cache-redis)" "${consumer_deps[@]}" >pnpm-add.log 2>&1 ||
    { cat pnpm-add.log; exit 1; }
  grep -i "warn" pnpm-add.log || true
)
consume "$work/pnpm" pnpm

echo "== package check passed"
