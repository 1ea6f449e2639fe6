import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientRequest, ServerEvents } from '@portrait-edit/shared';

export class SignallingError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** socket.io connection to the room; `request` resolves with the server's data or throws. */
export class Signalling {
  readonly socket: Socket<ServerEvents>;

  constructor(token: string) {
    this.socket = io({ auth: { token }, transports: ['websocket'], reconnection: false });
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.connected) return resolve();
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', (err) => {
        const [code, ...rest] = err.message.split(': ');
        reject(new SignallingError(rest.length ? code : 'CONNECT', rest.length ? rest.join(': ') : err.message));
      });
    });
  }

  request<T = unknown>(msg: ClientRequest, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new SignallingError('TIMEOUT', `${msg.type} timed out`)), timeoutMs);
      (this.socket as unknown as Socket).emit('request', msg, (res: Ack<T>) => {
        clearTimeout(timer);
        if (res.ok) resolve(res.data);
        else reject(new SignallingError(res.error.code, res.error.message));
      });
    });
  }

  close(): void {
    this.socket.close();
  }
}
