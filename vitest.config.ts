import { existsSync, readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Workspace packages resolve to their TypeScript sources through this export condition.
const conditions = ["@chronicle/source", "import", "module", "node", "default"]

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
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@chronicle/source"] } },
  test: {
    globalSetup: [fileURLToPath(new URL("./scripts/vitest-global-setup.ts", import.meta.url))],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    projects
  }
})
