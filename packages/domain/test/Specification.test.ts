import { Specification } from "@chronicle/domain"
import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { pipe } from "effect/Function"

interface Row {
  readonly title: string
  readonly words: number
  readonly deleted: boolean
}

const long = Specification.make<Row>("long", (row) => row.words > 100)
const live = Specification.make<Row>("live", (row) => !row.deleted)
const titled = Specification.make<Row>("titled", (row) => row.title.length > 0)

const rowArb = fc.record({ title: fc.string({ maxLength: 3 }), words: fc.nat(200), deleted: fc.boolean() })

describe("Specification", () => {
  it("composes with and / or / not, data-first and data-last", () => {
    const row: Row = { title: "a", words: 150, deleted: true }
    assert.isFalse(Specification.and(long, live).isSatisfiedBy(row))
    assert.isTrue(pipe(long, Specification.or(live)).isSatisfiedBy(row))
    assert.isTrue(Specification.not(live).isSatisfiedBy(row))
  })

  it("names describe the composition", () => {
    assert.strictEqual(pipe(long, Specification.and(Specification.not(live))).name, "(long and not live)")
    assert.strictEqual(Specification.all(long, live, titled).name, "all(long, live, titled)")
  })

  it("filters rows", () => {
    const rows: Array<Row> = [
      { title: "x", words: 500, deleted: false },
      { title: "y", words: 10, deleted: false },
      { title: "z", words: 500, deleted: true }
    ]
    assert.deepStrictEqual(Specification.filter(rows, Specification.and(long, live)).map((r) => r.title), ["x"])
    assert.deepStrictEqual(pipe(rows, Specification.filter(Specification.not(long))).map((r) => r.title), ["y"])
  })

  it("all of none is true, any of none is false", () => {
    const row: Row = { title: "", words: 0, deleted: false }
    assert.isTrue(Specification.all<Row>().isSatisfiedBy(row))
    assert.isFalse(Specification.any<Row>().isSatisfiedBy(row))
  })

  it.prop("follows boolean algebra", [rowArb], ([row]) => {
    const a = long.isSatisfiedBy(row)
    const b = live.isSatisfiedBy(row)
    const c = titled.isSatisfiedBy(row)
    assert.strictEqual(Specification.and(long, live).isSatisfiedBy(row), a && b)
    assert.strictEqual(Specification.or(long, live).isSatisfiedBy(row), a || b)
    assert.strictEqual(Specification.not(Specification.and(long, live)).isSatisfiedBy(row), !a || !b)
    assert.strictEqual(Specification.all(long, live, titled).isSatisfiedBy(row), a && b && c)
    assert.strictEqual(Specification.any(long, live, titled).isSatisfiedBy(row), a || b || c)
  })
})
