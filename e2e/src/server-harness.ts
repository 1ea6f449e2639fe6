import { startServer, type RunningServer } from '@portrait-edit/server';

export interface TestRoom {
  roomId: string;
  hostToken: string;
  guestToken: string;
}

/** The real server on a free port, with the test effect and the resource endpoint on. */
export async function startTestServer(processor = 'test-invert', extra: Record<string, unknown> = {}): Promise<RunningServer> {
  return startServer({ port: 0, processor, debugEndpoints: true, ...extra });
}

export async function createRoom(baseUrl: string): Promise<TestRoom> {
  const res = await fetch(`${baseUrl}/api/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  if (res.status !== 201) throw new Error(`room creation failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as TestRoom;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
