/**
 * `portrait-edit <command> ...` dispatcher. Exit codes: 0 success, 1 internal error,
 * 2 usage error or unusable input (the message goes to stderr).
 */
import { COMMANDS, type CliIO } from './commands.js';
import { UsageError } from './args.js';
import { InputError } from '../tracking/media-io.js';

export async function usage(): Promise<string> {
  const lines = ['usage: portrait-edit <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const c = await load();
    lines.push(`  ${c.synopsis.startsWith(name) ? c.synopsis : `${name} ${c.synopsis}`}`, `      ${c.description}`);
  }
  return lines.join('\n') + '\n';
}

const defaultIO: CliIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd) {
    io.stderr(await usage());
    return 2;
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    io.stdout(await usage());
    return 0;
  }
  const load = COMMANDS[cmd];
  if (!load) {
    io.stderr(`portrait-edit: unknown command '${cmd}'\n\n` + (await usage()));
    return 2;
  }
  try {
    return await (await load()).run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`portrait-edit ${cmd}: ${err.message}\n\n` + (await usage()));
      return 2;
    }
    if (err instanceof InputError) {
      io.stderr(`portrait-edit ${cmd}: error: ${err.message}\n`);
      return 2;
    }
    io.stderr(`portrait-edit ${cmd}: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}
