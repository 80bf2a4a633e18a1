#!/usr/bin/env node
/** The `meshlan` command: `node packages/cli/src/main.ts ARGS` (scripts/meshlan wraps this). */
import { run } from './program.ts'

const code = await run(process.argv.slice(2))
process.exitCode = code
