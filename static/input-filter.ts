// What of xterm.js's onData may go to the shell. onData carries what the user types and
// pastes, but also the terminal's own answers to queries in the output it is shown; output
// is untrusted (any file a command prints), so it must not be able to type into the shell.
// Pure (no DOM), so it is unit-testable.

/**
 * Answers to status queries that no keyboard produces: DCS reports (DECRQSS `ESC P 1 $ r … ST`)
 * and OSC reports (colour queries `ESC ] 11 ; rgb:… BEL/ST`). Dropped. Cursor-position and
 * device-attribute answers still pass: full-screen programs need them and they carry no text.
 */
const STATUS_REPLY = /^(?:\x1bP[0-9;]*[|!$+]?r[^\x1b]*\x1b\\|\x1b\][0-9]+;[^\x07\x1b]*(?:\x07|\x1b\\))$/;

const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';

/**
 * The bytes to send for one onData event, or undefined to send nothing. A bracketed paste keeps
 * its brackets but loses any bracket markers inside it, so pasted text cannot end the paste
 * early and have the rest run as typed commands.
 */
export function terminalInput(data: string): string | undefined {
  if (STATUS_REPLY.test(data)) return undefined;
  if (data.length >= PASTE_START.length + PASTE_END.length && data.startsWith(PASTE_START) && data.endsWith(PASTE_END)) {
    const inner = data.slice(PASTE_START.length, -PASTE_END.length).replace(/\x1b\[20[01]~/g, '');
    return PASTE_START + inner + PASTE_END;
  }
  return data;
}
