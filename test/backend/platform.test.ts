/**
 * The platform module (src/backend/platform/): the Node entry point installs
 * the Node platform, the portable default needs nothing from its host, and
 * scripts/check-cycles.mjs (run by `npm test`) rejects Node-specific code
 * outside src/backend/platform/node.ts.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as gg from '../../src/index.js';
import { platform, portablePlatform, setPlatform } from '../../src/backend/platform/platform.js';
import { nodePlatform } from '../../src/backend/platform/node.js';

describe('backend platform', () => {
  afterEach(() => setPlatform(nodePlatform));

  it('the Node entry point installs the Node platform', () => {
    expect(platform()).to.equal(nodePlatform);
    expect(platform().os).to.equal(process.platform);
    expect(platform().env('PATH')).to.equal(process.env['PATH']);
  });

  it('the portable platform has no environment, files or packages, and says so', async () => {
    setPlatform(portablePlatform);
    expect(platform().env('PATH')).to.equal(undefined);
    expect(() => gg.io.loadSafetensors('model.safetensors')).to.throw("cannot read 'model.safetensors': this runtime has no file system");
    expect(() => platform().loadPackage('gl')).to.throw("the 'gl' package cannot be loaded");
    let reason = '';
    await platform().importPackage('webgpu').catch((e: Error) => (reason = e.message));
    expect(reason).to.match(/the 'webgpu' package cannot be loaded/);
    // tensors, autograd and nn work without anything from the host
    const x = gg.tensor([1, 2, 3], { requiresGrad: true });
    new gg.nn.Linear(3, 1).call(x.reshape(1, 3)).sum().backward();
    expect(x.grad?.shape).to.deep.equal([3]);
  });

  it('check-cycles rejects node: imports, process, require and gl/webgpu outside the platform module', function () {
    this.timeout(20000);
    const dir = mkdtempSync(join(tmpdir(), 'gpugrad-platform-'));
    try {
      for (const sub of ['tensor', 'nn', 'autograd', 'backend/platform']) mkdirSync(join(dir, sub), { recursive: true });
      writeFileSync(join(dir, 'tensor', 'a.ts'), "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n");
      writeFileSync(join(dir, 'nn', 'b.ts'), "export const b = process.env['X'];\n");
      writeFileSync(join(dir, 'autograd', 'c.ts'), "import gl from 'gl';\nexport const c = gl;\n");
      writeFileSync(join(dir, 'backend', 'platform', 'node.ts'), "import { readFileSync } from 'node:fs';\nexport const n = [readFileSync, process.env];\n");
      const r = spawnSync(process.execPath, ['scripts/check-cycles.mjs', dir], { encoding: 'utf8' });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.contain("a.ts imports 'node:fs'");
      expect(r.stderr).to.contain("b.ts uses 'process.env'");
      expect(r.stderr).to.contain("c.ts imports 'gl'");
      expect(r.stderr).not.to.match(/platform\/node\.ts (imports|uses)/);
      expect(r.stderr).to.contain('3 problem(s)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
