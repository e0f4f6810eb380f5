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

  ;; out = relu(x): where(x <= 0, +0, x). f32x4.max gives exactly that:
  ;; max(x, +0) is +0 for negative x and for -0, x for positive x, and NaN
  ;; for NaN x (NaN passes, as where(x <= 0 is false, x, 0) does).
  (func (export "relu") (param $x i32) (param $out i32) (param $n i32)
    (local $end i32) (local $zero v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $v
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (v128.store (local.get $out) (f32x4.max (v128.load (local.get $x)) (local.get $zero)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $v)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $tdone
      (loop $t
        (br_if $tdone (i32.ge_u (local.get $x) (local.get $end)))
        (f32.store (local.get $out) (f32.max (f32.load (local.get $x)) (f32.const 0)))
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
)
