/** Where the ml-aim fixtures live: the verbatim copy in test/fixtures (see its README). */
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = fileURLToPath(new URL('./fixtures/aim-v1-tiny-public', import.meta.url));

/** The project's shared/ copy beside the repository, present in CI and on developer machines. */
export const SHARED_FIXTURE_DIR = fileURLToPath(
  new URL('../../shared/fixtures/aim-v1-tiny-public', import.meta.url),
);
