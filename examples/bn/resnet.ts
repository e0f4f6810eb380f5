/**
 * A ResNet basic block with BatchNorm (He et al.): conv3×3 → BN → ReLU →
 * conv3×3 → BN, plus the shortcut (identity, or conv1×1 → BN when the shape
 * changes), then ReLU. Convolutions carry no bias: BN's β takes its place.
 *
 * @module
 */
import * as gg from '../../src/index.js';

/** The basic block. */
export class BasicBlock extends gg.nn.Module {
  declare readonly conv1: gg.nn.Conv2d;
  declare readonly bn1: gg.nn.BatchNorm2d;
  declare readonly conv2: gg.nn.Conv2d;
  declare readonly bn2: gg.nn.BatchNorm2d;
  declare readonly shortcut: gg.nn.Sequential;

  constructor(inC: number, outC: number, stride = 1, device = 'cpu') {
    super();
    const f = { bias: false, device };
    this.registerModule('conv1', new gg.nn.Conv2d(inC, outC, 3, { stride, padding: 1, ...f }));
    this.registerModule('bn1', new gg.nn.BatchNorm2d(outC, { device }));
    this.registerModule('conv2', new gg.nn.Conv2d(outC, outC, 3, { padding: 1, ...f }));
    this.registerModule('bn2', new gg.nn.BatchNorm2d(outC, { device }));
    this.registerModule(
      'shortcut',
      stride !== 1 || inC !== outC
        ? new gg.nn.Sequential(new gg.nn.Conv2d(inC, outC, 1, { stride, ...f }), new gg.nn.BatchNorm2d(outC, { device }))
        : new gg.nn.Sequential(),
    );
  }

  override forward(x: gg.Tensor): gg.Tensor {
    const out = this.bn2.call(this.conv2.call(this.bn1.call(this.conv1.call(x)).relu()));
    const skip = [...this.shortcut.children()].length > 0 ? this.shortcut.call(x) : x;
    return out.add(skip).relu();
  }
}

/** A tiny ResNet for 28×28 digits: stem, two basic blocks (the second downsamples), avg pool, linear. */
export function miniResNet(device: string): gg.nn.Sequential {
  return new gg.nn.Sequential(
    new gg.nn.Conv2d(1, 8, 3, { padding: 1, bias: false, device }),
    new gg.nn.BatchNorm2d(8, { device }),
    new gg.nn.ReLU(),
    new gg.nn.MaxPool2d(2),
    new BasicBlock(8, 8, 1, device),
    new BasicBlock(8, 16, 2, device),
    new gg.nn.AvgPool2d(7),
    new gg.nn.Flatten(),
    new gg.nn.Linear(16, 10, { device }),
  );
}
