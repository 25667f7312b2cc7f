// The consumability check: pack every published package, lint the packages (publint,
// are-the-types-wrong), install the tarballs with plain npm into a scratch project outside the
// workspace, and import and run each entry point there. Run after `pnpm build`.
import { execFileSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
const run = (cmd, args, cwd = root, timeout) =>
  execFileSync(cmd, args, { cwd, stdio: "inherit", env: process.env, timeout })
const pnpm = (args, cwd) =>
  run(
    process.env.npm_execpath ? process.execPath : "pnpm",
    process.env.npm_execpath ? [process.env.npm_execpath, ...args] : args,
    cwd
  )

const packages = readdirSync(join(root, "packages"))
  .map((dir) => ({
    dir: join(root, "packages", dir),
    json: JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8"))
  }))
  .filter((p) => p.json.private !== true)
  .filter((p) => process.env.CHECK_ONLY === undefined || process.env.CHECK_ONLY.split(",").includes(p.json.name))

const scratch = mkdtempSync(join(tmpdir(), "chronicle-consume-"))
const tarballs = join(scratch, "tarballs")
mkdirSync(tarballs)

const files = {}
for (const { dir, json } of packages) {
  const short = json.name.replace("@chronicle/", "")
  const smoke = join(root, "scripts", "smoke", `${short}.mjs`)
  if (!existsSync(smoke)) throw new Error(`${json.name} has no smoke test at scripts/smoke/${short}.mjs`)
  console.log(`\n== ${json.name}: pack, publint, are-the-types-wrong`)
  pnpm(["pack", "--pack-destination", tarballs], dir)
  const tarball = readdirSync(tarballs).find((f) => f.startsWith(`chronicle-${short}-`) && f.endsWith(".tgz"))
  files[json.name] = join(tarballs, tarball)
  run(join(root, "node_modules", ".bin", "publint"), ["--strict", files[json.name]])
  run(join(root, "node_modules", ".bin", "attw"), [
    "--profile",
    "esm-only",
    "--format",
    "table-flipped",
    files[json.name]
  ])
}

// versions of effect and friends, from the workspace catalog
const catalog = Object.fromEntries(
  readFileSync(join(root, "pnpm-workspace.yaml"), "utf8").split("catalog:")[1].split("\n\n")[0].split("\n")
    .map((line) => line.match(/^\s+"?([^":]+)"?:\s*(\S+)/)).filter(Boolean).map((m) => [m[1], m[2]])
)
const thirdParty = [
  "vitest",
  "@effect/vitest",
  "effect",
  "@effect/platform",
  "@effect/platform-node",
  "@effect/sql",
  "@effect/sql-sqlite-node",
  "@effect/sql-pg",
  "@effect/experimental",
  "@effect/cluster",
  "@effect/rpc"
]
const local = Object.fromEntries(Object.entries(files).map(([name, file]) => [name, `file:${file}`]))
writeFileSync(
  join(scratch, "package.json"),
  JSON.stringify(
    {
      name: "chronicle-consumer",
      private: true,
      type: "module",
      dependencies: { ...local, ...Object.fromEntries(thirdParty.map((n) => [n, catalog[n]])) },
      overrides: local
    },
    null,
    2
  )
)

console.log(`\n== npm install of the tarballs into ${scratch}`)
// scripts are skipped and better-sqlite3's native build is taken from the workspace (same version)
run("npm", ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], scratch)
const built = join(root, "node_modules", ".pnpm")
const bs3 = readdirSync(built).find((d) => d.startsWith("better-sqlite3@"))
const theirs = JSON.parse(readFileSync(join(scratch, "node_modules", "better-sqlite3", "package.json"), "utf8")).version
if (bs3 !== undefined && bs3 === `better-sqlite3@${theirs}`) {
  const from = join(built, bs3, "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node")
  const to = join(scratch, "node_modules", "better-sqlite3", "build", "Release")
  mkdirSync(to, { recursive: true })
  copyFileSync(from, join(to, "better_sqlite3.node"))
} else {
  run("npm", ["rebuild", "better-sqlite3"], scratch)
}

for (const name of Object.keys(files)) {
  const short = name.replace("@chronicle/", "")
  console.log(`\n== ${name}: import and run every entry point`)
  copyFileSync(join(root, "scripts", "smoke", `${short}.mjs`), join(scratch, `${short}.mjs`))
  // a smoke script that does not exit left something open: fail it rather than wait forever
  run(process.execPath, [join(scratch, `${short}.mjs`)], scratch, 60_000)
  // a `testing` entry runs inside Vitest
  if (existsSync(join(root, "scripts", "smoke", `${short}.test.mjs`))) {
    copyFileSync(join(root, "scripts", "smoke", `${short}.test.mjs`), join(scratch, `${short}.test.mjs`))
    run(join(scratch, "node_modules", ".bin", "vitest"), ["run", "--root", scratch, `${short}.test.mjs`], scratch)
  }
}
console.log(`\nconsumability check passed for ${Object.keys(files).length} packages`)
