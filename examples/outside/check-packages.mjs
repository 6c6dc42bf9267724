/* global console, process */
// Checks for .ci/package-check.sh, in plain Node (no dependencies):
//
//   node check-packages.mjs tarballs <dir>            every unpacked tarball under <dir>/<name>/package
//   node check-packages.mjs tree <project> npm|pnpm   what an install of the tarballs put into <project>
//
// Each prints what it measured and exits non-zero, naming every problem, when a check fails.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"

const problems = []
const fail = (message) => problems.push(message)
const readJson = (file) => JSON.parse(readFileSync(file, "utf8"))

// bytes and files under dir; with `own`, not counting nested node_modules (another package's files)
const sizeOf = (dir, own = false) => {
  let bytes = 0
  let files = 0
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) {
        if (!(own && entry.name === "node_modules")) walk(path)
      } else if (entry.isFile()) {
        bytes += statSync(path).size
        files++
      }
    }
  }
  walk(dir)
  return { bytes, files }
}
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
const kb = (bytes) => `${(bytes / 1024).toFixed(0)} kB`

// Every target of an exports map, with the conditions leading to it.
const targetsOf = (exports, path = []) => {
  if (typeof exports === "string") return [{ path, target: exports }]
  if (exports === null || typeof exports !== "object") return []
  if (Array.isArray(exports)) return exports.flatMap((e) => targetsOf(e, path))
  return Object.entries(exports).flatMap(([key, value]) => targetsOf(value, [...path, key]))
}

const checkTarballs = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const root = join(dir, name, "package")
    const pkg = readJson(join(root, "package.json"))
    const where = pkg.name ?? name
    for (const file of ["README.md", "LICENSE", "package.json"]) {
      if (!existsSync(join(root, file))) fail(`${where}: the tarball has no ${file}`)
    }
    for (const field of ["license", "repository", "keywords", "engines", "description", "exports"]) {
      if (pkg[field] === undefined) fail(`${where}: package.json has no "${field}"`)
    }
    if (pkg.license !== "MIT") fail(`${where}: license is ${JSON.stringify(pkg.license)}, not "MIT"`)
    if (!/^>=20\.18\.1$/.test(pkg.engines?.node ?? "")) fail(`${where}: engines.node is not ">=20.18.1"`)
    if (JSON.stringify(pkg).includes("workspace:")) fail(`${where}: a "workspace:" range was published`)
    if (pkg.publishConfig?.exports !== undefined) fail(`${where}: publishConfig.exports was not applied`)
    for (const { path, target } of targetsOf(pkg.exports)) {
      if (/\.[cm]?ts$/.test(target) && !/\.d\.[cm]?ts$/.test(target)) {
        fail(`${where}: exports ${path.join(" > ")} resolves to TypeScript source ${target}`)
      }
      if (path.some((key) => key.includes("source"))) fail(`${where}: exports keeps the condition ${path.join(" > ")}`)
    }
    for (const { target } of targetsOf(pkg.exports)) {
      const file = target.replace("*", "index")
      if (!target.includes("*") && !existsSync(join(root, file))) fail(`${where}: exports names ${target}, not packed`)
    }
    const peers = pkg.peerDependencies ?? {}
    const deps = { ...pkg.dependencies, ...pkg.optionalDependencies }
    if (peers.effect !== "^3.22.0") fail(`${where}: effect is not a peer dependency "^3.22.0"`)
    for (const dep of Object.keys(deps)) {
      if (dep === "effect" || dep.startsWith("@effect/")) fail(`${where}: ${dep} is a dependency, not a peer`)
    }
    if ("@effect/platform-node" in peers && pkg.peerDependenciesMeta?.["@effect/platform-node"]?.optional !== true) {
      fail(`${where}: @effect/platform-node is a required peer`)
    }
    const { bytes, files } = sizeOf(root)
    console.log(
      `${where}@${pkg.version}: ${files} files, ${kb(bytes)} unpacked; peers ${Object.keys(peers).join(", ")}`
    )
  }
}

