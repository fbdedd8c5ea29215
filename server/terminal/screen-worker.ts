// The thread that owns every session's headless screen (see screen.ts): parsing terminal output
// into a screen costs ~18 ms of CPU per MB, which here runs beside the server's event loop
// instead of on it. It only answers its parent: bytes in, "parsed" counts and screens out.
import { parentPort } from 'node:worker_threads';
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';
import type { ToScreenWorker, FromScreenWorker } from './screen.ts';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;

interface Screen {
  term: InstanceType<typeof Terminal>;
  serializer: InstanceType<typeof SerializeAddon>;
  scrollback: number;
}

const port = parentPort;
if (!port) throw new Error('screen-worker.ts runs only as a worker thread (screen.ts starts it)');
const screens = new Map<number, Screen>();
const post = (m: FromScreenWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

port.on('message', (m: ToScreenWorker) => {
  switch (m.t) {
    case 'open': {
      const term = new Terminal({ cols: m.cols, rows: m.rows, scrollback: m.scrollback, allowProposedApi: true });
      const serializer = new SerializeAddon();
      term.loadAddon(serializer as never);
      screens.set(m.id, { term, serializer, scrollback: m.scrollback });
      break;
    }
    case 'write': {
      const s = screens.get(m.id);
      const n = m.data.length;
      // The buffer goes back to be filled again once xterm is done with it (the callback).
      // A screen closed meanwhile still answers, so the parent's unparsed count settles.
      const done = () => post({ t: 'parsed', id: m.id, n, buffer: m.data.buffer as ArrayBuffer }, [m.data.buffer as ArrayBuffer]);
      if (!s) done();
      else s.term.write(m.data, done);
      break;
    }
    case 'resize':
      screens.get(m.id)?.term.resize(m.cols, m.rows);
      break;
    case 'snapshot': {
      const s = screens.get(m.id);
      if (!s) post({ t: 'screen', id: m.id, seq: m.seq, data: '' });
      // The empty write's callback runs once everything written before it is parsed.
      else s.term.write(new Uint8Array(0), () => post({ t: 'screen', id: m.id, seq: m.seq, data: s.serializer.serialize({ scrollback: s.scrollback }) }));
      break;
    }
    case 'close':
      screens.get(m.id)?.term.dispose();
      screens.delete(m.id);
      break;
  }
});
