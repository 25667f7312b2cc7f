/**
 * Specifications: named predicates that compose with and / or / not, for states and read-model rows.
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"

/**
 * A named predicate.
 *
 * @since 0.1.0
 * @category models
 */
export interface Specification<in A> {
  readonly name: string
  readonly isSatisfiedBy: (candidate: A) => boolean
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = <A>(name: string, isSatisfiedBy: (candidate: A) => boolean): Specification<A> => ({
  name,
  isSatisfiedBy
})

/**
 * Satisfied when both are.
 *
 * @since 0.1.0
 * @category combinators
 */
export const and: {
  <B>(that: Specification<B>): <A>(self: Specification<A>) => Specification<A & B>
  <A, B>(self: Specification<A>, that: Specification<B>): Specification<A & B>
} = dual(
  2,
  <A, B>(self: Specification<A>, that: Specification<B>): Specification<A & B> =>
    make(
      `(${self.name} and ${that.name})`,
      (candidate) => self.isSatisfiedBy(candidate) && that.isSatisfiedBy(candidate)
    )
)

/**
 * Satisfied when either is.
 *
 * @since 0.1.0
 * @category combinators
 */
export const or: {
  <B>(that: Specification<B>): <A>(self: Specification<A>) => Specification<A & B>
  <A, B>(self: Specification<A>, that: Specification<B>): Specification<A & B>
} = dual(
  2,
  <A, B>(self: Specification<A>, that: Specification<B>): Specification<A & B> =>
    make(
      `(${self.name} or ${that.name})`,
      (candidate) => self.isSatisfiedBy(candidate) || that.isSatisfiedBy(candidate)
    )
)

/**
 * Satisfied when the given one is not.
 *
 * @since 0.1.0
 * @category combinators
 */
export const not = <A>(self: Specification<A>): Specification<A> =>
  make(`not ${self.name}`, (candidate) => !self.isSatisfiedBy(candidate))

/**
 * Satisfied when every one is (true for none).
 *
 * @since 0.1.0
 * @category combinators
 */
export const all = <A>(...specifications: ReadonlyArray<Specification<A>>): Specification<A> =>
  make(
    `all(${specifications.map((s) => s.name).join(", ")})`,
    (candidate) => specifications.every((s) => s.isSatisfiedBy(candidate))
  )

/**
 * Satisfied when at least one is (false for none).
 *
 * @since 0.1.0
 * @category combinators
 */
export const any = <A>(...specifications: ReadonlyArray<Specification<A>>): Specification<A> =>
  make(
    `any(${specifications.map((s) => s.name).join(", ")})`,
    (candidate) => specifications.some((s) => s.isSatisfiedBy(candidate))
  )

/**
 * Keeps the items that satisfy the specification.
 *
 * @since 0.1.0
 * @category filtering
 */
export const filter: {
  <A>(specification: Specification<A>): <B extends A>(items: Iterable<B>) => Array<B>
  <B extends A, A>(items: Iterable<B>, specification: Specification<A>): Array<B>
} = dual(
  2,
  <B extends A, A>(items: Iterable<B>, specification: Specification<A>): Array<B> =>
    Array.from(items).filter((item) => specification.isSatisfiedBy(item))
)
