// Runs N headless publishers in their own process (so the bench can tell their CPU from the
// server's). Args: url token count fps [prompt JSON or "none"] [receiver 1|0]. Prints "ready <peerIds…>" once all publish, then obeys
// lines on stdin: "filter on", "filter off", "prompt <JSON>" (every publisher switches to it),
// "view <JSON>" (every publisher asks for that viewpoint, e.g. {"yaw":15}),
// "latency" (prints and clears the glass-to-glass samples, ms, per peer and raw/processed
// stream), "colours" (prints and clears the processed frames' [time, Y, U, V] per peer), "quit".
import readline from 'node:readline';
import { loadClip } from './clip.js';
import type { FilterSettingsPatch } from '@portrait-edit/shared';
import { HeadlessPublisher, HeadlessReceiver } from './headless-publisher.js';

const [url, token, countS, fpsS, promptS = 'none', receiverS = '1'] = process.argv.slice(2);
// The editor edits only with a prompt: without one it passes frames through ('no prompt').
const prompt = promptS === 'none' ? undefined : (JSON.parse(promptS) as FilterSettingsPatch['prompt']);
const count = Number(countS);
const fps = Number(fpsS);
const clip = loadClip('talking-d6.mp4', 640, 480, fps, 10);
const pubs: HeadlessPublisher[] = [];
for (let i = 0; i < count; i++) pubs.push(await HeadlessPublisher.start(url, token, `bench-${i}`, clip, fps));
// One watcher measures glass-to-glass latency of every raw and processed stream. The load test
// leaves it out: decoding 2×N streams here would take the very cores the server is measured on.
const receiver = receiverS === '1' ? new HeadlessReceiver(url, token) : null;
await receiver?.join();
console.log(`ready ${pubs.map((p) => p.peerId).join(' ')}`);

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const cmd = line.trim();
  if (cmd === 'filter on' || cmd === 'filter off') {
    await Promise.all(pubs.map((p) => p.setFilter(cmd === 'filter on' ? { enabled: true, ...(prompt ? { prompt } : {}) } : { enabled: false })));
    console.log('ok');
  } else if (cmd.startsWith('prompt ')) {
    const next = JSON.parse(cmd.slice('prompt '.length)) as FilterSettingsPatch['prompt'];
    await Promise.all(pubs.map((p) => p.setFilter({ prompt: next })));
    console.log('ok');
  } else if (cmd.startsWith('view ')) {
    const view = JSON.parse(cmd.slice('view '.length)) as FilterSettingsPatch['view'];
    await Promise.all(pubs.map((p) => p.setFilter({ view })));
    console.log('ok');
  } else if (cmd === 'colours') {
    console.log(JSON.stringify(receiver?.drainColours() ?? {}));
  } else if (cmd === 'latency') {
    console.log(JSON.stringify(receiver?.drain() ?? {}));
  } else if (cmd === 'quit') {
    receiver?.close();
    for (const p of pubs) p.close();
    process.exit(0);
  }
});
rl.on('close', () => process.exit(0));
