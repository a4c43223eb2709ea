/**
 * A restricted unpickler for the pickle subset that PyTorch state dicts use (protocols 0–5),
 * in the spirit of `torch.load(weights_only=True)`: a pickle is a program, and one taken from
 * the internet may name any Python callable (`os.system`), so only the globals a state dict
 * needs are accepted and every other global is refused, by name, before anything runs:
 *
 *   collections.OrderedDict                    → a Map (its attributes from BUILD are ignored)
 *   torch._utils._rebuild_tensor_v2            → a TorchTensorRef (a view of a storage)
 *   torch._utils._rebuild_parameter(_with_state) → the tensor inside the Parameter
 *   torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage
 *                                              → only as the dtype inside a persistent id
 *
 * Tensor bytes are not in the pickle: a persistent id ('storage', StorageType, key, location,
 * numel) names an archive entry `<prefix>/data/<key>`, read later by range (torchZip.ts).
 * Values: None → null, bool, int → number (bigint beyond 2^53), float, str, bytes →
 * Uint8Array, tuple/list → array, dict → Map.
 */

export class PickleError extends Error {
  override readonly name = 'PickleError';
}

export type TorchDType =
  'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const TORCH_DTYPE_BYTES: Record<TorchDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

const STORAGE_TYPES: Record<string, TorchDType> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** A storage named by a persistent id: archive entry `data/<key>`, `numel` elements of `dtype`. */
export interface TorchStorageRef {
  kind: 'storage';
  key: string;
  dtype: TorchDType;
  numel: number;
  location: string;
}

/** A tensor: a strided view (element offsets and strides) of a storage. */
export interface TorchTensorRef {
  kind: 'tensor';
  storage: TorchStorageRef;
  storageOffset: number;
  shape: number[];
  stride: number[];
}

/** A global the unpickler allowed; only REDUCE or a persistent id can use it. */
class AllowedGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

const REDUCIBLE = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
]);

function isAllowedGlobal(module: string, name: string): boolean {
  return REDUCIBLE.has(`${module}.${name}`) || (module === 'torch' && name in STORAGE_TYPES);
}

const MARK = Symbol('mark');

const ALLOWED_LIST =
  'collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.*Storage';

/** Unpickles `bytes` with the allow-list above; throws PickleError on anything else. */
export function restrictedUnpickle(bytes: Uint8Array, label = 'pickle'): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const fail = (msg: string): never => {
    throw new PickleError(`${label}: ${msg} (at byte ${pos})`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.byteLength) fail(`truncated: ${n} more bytes expected`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is implausible`);
    return Number(v);
  };
  const take = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const text = (n: number) => {
    try {
      return utf8.decode(take(n));
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('truncated: newline expected');
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop();
    if (v === MARK) fail('unexpected mark');
    return v;
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('no mark on the stack');
    const items = stack.splice(m as number);
    items.shift(); // the MARK itself
    return items;
  };
  const top = () => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const pushGlobal = (module: string, name: string) => {
    if (!isAllowedGlobal(module, name)) {
      fail(
        `refusing global "${module}.${name}": a PyTorch state dict needs only ${ALLOWED_LIST}; this file may be malicious or is not a plain state dict`,
      );
    }
    stack.push(new AllowedGlobal(module, name));
  };
  const asMap = (v: unknown, op: string): Map<unknown, unknown> => {
    if (!(v instanceof Map)) fail(`${op} on a ${describe(v)}, not a dict`);
    return v as Map<unknown, unknown>;
  };
  const asList = (v: unknown, op: string): unknown[] => {
    if (!Array.isArray(v)) fail(`${op} on a ${describe(v)}, not a list`);
    return v as unknown[];
  };
  const signedLE = (b: Uint8Array): number | bigint => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        stack.push(MARK);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(signedLE(take(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(signedLE(take(u32())));
        break;
      case 0x49: {
        // INT (protocol 0): "01"/"00" are True/False
        const s = line();
        if (s === '01' || s === '00') stack.push(s === '01');
        else {
          const v = Number(s);
          if (!Number.isSafeInteger(v)) fail(`bad INT ${JSON.stringify(s)}`);
          stack.push(v);
        }
        break;
      }
      case 0x4c: {
        // LONG (protocol 0)
        const s = line().replace(/L$/, '');
        if (!/^-?\d+$/.test(s)) fail(`bad LONG ${JSON.stringify(s)}`);
        const v = BigInt(s);
        stack.push(
          v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
            ? Number(v)
            : v,
        );
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(new TextDecoder('latin1').decode(take(u32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(new TextDecoder('latin1').decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        asList(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        asList(top(), 'APPENDS').push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const m = new Map<unknown, unknown>();
        for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i], items[i + 1]);
        stack.push(m);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        asMap(top(), 'SETITEM').set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('SETITEMS with an odd number of values');
        const m = asMap(top(), 'SETITEMS');
        for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        pushGlobal(module, name);
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          fail('STACK_GLOBAL needs two strings');
        pushGlobal(module as string, name as string);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        stack.push(reduce(callable, args, fail));
        break;
      }
      case 0x62: {
        // BUILD: object state. OrderedDict's `_metadata` (module versions) is all a state dict has.
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map) || !(state instanceof Map || state === null)) {
          fail(`BUILD on a ${describe(obj)} is not part of a state dict`);
        }
        break;
      }
      case 0x51: {
        // BINPERSID
        stack.push(persistentStorage(pop(), fail));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo key ${key} is not defined`);
        stack.push(memo.get(key));
        break;
      }
      default:
        pos = at;
        fail(
          `unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} (${JSON.stringify(String.fromCharCode(op))}); not a plain PyTorch state dict`,
        );
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof Map) return 'dict';
  if (Array.isArray(v)) return 'tuple/list';
  if (v instanceof AllowedGlobal) return `global ${v.qualified}`;
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object' && v !== null && 'kind' in v)
    return String((v as { kind: string }).kind);
  return typeof v;
}

