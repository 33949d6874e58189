/**
 * How the customer commands get passwords and codes without ever taking a password in argv (where
 * `ps` and shell history would show it): from a file, from stdin (`-`), or typed at the terminal —
 * passwords hidden (raw mode, nothing echoed), the TOTP code shown. Prompts go to stderr so that
 * stdout stays the command's output for scripts.
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';

export interface TerminalInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

export interface Terminal {
  input: TerminalInput;
  output: NodeJS.WritableStream;
}

export const processTerminal = (): Terminal => ({ input: process.stdin, output: process.stderr });

export function isInteractive(terminal: Terminal): boolean {
  return terminal.input.isTTY === true && typeof terminal.input.setRawMode === 'function';
}

/** The first line of `source` (a path, or `-` for stdin), without its line ending. */
export async function readSecretSource(source: string, flag: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text: string;
  if (source === '-') {
    const parts: Buffer[] = [];
    for await (const part of stdin) parts.push(typeof part === 'string' ? Buffer.from(part) : part);
    text = Buffer.concat(parts).toString('utf8');
  } else {
    try {
      text = await readFile(source, 'utf8');
    } catch (error) {
      throw new Error(`${flag}: cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
    }
  }
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  if (line === '') throw new Error(`${flag}: ${source === '-' ? 'stdin' : source} holds no password (its first line is empty)`);
  return line;
}

/** Reads a line at the terminal with nothing echoed. Ctrl-C cancels; backspace works. */
export function promptHidden(question: string, terminal: Terminal): Promise<string> {
  const { input, output } = terminal;
  output.write(question);
  input.setRawMode?.(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error): void => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else if (char >= ' ') value += char;
      }
    };
    input.on('data', onData);
  });
}

/** Reads a line at the terminal, echoed (a TOTP code is worthless once used). */
export async function promptVisible(question: string, terminal: Terminal): Promise<string> {
  const rl = createInterface({ input: terminal.input, output: terminal.output, terminal: false });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/**
 * A password: from `source` when given (file or `-`), else typed hidden at the terminal; with no
 * terminal and no source, an error naming the flag to use.
 */
export async function obtainPassword(options: { source: string | undefined; flag: string; prompt: string; terminal: Terminal }): Promise<string> {
  const { source, flag, prompt, terminal } = options;
  if (source !== undefined) return readSecretSource(source, flag, terminal.input);
  if (!isInteractive(terminal)) throw new Error(`no terminal to ask for the password on: give ${flag} <file>, or ${flag} - to read it from stdin`);
  const value = await promptHidden(prompt, terminal);
  if (value === '') throw new Error('no password given');
  return value;
}
