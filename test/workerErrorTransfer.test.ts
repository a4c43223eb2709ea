import { MessageChannel } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { describe, expect, it } from 'vitest';
import { registerErrorTransfer } from '../src/worker/errorTransfer';
import { serializeError } from '../src/worker/protocol';

// Both workers throw; the page's promise must reject with the same name, message and remedy
// (what the user can do), which comlink's own "throw" handler would drop.
class RemedyError extends Error {
  override name = 'RemedyError';
  constructor(
    message: string,
    readonly remedy: string,
  ) {
    super(message);
  }
}

const api = {
  fail(): number {
    throw new RemedyError('the adapter is gone', 'Reload the page.');
  },
  failPlain(): number {
    throw new Error('no remedy here');
  },
  ok: () => 42,
};

function connect() {
  registerErrorTransfer();
  const { port1, port2 } = new MessageChannel();
  Comlink.expose(api, port1 as unknown as Comlink.Endpoint);
  const remote = Comlink.wrap<typeof api>(port2 as unknown as Comlink.Endpoint);
  return { remote, close: () => (port1.close(), port2.close()) };
}

describe('worker error transfer', () => {
  it('carries name, message and remedy across comlink', async () => {
    const { remote, close } = connect();
    try {
      const error = await remote.fail().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect(serializeError(error)).toEqual({
        name: 'RemedyError',
        message: 'the adapter is gone',
        remedy: 'Reload the page.',
      });
      await expect(remote.failPlain()).rejects.toThrow('no remedy here');
      const plain = await remote.failPlain().catch((e: unknown) => e);
      expect(serializeError(plain).remedy).toBeUndefined();
      expect(await remote.ok()).toBe(42);
    } finally {
      close();
    }
  });
});
