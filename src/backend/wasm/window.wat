;; Max pooling over 2×2 windows that tile the image, and its backward, in
;; 128-bit SIMD, for the `cpu` device's float32 window passes
;; (docs/notes/architecture.md, "The window fast path"; window.ts runs them,
;; scripts/build-wasm.mjs compiles this text into window-wasm.ts).
;;
;; The image is `planes` dense h×w planes (h, w even) at byte address a;
;; window (oy, ox) of a plane holds its elements (2oy, 2ox), (2oy, 2ox+1),
;; (2oy+1, 2ox), (2oy+1, 2ox+1) in that order (the pooling view's
;; row-major order over its window dims, the order the IR reduction reads).
;; Four windows at a time: two rows of eight floats, split into their even
;; and odd columns by shuffles; the windows of a row past a multiple of four
;; one at a time, with the same arithmetic.
(module
  (import "env" "memory" (memory 1 32768))

  ;; acc = (v > acc || v ≠ v) ? v : acc, lane by lane (the IR's max step)
  (func $step (param $acc v128) (param $v v128) (result v128)
    (v128.bitselect (local.get $v) (local.get $acc)
      (v128.or (f32x4.gt (local.get $v) (local.get $acc)) (f32x4.ne (local.get $v) (local.get $v)))))

  ;; out (planes, h/2, w/2), dense at byte address o: each window's max, the
  ;; IR reduction's steps from its first element (-∞ loses to it or keeps it).
  (func (export "maxPool2") (param $a i32) (param $o i32) (param $planes i32) (param $h i32) (param $w i32)
    (local $rows i32) (local $y i32) (local $x i32) (local $ow i32) (local $r0 i32) (local $r1 i32)
    (local $p i32) (local $q i32) (local $acc v128) (local $e0 v128) (local $o0 v128) (local $e1 v128) (local $o1 v128)
    (local $s f32) (local $t f32)
    (local.set $ow (i32.shr_u (local.get $w) (i32.const 1)))
    ;; output rows of every plane, one after another
    (local.set $rows (i32.mul (local.get $planes) (i32.shr_u (local.get $h) (i32.const 1))))
    (block $ydone
      (loop $yloop
        (br_if $ydone (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $r0 (i32.add (local.get $a) (i32.shl (i32.mul (local.get $y) (local.get $w)) (i32.const 3))))
        (local.set $r1 (i32.add (local.get $r0) (i32.shl (local.get $w) (i32.const 2))))
        (local.set $x (i32.const 0))
        (block $xdone
          (loop $xloop
            (br_if $xdone (i32.gt_u (i32.add (local.get $x) (i32.const 4)) (local.get $ow)))
            (local.set $p (i32.add (local.get $r0) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $q (i32.add (local.get $r1) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $e0 (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (v128.load (local.get $p)) (v128.load offset=16 (local.get $p))))
            (local.set $o0 (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (v128.load (local.get $p)) (v128.load offset=16 (local.get $p))))
            (local.set $e1 (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (v128.load (local.get $q)) (v128.load offset=16 (local.get $q))))
            (local.set $o1 (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (v128.load (local.get $q)) (v128.load offset=16 (local.get $q))))
            (local.set $acc (call $step (call $step (call $step (local.get $e0) (local.get $o0)) (local.get $e1)) (local.get $o1)))
            (v128.store (i32.add (local.get $o) (i32.shl (i32.add (i32.mul (local.get $y) (local.get $ow)) (local.get $x)) (i32.const 2))) (local.get $acc))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (br $xloop)))
        (block $tdone
          (loop $tloop
            (br_if $tdone (i32.ge_u (local.get $x) (local.get $ow)))
            (local.set $p (i32.add (local.get $r0) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $q (i32.add (local.get $r1) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $s (f32.load (local.get $p)))
            (local.set $t (f32.load offset=4 (local.get $p)))
            (local.set $s (select (local.get $t) (local.get $s) (i32.or (f32.gt (local.get $t) (local.get $s)) (f32.ne (local.get $t) (local.get $t)))))
            (local.set $t (f32.load (local.get $q)))
            (local.set $s (select (local.get $t) (local.get $s) (i32.or (f32.gt (local.get $t) (local.get $s)) (f32.ne (local.get $t) (local.get $t)))))
            (local.set $t (f32.load offset=4 (local.get $q)))
            (local.set $s (select (local.get $t) (local.get $s) (i32.or (f32.gt (local.get $t) (local.get $s)) (f32.ne (local.get $t) (local.get $t)))))
            (f32.store (i32.add (local.get $o) (i32.shl (i32.add (i32.mul (local.get $y) (local.get $ow)) (local.get $x)) (i32.const 2))) (local.get $s))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $tloop)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yloop))))

  ;; the maxima of a window lane by lane: (v == r) or (v ≠ v and r ≠ r), all ones or zeros
  (func $hit (param $v v128) (param $r v128) (result v128)
    (v128.or (f32x4.eq (local.get $v) (local.get $r))
      (v128.and (f32x4.ne (local.get $v) (local.get $v)) (f32x4.ne (local.get $r) (local.get $r)))))

  ;; (1 / c) · g in float64, rounded once to float32, for lanes 0-1
  (func $share (param $c v128) (param $g v128) (result v128)
    (f32x4.demote_f64x2_zero
      (f64x2.mul (f64x2.div (v128.const f64x2 1 1) (f64x2.promote_low_f32x4 (local.get $c))) (f64x2.promote_low_f32x4 (local.get $g)))))

  ;; lanes 2-3 moved to 0-1
  (func $high (param $v v128) (result v128)
    (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))

  ;; the four lanes of $share
  (func $share4 (param $c v128) (param $g v128) (result v128)
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (call $share (local.get $c) (local.get $g))
      (call $share (call $high (local.get $c)) (call $high (local.get $g)))))

  ;; The gradient of maxPool2 (the op table's amax rule, tensor/ops.ts): out
  ;; (planes, h, w) at o gets mask / count · g at each element, mask as in
  ;; $hit against its window's max in r (planes, h/2, w/2), count = the
  ;; masks of the window summed in its order (a whole number, exact), g the
  ;; output gradient (planes, h/2, w/2).
  (func (export "maxPool2Backward") (param $a i32) (param $r i32) (param $g i32) (param $o i32) (param $planes i32) (param $h i32) (param $w i32)
    (local $rows i32) (local $y i32) (local $x i32) (local $ow i32) (local $r0 i32) (local $r1 i32) (local $w0 i32) (local $w1 i32)
    (local $p i32) (local $q i32) (local $k i32)
    (local $rv v128) (local $gv v128) (local $c v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    (local $u0 v128) (local $u1 v128) (local $u2 v128) (local $u3 v128)
    (local $s f32) (local $nan i32) (local $f0 f32) (local $f1 f32) (local $f2 f32) (local $f3 f32) (local $cnt f64) (local $gd f64)
    (local.set $ow (i32.shr_u (local.get $w) (i32.const 1)))
    (local.set $rows (i32.mul (local.get $planes) (i32.shr_u (local.get $h) (i32.const 1))))
    (block $ydone
      (loop $yloop
        (br_if $ydone (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $r0 (i32.add (local.get $a) (i32.shl (i32.mul (local.get $y) (local.get $w)) (i32.const 3))))
        (local.set $r1 (i32.add (local.get $r0) (i32.shl (local.get $w) (i32.const 2))))
        (local.set $w0 (i32.add (local.get $o) (i32.shl (i32.mul (local.get $y) (local.get $w)) (i32.const 3))))
        (local.set $w1 (i32.add (local.get $w0) (i32.shl (local.get $w) (i32.const 2))))
        (local.set $x (i32.const 0))
        (block $xdone
          (loop $xloop
            (br_if $xdone (i32.gt_u (i32.add (local.get $x) (i32.const 4)) (local.get $ow)))
            (local.set $k (i32.shl (i32.add (i32.mul (local.get $y) (local.get $ow)) (local.get $x)) (i32.const 2)))
            (local.set $rv (v128.load (i32.add (local.get $r) (local.get $k))))
            (local.set $gv (v128.load (i32.add (local.get $g) (local.get $k))))
            (local.set $p (i32.add (local.get $r0) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $q (i32.add (local.get $r1) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $m0 (call $hit (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (v128.load (local.get $p)) (v128.load offset=16 (local.get $p))) (local.get $rv)))
            (local.set $m1 (call $hit (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (v128.load (local.get $p)) (v128.load offset=16 (local.get $p))) (local.get $rv)))
            (local.set $m2 (call $hit (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (v128.load (local.get $q)) (v128.load offset=16 (local.get $q))) (local.get $rv)))
            (local.set $m3 (call $hit (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (v128.load (local.get $q)) (v128.load offset=16 (local.get $q))) (local.get $rv)))
            ;; the count, the masks as 1.0 or 0.0 added in the IR's order from 0 (whole numbers up to 4: exact)
            (local.set $c (f32x4.add (f32x4.add (f32x4.add
              (v128.and (local.get $m0) (v128.const f32x4 1 1 1 1)) (v128.and (local.get $m1) (v128.const f32x4 1 1 1 1)))
              (v128.and (local.get $m2) (v128.const f32x4 1 1 1 1))) (v128.and (local.get $m3) (v128.const f32x4 1 1 1 1))))
            ;; mask / count · g: (1 / count) · g where the mask is 1 (1 / count is 1 / count · 1 exactly),
            ;; 0 · g (±0, or NaN for an infinite or NaN g: exact in any precision) where it is 0
            (local.set $rv (call $share4 (local.get $c) (local.get $gv)))
            (local.set $gv (f32x4.mul (v128.const f32x4 0 0 0 0) (local.get $gv)))
            (local.set $u0 (v128.bitselect (local.get $rv) (local.get $gv) (local.get $m0)))
            (local.set $u1 (v128.bitselect (local.get $rv) (local.get $gv) (local.get $m1)))
            (local.set $u2 (v128.bitselect (local.get $rv) (local.get $gv) (local.get $m2)))
            (local.set $u3 (v128.bitselect (local.get $rv) (local.get $gv) (local.get $m3)))
            ;; back into the image's layout: row 0 = u0[0] u1[0] u0[1] u1[1] ..., row 1 from u2, u3
            (local.set $p (i32.add (local.get $w0) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $q (i32.add (local.get $w1) (i32.shl (local.get $x) (i32.const 3))))
            (v128.store (local.get $p) (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $u0) (local.get $u1)))
            (v128.store offset=16 (local.get $p) (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $u0) (local.get $u1)))
            (v128.store (local.get $q) (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $u2) (local.get $u3)))
            (v128.store offset=16 (local.get $q) (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $u2) (local.get $u3)))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (br $xloop)))
        (block $tdone
          (loop $tloop
            (br_if $tdone (i32.ge_u (local.get $x) (local.get $ow)))
            (local.set $k (i32.shl (i32.add (i32.mul (local.get $y) (local.get $ow)) (local.get $x)) (i32.const 2)))
            (local.set $s (f32.load (i32.add (local.get $r) (local.get $k))))
            (local.set $gd (f64.promote_f32 (f32.load (i32.add (local.get $g) (local.get $k)))))
            (local.set $nan (f32.ne (local.get $s) (local.get $s)))
            (local.set $p (i32.add (local.get $r0) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $q (i32.add (local.get $r1) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $f0 (f32.convert_i32_u (i32.or (f32.eq (f32.load (local.get $p)) (local.get $s)) (i32.and (f32.ne (f32.load (local.get $p)) (f32.load (local.get $p))) (local.get $nan)))))
            (local.set $f1 (f32.convert_i32_u (i32.or (f32.eq (f32.load offset=4 (local.get $p)) (local.get $s)) (i32.and (f32.ne (f32.load offset=4 (local.get $p)) (f32.load offset=4 (local.get $p))) (local.get $nan)))))
            (local.set $f2 (f32.convert_i32_u (i32.or (f32.eq (f32.load (local.get $q)) (local.get $s)) (i32.and (f32.ne (f32.load (local.get $q)) (f32.load (local.get $q))) (local.get $nan)))))
            (local.set $f3 (f32.convert_i32_u (i32.or (f32.eq (f32.load offset=4 (local.get $q)) (local.get $s)) (i32.and (f32.ne (f32.load offset=4 (local.get $q)) (f32.load offset=4 (local.get $q))) (local.get $nan)))))
            (local.set $cnt (f64.promote_f32 (f32.add (f32.add (f32.add (local.get $f0) (local.get $f1)) (local.get $f2)) (local.get $f3))))
            (local.set $p (i32.add (local.get $w0) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $q (i32.add (local.get $w1) (i32.shl (local.get $x) (i32.const 3))))
            (f32.store (local.get $p) (f32.demote_f64 (f64.mul (f64.div (f64.promote_f32 (local.get $f0)) (local.get $cnt)) (local.get $gd))))
            (f32.store offset=4 (local.get $p) (f32.demote_f64 (f64.mul (f64.div (f64.promote_f32 (local.get $f1)) (local.get $cnt)) (local.get $gd))))
            (f32.store (local.get $q) (f32.demote_f64 (f64.mul (f64.div (f64.promote_f32 (local.get $f2)) (local.get $cnt)) (local.get $gd))))
            (f32.store offset=4 (local.get $q) (f32.demote_f64 (f64.mul (f64.div (f64.promote_f32 (local.get $f3)) (local.get $cnt)) (local.get $gd))))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $tloop)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yloop))))
)
