// A websocket client for tests: collects terminal bytes and JSON events, and can wait for them.
import WebSocket from 'ws';
import type { ServerMessage } from '../../common/protocol.ts';
import { until } from './blocks.ts';

const OUTPUT_KEEP = 256 * 1024;

export class TermClient {
  output = '';
  events: ServerMessage[] = [];
  closed = false;
  /** The close frame's code and reason, once closed (1005/1006 when there was none). */
  closeCode: number | undefined;
  closeReason = '';
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.output += (data as Buffer).toString('utf8');
        // Tests look for recent output; a flood must not pile up in the test process.
        if (this.output.length > 4 * OUTPUT_KEEP) this.output = this.output.slice(-OUTPUT_KEEP);
      }
      else this.events.push(JSON.parse(data.toString()));
    });
    ws.on('close', (code, reason) => {
      this.closed = true;
      this.closeCode = code;
      this.closeReason = reason.toString('utf8');
    });
  }

  static connect(url: string, headers: Record<string, string>): Promise<TermClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const c = new TermClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  type(text: string): void {
    this.ws.send(Buffer.from(text), { binary: true });
  }

  async waitOutput(re: RegExp, ms = 10_000): Promise<void> {
    await until(() => re.test(this.output), ms, `output ${re}`);
  }

  async waitEvent<T extends ServerMessage['type']>(type: T, pred: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true, ms = 10_000) {
    let found: Extract<ServerMessage, { type: T }> | undefined;
    await until(() => {
      found = this.events.find((e): e is Extract<ServerMessage, { type: T }> => e.type === type && pred(e as Extract<ServerMessage, { type: T }>));
      return !!found;
    }, ms, `event ${type}`);
    return found!;
  }

  close(): void {
    this.ws.close();
  }
}
