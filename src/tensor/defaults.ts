/**
 * The default dtype, read by creation (src/tensor/creation.ts owns the
 * setter, `gg.setDefaultDtype`) and by printing (a tensor of the default
 * dtype prints no `dtype=`). Its own module so that printing does not import
 * creation, which imports the Tensor class.
 */
import type { DType } from '../backend/types.js';

/** The mutable defaults; change them through `gg.setDefaultDtype`. */
export const defaults: { dtype: DType } = { dtype: 'float32' };
