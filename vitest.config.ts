import { defineConfig } from "vitest/config"

// Workspace packages resolve to their TypeScript sources (our own "@llm-api-router/source" export condition, which
// the published package.json files do not carry), so tests never run against a stale build.
const conditions = ["@llm-api-router/source"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    sequence: { concurrent: false },
    fakeTimers: { toFake: [] }
  }
})
