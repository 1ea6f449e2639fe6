import dgram from 'node:dgram';

/**
 * Finds a free even/odd UDP port pair (RTP, RTCP) for an ffmpeg decoder. Ports are probed by
 * binding, then released for ffmpeg; pairs handed out are remembered until freed so two
 * pipelines starting at once never get the same pair.
 */
export class PortAllocator {
  private inUse = new Set<number>();
  private next: number;

  constructor(private readonly min: number, private readonly max: number) {
    if (min % 2) min++;
    this.next = min;
  }

  async allocatePair(): Promise<number> {
    const span = Math.floor((this.max - this.min) / 2);
    for (let tries = 0; tries < Math.min(span, 200); tries++) {
      const port = this.next;
      this.next += 2;
      if (this.next + 1 > this.max) this.next = this.min + (this.min % 2);
      if (this.inUse.has(port)) continue;
      if ((await canBind(port)) && (await canBind(port + 1))) {
        this.inUse.add(port);
        return port;
      }
    }
    throw new Error('no free UDP port pair for the filter decoder');
  }

  release(port: number): void {
    this.inUse.delete(port);
  }

  get allocated(): number {
    return this.inUse.size;
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
