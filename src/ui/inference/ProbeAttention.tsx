/**
 * The attentive probe's attention over the image (from our WGSL engine: onnxruntime's graph
 * outputs only logits and features). ml-aim's probe pools with one query, the cls token, so
 * there is one map per head: the mean over the heads by default, or one head. Clicking a
 * patch chooses it: the page says its weight, and the map turns into that patch's feature
 * similarity to every patch (cosine) until "Back to the attention". PNG export as shown.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { EngineComparison } from '../../inference/protocol';
import { downloadBlob, fileSafe } from '../download';
import { attentionMap, mapRange, overlayPixels, patchSimilarity } from './ProbeAttentionMap';

const SIZE = 224;

export function ProbeAttention({ comparison }: { comparison: EngineComparison }) {
  const { attention, features, grid, input } = comparison;
  const [head, setHead] = useState<number | 'mean'>('mean');
  // The chosen patch belongs to the comparison it was chosen on: a new image starts afresh.
  const [chosen, choosePatch] = useState<{ on: EngineComparison; patch: number }>();
  const picked = chosen?.on === comparison ? chosen.patch : undefined;
  const setPatch = (p: number | undefined) =>
    choosePatch(p === undefined ? undefined : { on: comparison, patch: p });
  // Without a probe there is no attention: the similarity of the centre patch to start with.
  const centre = Math.floor(grid.rows / 2) * grid.cols + Math.floor(grid.cols / 2);
  const patch = picked ?? (attention ? undefined : centre);
  const canvas = useRef<HTMLCanvasElement>(null);
  const weights = useMemo(
    () => (attention ? attentionMap(attention.weights, attention.heads, head) : undefined),
    [attention, head],
  );
  const similarity = useMemo(
    () =>
      patch !== undefined && features ? patchSimilarity(features, grid.dim, patch) : undefined,
    [features, grid.dim, patch],
  );
  const shown = similarity ?? weights;
  useEffect(() => {
    const c = canvas.current;
    if (!c || !shown) return;
    const scale = Math.max(1, Math.floor(SIZE / input.width));
    const pixels = overlayPixels(input, shown, grid, { scale, marked: patch });
    c.width = pixels.width;
    c.height = pixels.height;
    c.getContext('2d')!.putImageData(new ImageData(pixels.data, pixels.width), 0, 0);
  }, [shown, input, grid, patch]);
  if (!attention && !features) return null;

  const choose = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const box = e.currentTarget.getBoundingClientRect();
    const col = Math.floor(((e.clientX - box.left) / box.width) * grid.cols);
    const row = Math.floor(((e.clientY - box.top) / box.height) * grid.rows);
    if (row < 0 || col < 0 || row >= grid.rows || col >= grid.cols) return;
    setPatch(row * grid.cols + col);
  };
  const range = shown ? mapRange(shown) : undefined;
  const what =
    similarity !== undefined
      ? `Feature similarity (cosine) of patch row ${Math.floor(patch! / grid.cols) + 1}, column ${(patch! % grid.cols) + 1} with every patch`
      : `The probe’s attention over the ${grid.rows}×${grid.cols} patches, ${head === 'mean' ? `mean of its ${attention?.heads} heads` : `head ${head + 1}`}`;
  const save = () =>
    canvas.current?.toBlob((blob) => {
      if (blob)
        downloadBlob(
          `${fileSafe(`${comparison.image} ${similarity ? `similarity patch ${patch}` : `attention ${head}`}`)}.png`,
          blob,
        );
    }, 'image/png');

  return (
    <figure className="probe-attention" data-testid="probe-attention">
      <canvas
        ref={canvas}
        role="img"
        aria-label={what}
        data-testid="probe-attention-canvas"
        data-mode={similarity ? 'similarity' : 'attention'}
        style={{ width: SIZE, maxWidth: '100%', cursor: 'crosshair', imageRendering: 'pixelated' }}
        onClick={choose}
      />
      <figcaption>
        <span data-testid="probe-attention-caption">{what}</span>
        {range && (
          <span className="muted small">
            {' '}
            (dark {range.min.toPrecision(3)} → yellow {range.max.toPrecision(3)})
          </span>
        )}
        {patch !== undefined && weights && (
          <span data-testid="probe-attention-patch">
            . Its attention weight: {(100 * weights[patch]).toFixed(2)} % (uniform would be{' '}
            {(100 / weights.length).toFixed(2)} %).
          </span>
        )}
        <span className="probe-attention-controls">
          {attention && !similarity && (
            <label>
              Head{' '}
              <select
                value={head}
                onChange={(e) =>
                  setHead(e.target.value === 'mean' ? 'mean' : Number(e.target.value))
                }
                data-testid="probe-attention-head"
              >
                <option value="mean">mean of heads</option>
                {Array.from({ length: attention.heads }, (_, h) => (
                  <option key={h} value={h}>
                    head {h + 1}
                  </option>
                ))}
              </select>
            </label>
          )}
          {similarity && attention && (
            <button type="button" className="secondary small" onClick={() => setPatch(undefined)}>
              Back to the attention
            </button>
          )}
          <button type="button" className="secondary small" onClick={save}>
            PNG
          </button>
        </span>
        <span className="muted small">
          {' '}
          Click a patch to choose it: ml-aim’s probe has one query (its cls token), so each head has
          one map; a chosen patch shows its weight and which patches its feature resembles.
        </span>
      </figcaption>
    </figure>
  );
}
