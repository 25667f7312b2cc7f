// The same rows for every side of a comparison: stream id, version, type, ~200 bytes of JSON data
// and a little metadata.
export const payload = (stream: number, i: number) => ({
  documentId: `doc-${stream}`,
  title: `Quarterly report ${i}`,
  blocks: [
    { id: `b${i}-1`, type: "paragraph", content: "Revenue grew in every region except the north-east." },
    { id: `b${i}-2`, type: "paragraph", content: "Costs were flat; hiring resumes next quarter." }
  ],
  author: "ada"
})

export const metadata = { correlationId: "bench", source: "bench" }

export const streamsCount = 1_000
export const appendsPerStream = 10
export const batchEvents = 100_000
export const batchSize = 1_000
export const readEvents = 10_000
// Every side appends this many events before it is timed: the first couple of thousand appends
// through a fresh process run well below its steady rate (JIT, caches, connections, plan caches).
export const warmupAppends = 2_000

export const gc = () => (globalThis as { gc?: () => void }).gc?.()

/** Times `run` after `warmup`, returning operations per second. */
export const measure = async (ops: number, run: () => Promise<void> | void): Promise<number> => {
  gc()
  const started = performance.now()
  await run()
  const seconds = (performance.now() - started) / 1000
  return ops / seconds
}
