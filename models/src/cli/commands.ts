/**
 * Subcommand registry for `portrait-edit`. To add one (edit, eval, adapt, ...): write
 * src/cli/<name>.ts exporting a `CliCommand`, and add one line below. Modules are imported
 * lazily so `portrait-edit --help` does not load TF.js.
 */
export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export interface CliCommand {
  /** One line for the usage text, e.g. "track <image-or-video> [--json out.json]". */
  synopsis: string;
  description: string;
  /** Returns the exit code: 0 ok, 2 bad input/usage, 1 internal failure. */
  run(argv: string[], io: CliIO): Promise<number>;
}

export const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  track: async () => (await import('./track.js')).trackCommand,
  edit: async () => (await import('./edit.js')).editCommand,
  eval: async () => (await import('./eval.js')).evalCommand,
  adapt: async () => (await import('./adapt.js')).adaptCommand,
};
