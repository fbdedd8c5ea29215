// The transport floor for echo latency: a bare `ws` server in its own process that sends every
// binary frame straight back (no pty, no Stepwise). Started by bench/run.ts.
import { WebSocketServer } from 'ws';

if (!process.send) {
  console.error('bench/ws-echo-child.ts is started by bench/run.ts');
  process.exit(2);
}
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => {
  process.send!({ port: (wss.address() as { port: number }).port });
});
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
process.on('disconnect', () => {
  wss.close();
  process.exit(0);
});
