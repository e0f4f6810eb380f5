;; float32 elementwise passes of a training step in 128-bit SIMD, over arrays
;; in this module's memory: ReLU, its backward, and SGD's update p + g·s.
;; docs/notes/architecture.md ("The elementwise fast path") says where this
;; runs and why; scripts/build-wasm.mjs compiles this text with wabt into
;; elementwise-wasm.ts, which elementwise.ts instantiates.
;;
;; Each pass gives exactly the values of the kernel IR loop it replaces (the
;; JavaScript loop of backend/cpu.ts, which computes in float64 and rounds
;; once on the float32 store): addresses are bytes, n counts floats, and
;; every function handles any n (a scalar tail after the vectors).
(module
  (import "env" "memory" (memory 1 32768))

  ;; out = relu(x): where(x < 0, +0, x). f32x4.pmax gives exactly that:
  ;; pmax(x, +0) is (x < +0 ? +0 : x), so +0 for negative x, x itself for
  ;; -0, +0, positive x and NaN (f32x4.max would give +0 for -0, where
  ;; PyTorch's relu(-0) is -0). The scalar tail selects the same way.
  (func (export "relu") (param $x i32) (param $out i32) (param $n i32)
    (local $end i32) (local $zero v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $v
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store (local.get $out) (f32x4.pmax (v128.load (local.get $x)) (local.get $zero)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $v)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $tdone
      (loop $t
        (br_if $tdone (i32.ge_u (local.get $x) (local.get $end)))
        (f32.store (local.get $out)
          (select (f32.const 0) (f32.load (local.get $x)) (f32.lt (f32.load (local.get $x)) (f32.const 0))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $t))))

  ;; out = where(x <= 0, +0, g): the bits of g where x <= 0 is false (x > 0
  ;; or NaN), +0 elsewhere (g's bits and-not the comparison's mask).
  (func (export "reluBackward") (param $x i32) (param $g i32) (param $out i32) (param $n i32)
    (local $end i32) (local $zero v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $v
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store (local.get $out)
          (v128.andnot (v128.load (local.get $g)) (f32x4.le (v128.load (local.get $x)) (local.get $zero))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $v)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $tdone
      (loop $t
        (br_if $tdone (i32.ge_u (local.get $x) (local.get $end)))
        (f32.store (local.get $out)
          (select (f32.const 0) (f32.load (local.get $g)) (f32.le (f32.load (local.get $x)) (f32.const 0))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $t))))

  ;; out = float32(p + g·s), computed in float64 as the JavaScript loop does:
  ;; g·s of two float32 values is exact in float64, the sum is rounded once to
  ;; float64 and once to float32 on the store. Two floats per step (f64x2).
  (func (export "axpy") (param $p i32) (param $g i32) (param $s f32) (param $out i32) (param $n i32)
    (local $end i32) (local $sv v128)
    (local.set $sv (f64x2.splat (f64.promote_f32 (local.get $s))))
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 2))))
    (block $done
      (loop $v
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store64_lane 0 (local.get $out)
          (f32x4.demote_f64x2_zero
            (f64x2.add
              (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p)))
              (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $g))) (local.get $sv)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $g (i32.add (local.get $g) (i32.const 8)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (br $v)))
    (if (i32.and (local.get $n) (i32.const 1))
      (then
        (f32.store (local.get $out)
          (f32.demote_f64
            (f64.add (f64.promote_f32 (f32.load (local.get $p)))
                     (f64.mul (f64.promote_f32 (f32.load (local.get $g))) (f64.promote_f32 (local.get $s)))))))))

  ;; W5's passes (spectral norm over a large weight; docs/notes/architecture.md,
  ;; "The elementwise fast path"). Products and sums of float32 values are
  ;; accumulated in float64, as the JavaScript loops do; only the order of the
  ;; additions differs from theirs (two or four running sums instead of one).

  ;; Σ a[i]·b[i] over n floats, in float64 (two lanes, added at the end).
  (func $dot (param $a i32) (param $b i32) (param $n i32) (result f64)
    (local $end i32) (local $acc v128) (local $acc2 v128) (local $x v128) (local $y v128) (local $s f64)
    (local.set $end (i32.add (local.get $a) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $v
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $x (v128.load (local.get $a)))
        (local.set $y (v128.load (local.get $b)))
        (local.set $acc (f64x2.add (local.get $acc)
          (f64x2.mul (f64x2.promote_low_f32x4 (local.get $x)) (f64x2.promote_low_f32x4 (local.get $y)))))
        (local.set $acc2 (f64x2.add (local.get $acc2)
          (f64x2.mul
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y))))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $v)))
    (local.set $acc (f64x2.add (local.get $acc) (local.get $acc2)))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $tdone
      (loop $t
        (br_if $tdone (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $s (f64.add (local.get $s)
          (f64.mul (f64.promote_f32 (f32.load (local.get $a))) (f64.promote_f32 (f32.load (local.get $b))))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br $t)))
    (local.get $s))

  (func (export "dot") (param $a i32) (param $b i32) (param $n i32) (result f64)
    (call $dot (local.get $a) (local.get $b) (local.get $n)))

  ;; out[i] = float32(Σ_k a[i·lda + k]·x[k]), i < m, k < k: a matrix-vector
  ;; product over rows (lda bytes apart) contiguous along k.
  (func (export "gemvRows") (param $a i32) (param $lda i32) (param $x i32) (param $out i32) (param $m i32) (param $k i32)
    (local $i i32)
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $m)))
        (f32.store (local.get $out) (f32.demote_f64 (call $dot (local.get $a) (local.get $x) (local.get $k))))
        (local.set $a (i32.add (local.get $a) (local.get $lda)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; out[j] = float32(Σ_i x[i]·a[i·lda + j]), j < n, i < m: a matrix-vector
  ;; product along columns (Wᵀ·u of a row-major W), summed row by row into
  ;; float64 sums at acc (n doubles, 16-byte aligned), then rounded.
  (func (export "gemvCols") (param $a i32) (param $lda i32) (param $x i32) (param $acc i32) (param $out i32) (param $m i32) (param $n i32)
    (local $i i32) (local $j i32) (local $p i32) (local $q i32) (local $n4 i32) (local $xi v128) (local $v v128)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    ;; zero the sums
    (local.set $j (i32.const 0))
    (block $zdone
      (loop $z
        (br_if $zdone (i32.ge_u (local.get $j) (local.get $n)))
        (f64.store (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 3))) (f64.const 0))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $z)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $xi (f64x2.splat (f64.promote_f32 (f32.load (local.get $x)))))
        (local.set $p (local.get $a))
        (local.set $q (local.get $acc))
        (local.set $j (i32.const 0))
        (block $vdone
          (loop $v
            (br_if $vdone (i32.ge_u (local.get $j) (local.get $n4)))
            (local.set $v (v128.load (local.get $p)))
            (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q))
              (f64x2.mul (local.get $xi) (f64x2.promote_low_f32x4 (local.get $v)))))
            (v128.store offset=16 (local.get $q) (f64x2.add (v128.load offset=16 (local.get $q))
              (f64x2.mul (local.get $xi) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 32)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $v)))
        (block $tdone
          (loop $t
            (br_if $tdone (i32.ge_u (local.get $j) (local.get $n)))
            (f64.store (local.get $q) (f64.add (f64.load (local.get $q))
              (f64.mul (f64x2.extract_lane 0 (local.get $xi)) (f64.promote_f32 (f32.load (local.get $p))))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $q (i32.add (local.get $q) (i32.const 8)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $t)))
        (local.set $a (i32.add (local.get $a) (local.get $lda)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    (local.set $j (i32.const 0))
    (block $odone
      (loop $o
        (br_if $odone (i32.ge_u (local.get $j) (local.get $n)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2)))
          (f32.demote_f64 (f64.load (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 3))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $o))))

  ;; out = x / s: float32 division is correctly rounded, as the loop's float64
  ;; quotient rounded to float32 is (53 bits ≥ 2·24 + 2: no double rounding).
  (func (export "divScalar") (param $x i32) (param $s f32) (param $out i32) (param $n i32)
    (local $end i32) (local $sv v128)
    (local.set $sv (f32x4.splat (local.get $s)))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $v
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store (local.get $out) (f32x4.div (v128.load (local.get $x)) (local.get $sv)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $v)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $tdone
      (loop $t
        (br_if $tdone (i32.ge_u (local.get $x) (local.get $end)))
        (f32.store (local.get $out) (f32.div (f32.load (local.get $x)) (local.get $s)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $t))))

  ;; Spectral norm's backward (nn/utils/spectral.ts): out[i, j] =
  ;; float32(g[i, j]·f0 - (f3·u[i])·v[j]) over rows × cols, in float64 as the
  ;; loop (f0 = 1/σ and f3 = c/σ/σ computed by the caller as the loop does).
  (func (export "spectralBackward") (param $g i32) (param $u i32) (param $v i32) (param $out i32) (param $rows i32) (param $cols i32) (param $f0 f64) (param $f3 f64)
    (local $i i32) (local $j i32) (local $c2 i32) (local $vp i32) (local $f4 v128) (local $f0v v128) (local $x v128)
    (local.set $f0v (f64x2.splat (local.get $f0)))
    (local.set $c2 (i32.and (local.get $cols) (i32.const -2)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $f4 (f64x2.splat (f64.mul (local.get $f3) (f64.promote_f32 (f32.load (local.get $u))))))
        (local.set $vp (local.get $v))
        (local.set $j (i32.const 0))
        (block $vdone
          (loop $vl
            (br_if $vdone (i32.ge_u (local.get $j) (local.get $c2)))
            (v128.store64_lane 0 (local.get $out)
              (f32x4.demote_f64x2_zero
                (f64x2.sub
                  (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $g))) (local.get $f0v))
                  (f64x2.mul (local.get $f4) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $vp)))))))
            (local.set $g (i32.add (local.get $g) (i32.const 8)))
            (local.set $vp (i32.add (local.get $vp) (i32.const 8)))
            (local.set $out (i32.add (local.get $out) (i32.const 8)))
            (local.set $j (i32.add (local.get $j) (i32.const 2)))
            (br $vl)))
        (if (i32.lt_u (local.get $j) (local.get $cols))
          (then
            (f32.store (local.get $out)
              (f32.demote_f64 (f64.sub
                (f64.mul (f64.promote_f32 (f32.load (local.get $g))) (local.get $f0))
                (f64.mul (f64x2.extract_lane 0 (local.get $f4)) (f64.promote_f32 (f32.load (local.get $vp)))))))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))))
        (local.set $u (i32.add (local.get $u) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; out[i, j] = x[i, j] + b[j] over rows × cols (a bias added to every row):
  ;; float32 addition is correctly rounded, as the loop's float64 sum rounded
  ;; to float32 is (no double rounding), so bit for bit the loop.
  (func (export "addRows") (param $x i32) (param $b i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $i i32) (local $j i32) (local $c4 i32) (local $bp i32)
    (local.set $c4 (i32.and (local.get $cols) (i32.const -4)))
    (block $done
      (loop $r
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $bp (local.get $b))
        (local.set $j (i32.const 0))
        (block $vdone
          (loop $v
            (br_if $vdone (i32.ge_u (local.get $j) (local.get $c4)))
            (v128.store (local.get $out) (f32x4.add (v128.load (local.get $x)) (v128.load (local.get $bp))))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (local.set $bp (i32.add (local.get $bp) (i32.const 16)))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $v)))
        (block $tdone
          (loop $t
            (br_if $tdone (i32.ge_u (local.get $j) (local.get $cols)))
            (f32.store (local.get $out) (f32.add (f32.load (local.get $x)) (f32.load (local.get $bp))))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (local.set $bp (i32.add (local.get $bp) (i32.const 4)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $t)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $r))))

  ;; out[c] = float32(Σ_o Σ_l x[(o·groups + c)·inner + l]) for c < groups: a
  ;; dense (outer, groups, inner) array summed over its first and last dims
  ;; (a convolution bias's gradient, over the batch and the positions). Each
  ;; group's sum is one float64 accumulator adding the elements in the loop's
  ;; order (o, then l), as the IR kernel does, so the values are the loop's
  ;; bit for bit; four groups' sums run side by side (independent additions,
  ;; where one sum alone waits on each addition's latency), kept between
  ;; rows at acc (groups doubles, 8-byte aligned).
  (func (export "planeSum") (param $x i32) (param $acc i32) (param $out i32) (param $outer i32) (param $groups i32) (param $inner i32)
    (local $o i32) (local $c i32) (local $l i32) (local $row i32) (local $g4 i32) (local $q i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $s0 f64) (local $s1 f64) (local $s2 f64) (local $s3 f64)
    (local.set $row (i32.shl (local.get $inner) (i32.const 2)))
    (local.set $g4 (i32.and (local.get $groups) (i32.const -4)))
    (block $zdone
      (loop $z
        (br_if $zdone (i32.ge_u (local.get $c) (local.get $groups)))
        (f64.store (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 3))) (f64.const 0))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $z)))
    (local.set $p0 (local.get $x))
    (block $odone
      (loop $orow
        (br_if $odone (i32.ge_u (local.get $o) (local.get $outer)))
        (local.set $c (i32.const 0))
        ;; four groups at a time: rows p0..p3, one after another in x
        (block $gdone
          (loop $g
            (br_if $gdone (i32.ge_u (local.get $c) (local.get $g4)))
            (local.set $q (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 3))))
            (local.set $s0 (f64.load (local.get $q)))
            (local.set $s1 (f64.load offset=8 (local.get $q)))
            (local.set $s2 (f64.load offset=16 (local.get $q)))
            (local.set $s3 (f64.load offset=24 (local.get $q)))
            (local.set $p1 (i32.add (local.get $p0) (local.get $row)))
            (local.set $p2 (i32.add (local.get $p1) (local.get $row)))
            (local.set $p3 (i32.add (local.get $p2) (local.get $row)))
            (local.set $l (i32.const 0))
            (block $ldone
              (loop $lloop
                (br_if $ldone (i32.ge_u (local.get $l) (local.get $inner)))
                (local.set $s0 (f64.add (local.get $s0) (f64.promote_f32 (f32.load (local.get $p0)))))
                (local.set $s1 (f64.add (local.get $s1) (f64.promote_f32 (f32.load (local.get $p1)))))
                (local.set $s2 (f64.add (local.get $s2) (f64.promote_f32 (f32.load (local.get $p2)))))
                (local.set $s3 (f64.add (local.get $s3) (f64.promote_f32 (f32.load (local.get $p3)))))
                (local.set $p0 (i32.add (local.get $p0) (i32.const 4)))
                (local.set $p1 (i32.add (local.get $p1) (i32.const 4)))
                (local.set $p2 (i32.add (local.get $p2) (i32.const 4)))
                (local.set $p3 (i32.add (local.get $p3) (i32.const 4)))
                (local.set $l (i32.add (local.get $l) (i32.const 1)))
                (br $lloop)))
            (f64.store (local.get $q) (local.get $s0))
            (f64.store offset=8 (local.get $q) (local.get $s1))
            (f64.store offset=16 (local.get $q) (local.get $s2))
            (f64.store offset=24 (local.get $q) (local.get $s3))
            ;; p0 is at the end of its row: the next four rows start after p3's
            (local.set $p0 (local.get $p3))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $g)))
        ;; the last groups mod 4, one at a time
        (block $tdone
          (loop $t
            (br_if $tdone (i32.ge_u (local.get $c) (local.get $groups)))
            (local.set $q (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 3))))
            (local.set $s0 (f64.load (local.get $q)))
            (local.set $l (i32.const 0))
            (block $l1done
              (loop $l1
                (br_if $l1done (i32.ge_u (local.get $l) (local.get $inner)))
                (local.set $s0 (f64.add (local.get $s0) (f64.promote_f32 (f32.load (local.get $p0)))))
                (local.set $p0 (i32.add (local.get $p0) (i32.const 4)))
                (local.set $l (i32.add (local.get $l) (i32.const 1)))
                (br $l1)))
            (f64.store (local.get $q) (local.get $s0))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $t)))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $orow)))
    (local.set $c (i32.const 0))
    (block $rdone
      (loop $r
        (br_if $rdone (i32.ge_u (local.get $c) (local.get $groups)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2)))
          (f32.demote_f64 (f64.load (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 3))))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $r))))
)
