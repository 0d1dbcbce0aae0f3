import { createServer } from 'node:net';

/** A loopback port that is free now (for servers that cannot report the port they picked). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** A port someone else holds: says which setting moves this one elsewhere. */
export class PortInUseError extends Error {
  constructor(port: number, variable: string) {
    super(`Port ${port} is already in use: stop what is using it, or set ${variable} to another port.`);
    this.name = 'PortInUseError';
  }
}

/** `error` as a PortInUseError when it is EADDRINUSE; otherwise unchanged. */
export function portError(error: NodeJS.ErrnoException, port: number, variable: string): Error {
  return error.code === 'EADDRINUSE' ? new PortInUseError(port, variable) : error;
}