// Packages an install of ours must not bring (through @effect/platform-node and its peers).
const forbidden = [
  /^@effect\/(cluster|sql|workflow|rpc|platform-node|platform-node-shared)$/,
  /^kubernetes-types$/,
  /^@parcel\/watcher/
]

const installedNpm = (project) => {
  const found = []
  const walk = (modules) => {
    if (!existsSync(modules)) return
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith(".")) continue
      const names = entry.startsWith("@") ? readdirSync(join(modules, entry)).map((n) => `${entry}/${n}`) : [entry]
      for (const name of names) {
        const dir = join(modules, name)
        if (!existsSync(join(dir, "package.json"))) continue
        found.push({ name, version: readJson(join(dir, "package.json")).version, dir })
        walk(join(dir, "node_modules"))
      }
    }
  }
  walk(join(project, "node_modules"))
  return found
}

const installedPnpm = (project) => {
  const store = join(project, "node_modules", ".pnpm")
  return readdirSync(store).filter((entry) => entry !== "node_modules" && !entry.startsWith("lock")).map((entry) => {
    // "@scope+name@1.2.3_peer@x" → "@scope/name", "1.2.3"
    const match = /^(@?[^@]+)@([^_]+)/.exec(entry)
    return { name: match[1].replace("+", "/"), version: match[2], dir: join(store, entry) }
  })
}

const checkTree = (project, manager) => {
  const installed = manager === "npm" ? installedNpm(project) : installedPnpm(project)
  for (const { name, version } of installed) {
    if (forbidden.some((re) => re.test(name))) fail(`${manager}: ${name}@${version} was installed`)
  }
  const effects = installed.filter((p) => p.name === "effect")
  if (effects.length !== 1 || !effects[0].version.startsWith("3.")) {
    fail(`${manager}: ${effects.length} copies of effect (${effects.map((e) => e.version).join(", ")}), not one 3.x`)
  }
  // ours come from the tarballs, never from the registry
  const lock = readFileSync(join(project, manager === "npm" ? "package-lock.json" : "pnpm-lock.yaml"), "utf8")
  if (/registry\.npmjs\.org\/@llm-api-router/.test(lock)) fail(`${manager}: an @llm-api-router package came from npm`)
  // native addons need a compiler or a prebuilt binary: say which arrived
  const withDirs = installed.map((p) => ({
    ...p,
    root: manager === "npm" ? p.dir : join(p.dir, "node_modules", p.name)
  }))
  const native = withDirs.filter(({ root }) => buildsOnInstall(root))
  const sized = withDirs.map((p) => ({ ...p, bytes: sizeOf(p.root, true).bytes }))
  const tools = new Set(["typescript", "@types/node", "undici-types"]) // the consumer's, not ours
  const effectItself = new Set(["effect", "fast-check", "pure-rand", "@standard-schema/spec"]) // effect's own tree
  const report = (label, list) => `${label} ${list.length} packages, ${mb(list.reduce((n, p) => n + p.bytes, 0))}`
  const runtime = sized.filter((p) => !tools.has(p.name))
  const brought = runtime.filter((p) => !effectItself.has(p.name) && !p.name.startsWith("@llm-api-router/"))
  console.log(
    `${manager}: ${report("installed", sized)}; ${
      report("without the consumer's typescript and @types/node", runtime)
    }; ` +
      `${report("of which neither ours nor effect's own tree", brought)}: ${
        brought.map((p) => p.name).sort().join(" ")
      }` +
      (native.length > 0 ? `; with install scripts: ${native.map((p) => p.name).join(" ")}` : "")
  )
}

// a package that compiles or fetches a native addon when installed
const buildsOnInstall = (dir) => {
  const pkg = readJson(join(dir, "package.json"))
  return existsSync(join(dir, "binding.gyp")) || pkg.gypfile === true ||
    ["preinstall", "install", "postinstall"].some((script) => pkg.scripts?.[script] !== undefined)
}

const [command, ...args] = process.argv.slice(2)
if (command === "tarballs") checkTarballs(args[0])
else if (command === "tree") checkTree(args[0], args[1])
else fail(`unknown command ${command}`)

if (problems.length > 0) {
  for (const problem of problems) console.error(`FAIL ${problem}`)
  process.exit(1)
}
