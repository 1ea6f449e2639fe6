import { launchChromium } from '/work/main/e2e/src/browser.ts';
import { webcamY4m } from '/work/main/e2e/src/fixtures.ts';
import { createRoom, startTestServer } from '/work/main/e2e/src/server-harness.ts';
const server = await startTestServer('test-invert');
const browser = await launchChromium(webcamY4m());
const room = await createRoom(server.url);
const pages = [];
for (const [n, t] of [['alice', room.hostToken], ['bob', room.guestToken]]) {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (e) => console.log(n, 'pageerror:', e.message));
  await page.goto(`${server.url}/?room=${room.roomId}&token=${t}&name=${n}`);
  pages.push(page);
}
await new Promise(r => setTimeout(r, 3000));
await pages[0].getByTestId('filter-toggle').check();
for (let i = 0; i < 8; i++) { await new Promise(r => setTimeout(r, 1000));
  console.log(JSON.stringify(server.resources()));
  console.log(await pages[1].evaluate(() => JSON.stringify({s:(window as any).__pe.state, e:(window as any).__pe.errors, st:[...(window as any).__pe.stats.values()], tiles: [...(window as any).__pe.tiles.values()].map((t: any) => [t.peerId, t.processed, t.producerId])})));
  console.log(await pages[0].evaluate(() => JSON.stringify({e:(window as any).__pe.errors})));
}
await browser.close(); await server.close();
