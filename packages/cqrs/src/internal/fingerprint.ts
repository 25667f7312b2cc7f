// A command's fingerprint: a SHA-256 of its canonical JSON (object keys sorted, bigints as strings),
// stored with its events so a re-sent command id can be told from the same id reused for another
// command.
import { createHash } from "node:crypto"

const canonical = (_key: string, value: unknown): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value
  const sorted: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) sorted[key] = (value as Record<string, unknown>)[key]
  return sorted
}

export const fingerprint = (command: unknown): string =>
  createHash("sha256").update(JSON.stringify(command, canonical) ?? "undefined").digest("hex").slice(0, 32)
