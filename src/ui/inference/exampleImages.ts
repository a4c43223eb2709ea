/**
 * The example photos shipped in public/examples/ (made by scripts/make-examples.mjs from
 * Debian's python3-skimage; their licences are in public/examples/README.md). The page shows
 * each with its credit; a click classifies it through the same path as a dropped image.
 */

export interface ExampleImage {
  /** File name under public/examples/. */
  file: string;
  title: string;
  /** Author and licence, shown under the photo. */
  credit: string;
}

export const EXAMPLE_IMAGES: readonly ExampleImage[] = [
  { file: 'cat.jpg', title: 'Chelsea the cat', credit: 'Stefan van der Walt · CC0' },
  { file: 'coffee.jpg', title: 'Coffee cup', credit: 'Rachel Michetti · CC0' },
  { file: 'astronaut.jpg', title: 'Astronaut Eileen Collins', credit: 'NASA · public domain' },
  { file: 'rocket.jpg', title: 'Falcon 9 launching DSCOVR', credit: 'SpaceX · public domain' },
  { file: 'hubble.jpg', title: 'Hubble eXtreme Deep Field', credit: 'NASA · public domain' },
];

/** The photo's address, under the app's base path (the build may be served from a folder). */
export function exampleUrl(example: ExampleImage): string {
  return new URL(`examples/${example.file}`, new URL(import.meta.env.BASE_URL, location.href)).href;
}

/** The photo's bytes, to classify as a file would be. */
export async function fetchExample(example: ExampleImage): Promise<Blob> {
  const response = await fetch(exampleUrl(example));
  if (!response.ok)
    throw new Error(
      `the example photo ${example.file} could not be read (HTTP ${response.status})`,
    );
  return response.blob();
}
