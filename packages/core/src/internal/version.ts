/**
 * The version of the packages, as published (they are released together). A test holds it equal to
 * `packages/core/package.json`'s.
 *
 * @internal
 */
export const version = "0.1.0"
