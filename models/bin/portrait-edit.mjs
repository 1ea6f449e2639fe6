#!/usr/bin/env node
// portrait-edit CLI entry. Registers tsx so the TypeScript sources in src/ run directly (the
// models workspace has no build step), then hands argv to src/cli/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
