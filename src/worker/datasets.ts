/**
 * The datasets a run can train on, loaded inside the worker: the embedded Fashion-MNIST
 * subset (served from public/), the procedural colour set, and user data (an image folder,
 * a .zip of images or CIFAR-10 binary) decoded here, off the main thread.
 */
import { loadCifar10 } from '../data/cifar';
import { fromFashionMnist, type ImageDataset } from '../data/dataset';
import { browserImageDecoder } from '../data/decodeBrowser';
import { fetchDatasetFile, loadFashionMnist } from '../data/fashionMnist';
import { loadImageFolder } from '../data/folderImages';
import { makeProceduralDataset } from '../data/procedural';
import { loadImageZip } from '../data/zipImages';
import type { DatasetChoice, DatasetSummary, UserDataInput } from './protocol';

export class DatasetRegistry {
  private readonly cache = new Map<string, Promise<ImageDataset>>();
  private userCount = 0;

  constructor(private readonly baseUrl: string) {}

  get(choice: DatasetChoice): Promise<ImageDataset> {
    const key =
      choice.kind === 'procedural'
        ? `procedural-${choice.size ?? 32}`
        : choice.kind === 'user'
          ? choice.id
          : choice.kind;
    let dataset = this.cache.get(key);
    if (!dataset) {
      if (choice.kind === 'user')
        return Promise.reject(new Error(`no user dataset "${choice.id}" is loaded`));
      dataset =
        choice.kind === 'fashion-mnist'
          ? loadFashionMnist(fetchDatasetFile(this.baseUrl)).then(fromFashionMnist)
          : Promise.resolve(
              makeProceduralDataset({
                size: choice.size ?? 32,
                trainCount: 4000,
                valCount: 512,
                seed: 1,
              }),
            );
      this.cache.set(key, dataset);
      dataset.catch(() => this.cache.delete(key));
    }
    return dataset;
  }

  /** Decodes user files into a dataset; bad files are skipped and listed in the report. */
  async loadUser(
    input: UserDataInput,
    onProgress?: (done: number, total: number) => void,
  ): Promise<DatasetSummary> {
    const decode = browserImageDecoder();
    const dataset =
      input.kind === 'cifar'
        ? await loadCifar10(input.files.map((f) => ({ name: f.path, bytes: f.bytes })))
        : input.kind === 'zip'
          ? await loadImageZip(input.files[0].bytes, {
              decode,
              storeSize: input.storeSize,
              onProgress,
              name: input.files[0].path,
            })
          : await loadImageFolder(input.files, { decode, storeSize: input.storeSize, onProgress });
    const id = `user-${++this.userCount}`;
    this.cache.set(id, Promise.resolve(dataset));
    return summarize(id, dataset);
  }
}

export function summarize(id: string, d: ImageDataset): DatasetSummary {
  return {
    id,
    name: d.name,
    classes: d.classes,
    train: d.train.count,
    val: d.val.count,
    report: d.report,
  };
}
