/** docs/walkthrough.md is what examples/walkthrough.ts writes today, and its pictures are committed and valid. */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { main, graphFiles } from '../../examples/walkthrough.js';
import { decodePng } from '../helpers/png.js';

const root = new URL('../../../', import.meta.url);

describe('docs/walkthrough.md', function () {
  this.timeout(120_000);

  it('matches a fresh run of examples/walkthrough.ts (regenerate it if this fails)', async () => {
    const text = await main({ images: false, write: false });
    const committed = readFileSync(new URL('docs/walkthrough.md', root), 'utf8');
    expect(committed).to.equal(text);
  });

  it('every picture it shows is committed and decodes', () => {
    const text = readFileSync(new URL('docs/walkthrough.md', root), 'utf8');
    for (const f of graphFiles) {
      expect(text).to.include(`(img/${f})`);
      const png = decodePng(readFileSync(new URL(`docs/img/${f}`, root)));
      expect(png.width, f).to.be.greaterThan(100);
    }
  });
});
