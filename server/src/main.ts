import { startServer } from './app.js';

const server = await startServer();
const { roomId } = server.registry.create();
const exp = Math.floor(Date.now() / 1000) + server.config.tokenTtlSeconds;
const host = server.tokens.sign({ room: roomId, role: 'host', exp });
const guest = server.tokens.sign({ room: roomId, role: 'guest', exp });
console.log(`portrait-edit server on ${server.url} (processor: ${server.config.processor}, ${server.config.numWorkers} mediasoup workers)`);
console.log(`Open ${server.url}/ to start a call, or join the ready-made room:`);
console.log(`  host:  ${server.url}/?room=${roomId}&token=${host}`);
console.log(`  guest: ${server.url}/?room=${roomId}&token=${guest}`);

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.log('shutting down…');
    void server.close().then(() => process.exit(0));
  });
}
