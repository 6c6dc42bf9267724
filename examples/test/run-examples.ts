/**
 * Runs the examples named on the command line one after another in this one process (each is imported, which runs
 * it to its end), printing a marker line before each and a failure line after one that throws. The examples' test
 * spawns this once instead of one process per example.
 *
 *   node --conditions=@llm-api-router/source --import tsx examples/test/run-examples.ts chat stream
 */
for (const name of process.argv.slice(2)) {
  console.log(`\n<<<example ${name}>>>`)
  try {
    await import(`../${name}.ts`)
  } catch (error) {
    console.log(`\n<<<failed ${name}>>> ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  }
}
console.log("\n<<<end>>>")
