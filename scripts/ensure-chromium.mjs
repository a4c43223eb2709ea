// Finds (or installs) what the tests need outside npm: Chromium for the browser tests, and
// a Vulkan loader + SwiftShader ICD so Dawn for Node has an adapter on a machine without a GPU.
// Returns the environment the test processes should run with.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function hasAptGet() {
  return spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
}

function aptInstall(packages) {
  console.log(`[ensure] installing ${packages.join(' ')} with apt-get …`);
  execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function systemHasVulkanLoader() {
  const out = spawnSync('sh', ['-c', 'ldconfig -p 2>/dev/null | grep -q "libvulkan.so.1"']);
  return out.status === 0;
}

function fail(message) {
  console.error(`\n[ensure] ${message}\n`);
  process.exit(1);
}

export function ensureTestEnvironment() {
  const env = {};
  let chrome = process.env.CHROME_PATH;
  if (chrome) {
    if (!executable(chrome)) fail(`CHROME_PATH=${chrome} is not an executable file.`);
  } else {
    chrome = CANDIDATES.find(executable);
  }
  const needApt = [];
  if (!chrome) needApt.push('chromium');
  if (!systemHasVulkanLoader()) needApt.push('libvulkan1');
  if (needApt.length > 0 && isRoot() && hasAptGet()) {
    aptInstall(needApt);
    chrome ??= CANDIDATES.find(executable);
  }
  if (!chrome) {
    fail(
      'Chromium was not found, and it could not be installed automatically (that needs root and apt-get).\n' +
        'Install it with:   sudo apt-get install -y chromium libvulkan1\n' +
        'or point CHROME_PATH at a Chromium/Chrome binary.',
    );
  }
  env.CHROME_PATH = chrome;

  // SwiftShader's Vulkan ICD ships beside the Chromium binary (Debian: /usr/lib/chromium).
  const chromeDir = dirname(realpathSync(chrome));
  const icd = [
    join(chromeDir, 'vk_swiftshader_icd.json'),
    '/usr/lib/chromium/vk_swiftshader_icd.json',
  ].find(existsSync);
  if (!process.env.VK_ICD_FILENAMES && !process.env.AIM_USE_SYSTEM_VULKAN) {
    if (!icd)
      fail(
        `No SwiftShader Vulkan ICD next to ${chrome}; set VK_ICD_FILENAMES or AIM_USE_SYSTEM_VULKAN=1.`,
      );
    env.VK_ICD_FILENAMES = icd;
  }
  // Without a system Vulkan loader (non-root machine), use the one Chromium ships.
  if (!systemHasVulkanLoader() && icd && existsSync(join(dirname(icd), 'libvulkan.so.1'))) {
    env.LD_LIBRARY_PATH = [dirname(icd), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  }
  console.log(`[ensure] Chromium: ${chrome}`);
  if (env.VK_ICD_FILENAMES)
    console.log(`[ensure] Vulkan ICD for Dawn (Node): ${env.VK_ICD_FILENAMES}`);
  return env;
}

if (import.meta.url === `file://${process.argv[1]}`) ensureTestEnvironment();
