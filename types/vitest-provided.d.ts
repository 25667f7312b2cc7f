// Values the root Vitest global setup provides to every test file (see scripts/vitest-global-setup.ts).
import "vitest"

declare module "vitest" {
  export interface ProvidedContext {
    /** A reachable PostgreSQL URL, or null when none answered and PostgreSQL suites are skipped. */
    pgUrl: string | null
    pgSkipReason: string
  }
}
