/**
 * A small ONNX graph builder over onnx-proto's generated protobufjs classes (the ONNX
 * schema, encoded by protobufjs — no hand-written protobuf bytes). Weights go to sharded
 * external data through an ExternalDataWriter; graph constants (shapes, scalars) are inline.
 */
import onnxProto from 'onnx-proto';
import type { ExternalDataWriter } from './externalData';

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;
type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

export const DataType = onnx.TensorProto.DataType;
const AttributeType = onnx.AttributeProto.AttributeType;

/** ONNX IR version 8 (ONNX 1.10, what onnx-proto implements); opset 17 needs ≥ 8. */
export const IR_VERSION = 8;
export const OPSET = 17;
export const MICROSOFT_DOMAIN = 'com.microsoft';

export type AttributeValue = number | string | number[] | { float: number } | { floats: number[] };

function attribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'string') {
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value))
      throw new TypeError(`attribute ${name}: use { float } for ${value}`);
    return { name, type: AttributeType.INT, i: value };
  }
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.FLOATS, floats: value.floats };
}

export interface TensorType {
  elemType: number;
  /** Numbers are fixed sizes, strings symbolic (dynamic) ones. */
  shape: (number | string)[];
}

function valueInfo(name: string, t: TensorType): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: t.elemType,
        shape: {
          dim: t.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly domains = new Set<string>();
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, string>();
  private counter = 0;

  constructor(private readonly writer: ExternalDataWriter) {}

  /** A fresh value name `<hint>_<n>`. */
  fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph: value ${name} defined twice`);
    this.names.add(name);
    return name;
  }

  /** One node; returns its output names (`outputs` fixes them, else fresh ones). */
  node(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
    options: { outputs?: string[] | number; domain?: string; hint?: string } = {},
  ): string[] {
    const outputs =
      typeof options.outputs === 'object'
        ? options.outputs.map((o) => this.claim(o))
        : Array.from({ length: options.outputs ?? 1 }, () => this.fresh(options.hint ?? opType));
    const domain = options.domain ?? '';
    if (domain) this.domains.add(domain);
    this.nodes.push({
      opType,
      domain,
      name: `${opType}_${this.nodes.length}`,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** A single-output node. */
  op(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
    options: { output?: string; domain?: string; hint?: string } = {},
  ): string {
    return this.node(opType, inputs, attributes, {
      outputs: options.output ? [options.output] : 1,
      domain: options.domain,
      hint: options.hint,
    })[0];
  }

  /** An initializer whose bytes go to external data (the weights). */
  async external(
    name: string,
    dataType: number,
    dims: number[],
    bytes: Uint8Array,
  ): Promise<string> {
    this.claim(name);
    const where = await this.writer.add(name, bytes);
    this.initializers.push({
      name,
      dataType,
      dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: where.location },
        { key: 'offset', value: String(where.offset) },
        { key: 'length', value: String(where.length) },
      ],
    });
    return name;
  }

  /** An inline int64 constant (a list for shapes, a number for a rank-0 index), shared. */
  int64(values: number[] | number, hint = 'shape'): string {
    const list = typeof values === 'number' ? [values] : values;
    const key = `i64:${typeof values === 'number' ? 'scalar' : 'list'}:${list.join(',')}`;
    const cached = this.constants.get(key);
    if (cached) return cached;
    const name = this.fresh(hint);
    const bytes = new Uint8Array(list.length * 8);
    const view = new DataView(bytes.buffer);
    list.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    const dims = typeof values === 'number' ? [] : [list.length];
    this.initializers.push({ name, dataType: DataType.INT64, dims, rawData: bytes });
    this.constants.set(key, name);
    return name;
  }

  /** An inline f32 scalar constant. */
  scalar(value: number, hint = 'const'): string {
    const key = `f32:${Math.fround(value)}`;
    const cached = this.constants.get(key);
    if (cached) return cached;
    const name = this.fresh(hint);
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    this.initializers.push({ name, dataType: DataType.FLOAT, dims: [], rawData: bytes });
    this.constants.set(key, name);
    return name;
  }

  /** The serialized ModelProto. */
  encode(model: {
    graphName: string;
    inputs: [string, TensorType][];
    outputs: [string, TensorType][];
    metadata: Record<string, string>;
    producerVersion: string;
    docString?: string;
  }): Uint8Array {
    const opsetImport = [{ domain: '', version: OPSET }];
    for (const domain of this.domains) opsetImport.push({ domain, version: 1 });
    const proto = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport,
      producerName: 'aim-playground',
      producerVersion: model.producerVersion,
      docString: model.docString,
      graph: {
        name: model.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: model.inputs.map(([n, t]) => valueInfo(n, t)),
        output: model.outputs.map(([n, t]) => valueInfo(n, t)),
      },
      metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(proto).finish();
  }
}

export interface ModelSummary {
  irVersion: number;
  /** `domain:version`, the default domain as ''. */
  opsets: string[];
  inputs: { name: string; dims: (number | string)[] }[];
  outputs: { name: string; dims: (number | string)[] }[];
  nodes: { opType: string; domain: string; inputs: string[]; outputs: string[] }[];
  initializers: {
    name: string;
    dataType: number;
    dims: number[];
    /** Where the bytes are, for external data. */
    external?: { location: string; offset: number; length: number };
    inlineBytes: number;
  }[];
  metadata: Record<string, string>;
}

/**
 * Parses a serialized model into plain values (tests, and a loader's "is this an AIM model,
 * which shards does it need" check before anything large is fetched).
 */
export function summarizeModel(bytes: Uint8Array): ModelSummary {
  const m = onnx.ModelProto.decode(bytes);
  const graph: onnxProto.onnx.IGraphProto = m.graph ?? {};
  const dims = (v: ValueInfoProto) =>
    (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue ?? 0));
  return {
    irVersion: Number(m.irVersion),
    opsets: m.opsetImport.map((o) => `${o.domain ?? ''}:${Number(o.version)}`),
    inputs: (graph.input ?? []).map((v) => ({ name: v.name ?? '', dims: dims(v) })),
    outputs: (graph.output ?? []).map((v) => ({ name: v.name ?? '', dims: dims(v) })),
    nodes: (graph.node ?? []).map((n) => ({
      opType: n.opType ?? '',
      domain: n.domain ?? '',
      inputs: n.input ?? [],
      outputs: n.output ?? [],
    })),
    initializers: (graph.initializer ?? []).map((t) => {
      const ext = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
      return {
        name: t.name ?? '',
        dataType: t.dataType ?? 0,
        dims: (t.dims ?? []).map(Number),
        external:
          ext.location !== undefined && ext.location !== null
            ? {
                location: ext.location,
                offset: Number(ext.offset ?? 0),
                length: Number(ext.length),
              }
            : undefined,
        inlineBytes: t.rawData?.length ?? 0,
      };
    }),
    metadata: Object.fromEntries(m.metadataProps.map((p) => [p.key ?? '', p.value ?? ''])),
  };
}
