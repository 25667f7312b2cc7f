import { existsSync, readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Workspace packages resolve to their TypeScript sources through this export condition.
const source = "@chronicle/source"
// Vite's own defaults, which setting `conditions` replaces
const defaultClientConditions = ["module", "browser", "development|production"]
const defaultServerConditions = ["module", "node", "development|production"]

const projects = ["packages", "apps"].flatMap((group) =>
  existsSync(group)
    ? readdirSync(group, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(`${group}/${entry.name}/test`))
      .map((entry) => ({
        extends: true as const,
        test: { name: entry.name, root: `${group}/${entry.name}`, include: ["test/**/*.test.ts"] }
      }))
    : []
)

export default defineConfig({
  resolve: { conditions: [source, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [source, ...defaultServerConditions] } },
  test: {
    globalSetup: [fileURLToPath(new URL("./scripts/vitest-global-setup.ts", import.meta.url))],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    projects
  }
})
