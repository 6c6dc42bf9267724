/**
 * Embeddings with the Promise `Client`, and cosine similarity between them: the two sentences about a cat score
 * higher than the cat and the stock market.
 *
 * Offline by default (a fake OpenAI-compatible server started in-process, whose vectors are a hashed bag of words
 * and character trigrams: they measure shared words, not meaning); OPENAI_API_KEY set: OpenAI.
 *
 *   pnpm exec tsx --conditions=@llm-api-router/source examples/embeddings.ts
 */
import { Client } from "@llm-api-router/providers"
import * as Backend from "./src/backend.js"

await using backend = await Backend.start()
await using client = new Client({ provider: "openai", apiKey: backend.apiKey, baseUrl: backend.baseUrl })

const input = ["The cat sat on the mat.", "A cat is sitting on a rug.", "Stock prices fell sharply."]
const res = await client.embeddings.create({ model: backend.embeddingModel, input, dimensions: 256 })
console.log(`model ${res.model}: ${res.data.length} vectors of ${res.data[0]?.embedding.length} dimensions`)

const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => {
  let dot = 0, na = 0, nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!
    na += a[i]! * a[i]!
    nb += b[i]! * b[i]!
  }
  return dot / Math.sqrt(na * nb)
}
const [a, b, c] = res.data.map((d) => d.embedding)
console.log(`similarity(0, 1) = ${cosine(a!, b!).toFixed(3)}`)
console.log(`similarity(0, 2) = ${cosine(a!, c!).toFixed(3)}`)
