/** Draws an RGB image (uint8, row-major) on a canvas, scaled without smoothing. */
import { useEffect, useRef } from 'react';
import type { RgbImage } from '../../data/dataset';

export function RgbCanvas({
  image,
  size,
  label,
  testId,
}: {
  image: RgbImage;
  size: number;
  label: string;
  testId?: string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    const { width, height, data } = image;
    const pixels = new ImageData(width, height);
    for (let i = 0; i < width * height; i++) {
      pixels.data[4 * i] = data[3 * i];
      pixels.data[4 * i + 1] = data[3 * i + 1];
      pixels.data[4 * i + 2] = data[3 * i + 2];
      pixels.data[4 * i + 3] = 255;
    }
    const off = new OffscreenCanvas(width, height);
    off.getContext('2d')!.putImageData(pixels, 0, 0);
    const g = canvas.getContext('2d')!;
    g.imageSmoothingEnabled = false;
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.drawImage(off, 0, 0, canvas.width, canvas.height);
  }, [image]);
  const aspect = image.height / image.width;
  return (
    <canvas
      ref={ref}
      width={size}
      height={Math.round(size * aspect)}
      role="img"
      aria-label={label}
      data-testid={testId}
    />
  );
}
