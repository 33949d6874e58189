import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { obtainPassword, promptHidden, readSecretSource, type Terminal } from './secret-input.ts';

/** A terminal as the command sees one: a TTY input that can be put in raw mode, and what was echoed. */
function fakeTerminal(tty: boolean): Terminal & { keys: PassThrough; echoed: () => string; rawModes: boolean[] } {
  const rawModes: boolean[] = [];
  const keys = new PassThrough();
  const input = Object.assign(keys, { isTTY: tty }, tty ? { setRawMode: (mode: boolean) => rawModes.push(mode) } : {});
  const output = new PassThrough();
  let echoed = '';
  output.on('data', (chunk: Buffer) => { echoed += chunk.toString(); });
  return { input, keys, output, echoed: () => echoed, rawModes };
}

describe('hidden password input', () => {
  it('echoes nothing of what is typed, handles backspace, leaves raw mode', async () => {
    const terminal = fakeTerminal(true);
    const answer = promptHidden('Password: ', terminal);
    terminal.keys.write('s3cretX');
    terminal.keys.write('\u007f!\r');
    expect(await answer).toBe('s3cret!');
    expect(terminal.echoed()).toBe('Password: \n');
    expect(terminal.rawModes).toEqual([true, false]);
  });

  it('is cancelled by Ctrl-C', async () => {
    const terminal = fakeTerminal(true);
    const answer = promptHidden('Password: ', terminal);
    terminal.keys.write('abc\u0003');
    await expect(answer).rejects.toThrow('cancelled');
  });
});

describe('obtainPassword', () => {
  it('reads the first line of a file or of stdin, and never asks without a terminal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'secret-input-'));
    try {
      await writeFile(join(dir, 'pw'), 'from-file\nignored\n');
      expect(await obtainPassword({ source: join(dir, 'pw'), flag: '--password-file', prompt: 'x', terminal: fakeTerminal(false) })).toBe('from-file');
      const piped = fakeTerminal(false);
      piped.keys.end('from-stdin\r\n');
      expect(await readSecretSource('-', '--password-file', piped.input)).toBe('from-stdin');
      await writeFile(join(dir, 'empty'), '\n');
      await expect(obtainPassword({ source: join(dir, 'empty'), flag: '--password-file', prompt: 'x', terminal: fakeTerminal(false) })).rejects.toThrow(`--password-file: ${join(dir, 'empty')} holds no password`);
      await expect(obtainPassword({ source: join(dir, 'missing'), flag: '--password-file', prompt: 'x', terminal: fakeTerminal(false) })).rejects.toThrow('--password-file: cannot read');
      await expect(obtainPassword({ source: undefined, flag: '--password-file', prompt: 'x', terminal: fakeTerminal(false) })).rejects.toThrow('no terminal to ask for the password on: give --password-file <file>, or --password-file - to read it from stdin');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
