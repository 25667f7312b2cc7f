/**
 * When a repository writes a snapshot after a save.
 *
 * @since 0.1.0
 */

/**
 * What a policy sees after a save: the stream's new version, the version of the latest snapshot
 * (0 when there is none) and how many events the save appended.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly version: number
  readonly snapshotVersion: number
  readonly appended: number
}

/**
 * A snapshot policy: `true` writes a snapshot of the state after the save.
 *
 * @since 0.1.0
 * @category models
 */
export type SnapshotPolicy = (context: Context) => boolean

/**
 * Snapshots once at least `n` events were appended since the latest snapshot.
 *
 * @since 0.1.0
 * @category constructors
 */
export const every = (n: number): SnapshotPolicy => {
  const step = Math.max(1, Math.floor(n))
  return ({ snapshotVersion, version }) => version - snapshotVersion >= step
}

/**
 * Never snapshots.
 *
 * @since 0.1.0
 * @category constructors
 */
export const never: SnapshotPolicy = () => false

/**
 * Snapshots after every save that appended something.
 *
 * @since 0.1.0
 * @category constructors
 */
export const always: SnapshotPolicy = ({ appended }) => appended > 0

/**
 * A policy from any predicate.
 *
 * @since 0.1.0
 * @category constructors
 */
export const when = (predicate: (context: Context) => boolean): SnapshotPolicy => predicate
