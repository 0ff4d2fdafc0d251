#!/usr/bin/env node
// Runs the TypeScript sources through tsx so that the CLI, the tests and the library share one build.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
