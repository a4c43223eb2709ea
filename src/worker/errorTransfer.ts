/**
 * One error convention for both workers: an API method throws, and the caller's promise
 * rejects with an Error carrying the same name, message and `remedy` (what the user can do).
 * comlink's own "throw" handler sends only name, message and stack; this one adds `remedy`.
 * Both sides register it: the workers (errors of API calls) and the page (errors thrown by
 * the page's callbacks that a worker calls, e.g. progress listeners).
 */
import * as Comlink from 'comlink';

type ThrownWire = { isError: boolean; value: unknown };
type ThrowHandler = Comlink.TransferHandler<{ value: unknown }, ThrownWire>;

let registered = false;

export function registerErrorTransfer(): void {
  if (registered) return;
  registered = true;
  const builtin = Comlink.transferHandlers.get('throw') as ThrowHandler | undefined;
  if (!builtin) throw new Error('comlink has no "throw" transfer handler to extend');
  const withRemedy: ThrowHandler = {
    canHandle: (value): value is { value: unknown } => builtin.canHandle(value),
    serialize(thrown) {
      const [wire, transferables] = builtin.serialize(thrown);
      const remedy = (thrown.value as { remedy?: unknown } | null)?.remedy;
      if (wire.isError && typeof remedy === 'string')
        wire.value = { ...(wire.value as object), remedy };
      return [wire, transferables];
    },
    // comlink's deserialize copies every field of the wire value onto the new Error.
    deserialize: (wire) => builtin.deserialize(wire),
  };
  Comlink.transferHandlers.set('throw', withRemedy as Comlink.TransferHandler<unknown, unknown>);
}
