import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// Kernel tests run real WGSL through Dawn for Node. On a machine without a GPU driver,
// Chromium's SwiftShader Vulkan ICD is the adapter (scripts/test.mjs installs Chromium).
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const env: Record<string, string> = {};
if (
  !process.env.VK_ICD_FILENAMES &&
  !process.env.AIM_USE_SYSTEM_VULKAN &&
  existsSync(SWIFTSHADER_ICD)
) {
  env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
}

const TEST_DIRS = ['test', 'src'];
const TEST_GLOBS = TEST_DIRS.map((dir) => `${dir}/**/*.test.ts`);

// A test file is a GPU file if it opens the shared Dawn device (imports test/gpuContext.ts)
// or the `webgpu` package itself — decided by what it imports, so a new kernel test lands in
// the right project without being listed here.
const IMPORTS_WEBGPU = /from '(?:\.\.?\/)+(?:test\/)?gpuContext'|from 'webgpu'/;
// These reach WebGPU without importing it: onnxruntime-node's WebGPU execution provider, and
// the train CLI (Dawn in a child process).
const INDIRECT_GPU_FILES = [
  'test/onnxWebgpu.test.ts',
  'test/trainCli.test.ts',
  'test/probeCli.test.ts',
];

function gpuTestFiles(): string[] {
  for (const file of INDIRECT_GPU_FILES) {
    if (!existsSync(file)) throw new Error(`vitest.config.ts lists ${file}, which is gone`);
  }
  const files = TEST_DIRS.flatMap((dir) =>
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.test.ts'))
      .map((name) => `${dir}/${name.replaceAll('\\', '/')}`),
  );
  return files.filter(
    (file) => INDIRECT_GPU_FILES.includes(file) || IMPORTS_WEBGPU.test(readFileSync(file, 'utf8')),
  );
}
const GPU_FILES = gpuTestFiles();

/**
 * GPU files first, and of those first the ones that open their own device: they cannot reuse
 * the shared device's pipelines and are the longest (the train CLI compiles every pipeline in
 * a child process), so they start while the other worker goes through the shared-device files.
 * The short CPU files fill in at the end. Within each group, Vitest's order (longest first
 * once it has timings, else largest first) is kept.
 */
class GpuFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      if (file.project.name !== 'gpu') return 2;
      return INDIRECT_GPU_FILES.some((path) => file.moduleId.endsWith(`/${path}`)) ? 0 : 1;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

// What both projects share. The worker limit stays at the root (not here), so that
// `--maxWorkers` on the command line still applies to both projects.
const common = {
  environment: 'node',
  env,
  // SwiftShader is slow and CI has two cores: generous limits, so only a real hang fails.
  testTimeout: 300_000,
  hookTimeout: 120_000,
} as const;

export default defineConfig({
  test: {
    // Two at a time: the CI machine has two cores. Both projects share this limit, so they
    // run side by side (Vitest runs projects with different limits one after the other).
    maxWorkers: 2,
    sequence: { sequencer: GpuFilesFirst },
    projects: [
      {
        // Never touches WebGPU: each file in its own forked process, as before.
        test: { ...common, name: 'cpu', include: TEST_GLOBS, exclude: GPU_FILES, pool: 'forks' },
      },
      {
        // One Dawn device per process (test/gpuContext.ts), and the pipelines its kernel
        // registry compiled stay with it: without isolation, a worker keeps its modules from
        // one file to the next, so a file reuses what earlier files in that worker compiled
        // instead of recompiling every pipeline (the compile dominates on SwiftShader).
        test: { ...common, name: 'gpu', include: GPU_FILES, pool: 'forks', isolate: false },
      },
    ],
  },
});
