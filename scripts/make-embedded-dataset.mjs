// Builds the embedded default dataset shipped in public/datasets/fashion-mnist/ from
// Debian's `dataset-fashion-mnist` package (the original Zalando files, MIT licence):
// the first 10,000 training images as `train`, the first 2,000 test images as `val`,
// in the original IDX format, gzipped. Run once; the output is committed (≈ 5 MB), so the
// playground needs no download at run time.
//   apt-get install dataset-fashion-mnist   (or: apt-get download + dpkg -x)
//   node scripts/make-embedded-dataset.mjs [/usr/share/datasets/fashion-mnist]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const out = 'public/datasets/fashion-mnist';
mkdirSync(out, { recursive: true });

function subset(file, count, headerBytes, itemBytes) {
  const raw = gunzipSync(readFileSync(join(source, file)));
  const copy = Buffer.from(raw.subarray(0, headerBytes + count * itemBytes));
  copy.writeUInt32BE(count, 4); // the item count follows the 4-byte magic in every IDX file
  return gzipSync(copy, { level: 9 });
}

const splits = [
  ['train', 'train', 10000],
  ['val', 't10k', 2000],
];
for (const [name, prefix, count] of splits) {
  writeFileSync(
    join(out, `${name}-images-idx3-ubyte.gz`),
    subset(`${prefix}-images-idx3-ubyte.gz`, count, 16, 28 * 28),
  );
  writeFileSync(
    join(out, `${name}-labels-idx1-ubyte.gz`),
    subset(`${prefix}-labels-idx1-ubyte.gz`, count, 8, 1),
  );
}
console.log(`wrote ${out}`);
