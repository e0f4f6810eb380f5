import { expect } from 'chai';
import { Writable } from 'node:stream';
import { formatLoss, progressBar } from '../../examples/lib/progress.js';

/** A non-TTY stream that records what is written. */
function recorder(): { stream: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter((l) => l.length > 0) };
}

describe('progressBar (non-TTY)', () => {
  it('prints only the 25/50/75% milestones and one summary line', () => {
    const { stream, lines } = recorder();
    const bar = progressBar('train', 1000, { stream });
    for (let i = 1; i <= 1000; i++) bar.update(i, { loss: 1 / i, speed: '10 it/s' });
    bar.stop();
    bar.stop(); // idempotent
    const out = lines();
    expect(out).to.have.length(4);
    expect(out[0]).to.equal('train: 250/1000 (25%) | loss 0.004000 | 10 it/s');
    expect(out[1]).to.match(/^train: 500\/1000 \(50%\)/);
    expect(out[2]).to.match(/^train: 750\/1000 \(75%\)/);
    expect(out[3]).to.match(/^train: 1000\/1000 in \d+\.\ds \| loss 0\.001000 \| 10 it\/s$/);
  });

  it('with no milestones prints just the summary, keeping the last payload', () => {
    const { stream, lines } = recorder();
    const bar = progressBar('eval', 10, { stream, milestones: [] });
    bar.update(3, { loss: 2.5 });
    bar.update(7);
    bar.stop();
    expect(lines()).to.have.length(1);
    expect(lines()[0]).to.match(/^eval: 7\/10 in \d+\.\ds \| loss 2\.500$/);
  });

  it('formats losses with 4 significant digits', () => {
    expect(formatLoss(0.123456)).to.equal('0.1235');
    expect(formatLoss(2)).to.equal('2.000');
    expect(formatLoss(1.5e-6)).to.equal('1.500e-6');
    expect(formatLoss(NaN)).to.equal('NaN');
  });
});