function isNonNegativeIntList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);
}

function persistentStorage(pid: unknown, fail: (msg: string) => never): TorchStorageRef {
  // ('storage', torch.FloatStorage, key, location, numel)
  if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
    fail(`persistent id ${describe(pid)} is not a ('storage', type, key, location, numel) tuple`);
  }
  const [, type, key, location, numel] = pid as unknown[];
  if (
    !(type instanceof AllowedGlobal) ||
    type.module !== 'torch' ||
    !(type.name in STORAGE_TYPES)
  ) {
    fail(`persistent id names ${describe(type)}, not a torch storage type`);
  }
  if (typeof key !== 'string' || !/^[\w.-]+$/.test(key))
    fail(`storage key ${String(key)} is not a plain name`);
  if (!Number.isSafeInteger(numel) || (numel as number) < 0)
    fail(`storage size ${String(numel)} is invalid`);
  return {
    kind: 'storage',
    key: key as string,
    dtype: STORAGE_TYPES[(type as AllowedGlobal).name],
    numel: numel as number,
    location: typeof location === 'string' ? location : String(location),
  };
}

function isTensor(v: unknown): v is TorchTensorRef {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'tensor';
}

function reduce(callable: unknown, args: unknown, fail: (msg: string) => never): unknown {
  if (!(callable instanceof AllowedGlobal) || !REDUCIBLE.has(callable.qualified)) {
    fail(`REDUCE on ${describe(callable)}: only ${[...REDUCIBLE].join(', ')} may be called`);
  }
  if (!Array.isArray(args)) fail(`REDUCE arguments are a ${describe(args)}, not a tuple`);
  const a = args as unknown[];
  switch ((callable as AllowedGlobal).qualified) {
    case 'collections.OrderedDict': {
      const m = new Map<unknown, unknown>();
      if (a.length === 1 && Array.isArray(a[0])) {
        for (const pair of a[0] as unknown[]) {
          if (!Array.isArray(pair) || pair.length !== 2) fail('OrderedDict items are not pairs');
          m.set((pair as unknown[])[0], (pair as unknown[])[1]);
        }
      } else if (a.length !== 0) fail('OrderedDict called with unexpected arguments');
      return m;
    }
    case 'torch._utils._rebuild_tensor_v2': {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, shape, stride] = a;
      if (a.length < 6 || a.length > 7) fail(`_rebuild_tensor_v2 with ${a.length} arguments`);
      if (
        typeof storage !== 'object' ||
        storage === null ||
        (storage as TorchStorageRef).kind !== 'storage'
      ) {
        fail(`_rebuild_tensor_v2 on a ${describe(storage)}, not a storage`);
      }
      if (!Number.isSafeInteger(offset) || (offset as number) < 0) fail('bad storage offset');
      if (
        !isNonNegativeIntList(shape) ||
        !isNonNegativeIntList(stride) ||
        shape.length !== stride.length
      ) {
        fail('tensor size and stride must be equal-length lists of non-negative integers');
      }
      const s = storage as TorchStorageRef;
      const sh = shape as number[];
      const st = stride as number[];
      // The view must stay inside its storage.
      const numel = sh.reduce((x, y) => x * y, 1);
      const last =
        numel === 0 ? 0 : sh.reduce((acc, d, i) => acc + (d - 1) * st[i], offset as number) + 1;
      if (last > s.numel) fail(`tensor view ends at element ${last}, its storage has ${s.numel}`);
      return { kind: 'tensor', storage: s, storageOffset: offset as number, shape: sh, stride: st };
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state': {
      if (!isTensor(a[0])) fail(`Parameter wraps a ${describe(a[0])}, not a tensor`);
      return a[0];
    }
    default:
      return fail(`REDUCE on ${describe(callable)}`);
  }
}
