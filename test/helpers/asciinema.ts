// The real asciinema CLI, for tests that check a recording plays.
import pty from 'node-pty';

export const ASCIINEMA = '/usr/bin/asciinema';

/**
 * `asciinema cat` opens /dev/tty, so it must run inside a pseudo-terminal.
 * Resolves with everything it printed.
 */
export function asciinemaCat(file: string): Promise<{ out: string; exitCode: number }> {
  return new Promise((resolve, reject) => {
    let out = '';
    const p = pty.spawn(ASCIINEMA, ['cat', file], {
      cols: 200,
      rows: 50,
      env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TERM: 'xterm-256color' },
    });
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error('asciinema cat timed out'));
    }, 60_000);
    p.onData((d) => {
      out += d;
    });
    p.onExit(({ exitCode }) => {
      clearTimeout(timer);
      resolve({ out, exitCode });
    });
  });
}
