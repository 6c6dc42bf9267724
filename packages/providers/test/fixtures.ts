/**
 * Loads the recorded provider responses in `test/recorded/` (see its README): real responses from the
 * providers' live APIs, kept in the repository so the conformance tests run anywhere.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"

/** The directory holding the recorded fixtures, one folder per provider. */
export const recordedDir = Path.resolve(Path.dirname(Url.fileURLToPath(import.meta.url)), "recorded")

const file = (folder: string, name: string, extension: string): string =>
  Path.join(recordedDir, folder, name.endsWith(extension) ? name : name + extension)

/**
 * The streamed event payloads of `<folder>/<name>.chunks.txt`, one parsed JSON value per non-blank line, in order.
 */
export const loadChunks = (folder: string, name: string): Array<unknown> => {
  const text = Fs.readFileSync(file(folder, name, ".chunks.txt"), "utf8")
  const out: Array<unknown> = []
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    if (line.trim().length > 0) out.push(JSON.parse(line))
  }
  return out
}

/** The parsed body of `<folder>/<name>.json`. */
export const loadJson = (folder: string, name: string): unknown =>
  JSON.parse(Fs.readFileSync(file(folder, name, ".json"), "utf8"))
