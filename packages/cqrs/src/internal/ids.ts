// Deterministic event ids: the same idempotency key and index always give the same UUID-shaped id
// (name-based, version 5 layout over SHA-1), so a re-sent command's events carry the ids the store
// already holds and its idempotent append recognises them.
import { createHash } from "node:crypto"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

export const deterministicEventId = (key: string, index: number): string => {
  const digest = createHash("sha1").update(`chronicle:${key}:${index}`).digest()
  const bytes = new Uint8Array(digest.subarray(0, 16))
  bytes[6] = (bytes[6] & 0x0f) | 0x50
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const h = hex(bytes)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
