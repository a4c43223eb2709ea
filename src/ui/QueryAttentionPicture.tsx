/** The query-attention view's second picture: the image alone, as the model saw it. */
import { useEffect, useRef } from 'react';
import { GRID, drawPictureWithQuery } from './queryAttentionDrawing';
import type { QueryAttentionResult } from './queryAttentionStore';

/** The picture alone, as the model saw it, with the query outlined (beside the map). */
export function PictureCanvas(props: {
  picture: QueryAttentionResult['picture'];
  side: number;
  queryPatch: number;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    const ratio = window.devicePixelRatio || 1;
    [c.width, c.height] = [Math.round(GRID * ratio), Math.round(GRID * ratio)];
    const g = c.getContext('2d')!;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    drawPictureWithQuery(g, props.picture, props.side, props.queryPatch);
  }, [props.picture, props.side, props.queryPatch]);
  return (
    <canvas
      ref={ref}
      style={{ width: GRID, height: GRID, display: 'block' }}
      role="img"
      aria-label="The validation image as the model saw it, the query outlined"
      data-testid="query-attention-picture"
    />
  );
}
