import { describe, expect, it } from 'vitest';
import { diskModelLabel } from '../src/inference/modelSources';
import type { AimOnnxConfig } from '../src/onnx/checkpoint';

// Every export's main file is model.onnx: a model loaded from disk must be cached under a
// name that tells it apart from the others (issue 15, defect 12).
const config = { embedDim: 1536, numBlocks: 24 } as AimOnnxConfig;
const id = '0123456789abcdef0123456789abcdef';

describe('the cache label of a model picked from disk', () => {
  it('names the folder, what the model is and a short id', () => {
    expect(
      diskModelLabel(
        { name: 'model.onnx', webkitRelativePath: 'exports/aim-600M-int4/model.onnx' },
        { format: 'int4', config },
        id,
      ),
    ).toBe('aim-600M-int4/model.onnx · AIM 1536×24 int4 · 01234567');
  });

  it('tells two exports apart without a folder (files picked one by one)', () => {
    const a = diskModelLabel({ name: 'model.onnx' }, { format: 'fp32', config }, id);
    const b = diskModelLabel(
      { name: 'model.onnx', webkitRelativePath: '' },
      { format: 'fp16', config: undefined },
      'fedcba9876543210',
    );
    expect(a).toBe('model.onnx · AIM 1536×24 fp32 · 01234567');
    expect(b).toBe('model.onnx · AIM fp16 · fedcba98');
    expect(a).not.toBe(b);
  });
});
