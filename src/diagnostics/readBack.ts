/** The browser kernel cases' last step: read outputs back as plain arrays, free every tensor. */
import type { Tensor } from '../gpu/tensor';

/** Each named output as a plain array (structured-cloneable), then every tensor in `free` freed. */
export async function readBackAndFree<K extends string>(
  outputs: Record<K, Tensor>,
  free: readonly Tensor[],
): Promise<Record<K, number[]>> {
  const result = {} as Record<K, number[]>;
  try {
    for (const key of Object.keys(outputs) as K[])
      result[key] = Array.from(await outputs[key].download());
  } finally {
    for (const t of free) t.destroy();
  }
  return result;
}
