// The test command: one Vitest run over every package, then the totals as one plain line.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { relative } from "node:path"

const out = ".test-results/vitest.json"
mkdirSync(".test-results", { recursive: true })
for (const file of [out, ".test-results/pg-skipped.txt"]) if (existsSync(file)) rmSync(file)

const run = spawnSync(
  "vitest",
  ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${out}`, ...process.argv.slice(2)],
  { stdio: "inherit", shell: process.platform === "win32" }
)

if (!existsSync(out)) {
  console.error("The test runner wrote no results.")
  process.exit(run.status ?? 1)
}
const report = JSON.parse(readFileSync(out, "utf8"))
const skippedFiles = report.testResults
  .filter((file) =>
    file.assertionResults.length > 0 &&
    file.assertionResults.every((t) => t.status !== "passed" && t.status !== "failed")
  )
  .map((file) => relative(process.cwd(), file.name))
if (existsSync(".test-results/pg-skipped.txt")) {
  console.log(`\nPostgreSQL suites were skipped: ${readFileSync(".test-results/pg-skipped.txt", "utf8")}`)
}
if (skippedFiles.length > 0) {
  console.log("\nTest files skipped entirely:")
  for (const file of skippedFiles) console.log(`  - ${file}`)
}
const passed = report.numPassedTests
const failed = report.numFailedTests +
  (report.numFailedTestSuites > 0 && report.numFailedTests === 0 ? report.numFailedTestSuites : 0)
const skipped = report.numPendingTests + report.numTodoTests
const line = `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`
// Name what failed beside the totals, so a log cut to its tail still says which test broke.
const failures = report.testResults.flatMap((file) => {
  const path = relative(process.cwd(), file.name)
  const tests = file.assertionResults
    .filter((t) => t.status === "failed")
    .map((t) => `  - ${path} > ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`)
  return tests.length > 0 || file.status !== "failed" ? tests : [`  - ${path}: ${firstLine(file.message)}`]
})
const summary = failures.length > 0 ? `Failed:\n${failures.join("\n")}\n${line}` : line
console.log(`\n${summary}`)
writeFileSync(".test-results/totals.txt", `${summary}\n`)
process.exit(run.status === 0 && failed === 0 ? 0 : 1)

function firstLine(text) {
  return (text ?? "no message").split("\n")[0].slice(0, 300)
}
