/**
 * Ids for what a server sent without one (a stream, a tool call): unique within the process, cheap to make.
 *
 * @internal
 */
let counter = 0

export const generateId = (prefix: string): string =>
  `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`
