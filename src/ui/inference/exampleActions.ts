/**
 * Classifying an example photo: its bytes go through the inference store's classify action,
 * the same path (worker, decoding, ml-aim's preprocessing) as a dropped image.
 */
import { serializeError } from '../../worker/protocol';
import { useInference } from '../inferenceStore';
import { EXAMPLE_IMAGES, fetchExample } from './exampleImages';
import { usePresenter } from './presenterStore';

export async function classifyExample(index: number): Promise<void> {
  const example = EXAMPLE_IMAGES[index];
  if (!example) throw new RangeError(`there is no example photo ${index}`);
  usePresenter.getState().choose(index);
  let image: Blob;
  try {
    image = await fetchExample(example);
  } catch (error) {
    useInference.setState({ classifyError: serializeError(error) });
    return;
  }
  await useInference.getState().classify(image, example.title);
}
