;; float32 passes of the normalize primitive over groups, with 128-bit SIMD.
;; docs/notes/architecture.md ("The normalization fast path") says where this
;; runs and why; scripts/build-wasm.mjs compiles this text with wabt into
;; norm-wasm.ts (the bytes as base64), which norm.ts instantiates.
;;
;; x (and g, and the outputs) are float32 arrays laid out as
;; [outer][groups][inner]: group gi's values are `outer` runs of `inner`
;; contiguous floats starting at byte x + 4·(o·groups·inner + gi·inner).
;; Every value is widened to double before any arithmetic and the formulas
;; are the kernel IR's, in its order, so a map's results are the IR kernel's
;; (rounded to float32 once, at the store); the sums add in double too, two
;; lanes at a time (a different order than the IR's single accumulator).
;; Per-group parameters are doubles at `par`, `k` per group. Each pass runs
;; groups [g0, g1) only (every address still counts from group 0), so
;; threads sharing the memory split a pass by ranges of groups (norm.ts). The high two
;; floats of a vector are widened by a shuffle then promote_low, and two
;; double pairs are narrowed by two demotes and a shuffle, written out in
;; each loop: a call per vector would not be inlined.
(module
  (import "env" "memory" (memory 1 32768))

  ;; One group's moments (`moments`, `momentsOutput32`): with s the group's first value
  ;; (at $base) and d = x - s in double, max |d|, Σd and Σd², three doubles at $out.
  ;; The group's values are `outer` runs of `inner` floats, $stride bytes apart.
  ;; max |d| comes from the group's float32 minimum and maximum (f32x4.pmin/pmax on
  ;; the loaded values, one instruction each, two per four floats where |d| and its
  ;; max in double took five): d rounds monotonically in x, so max |d| =
  ;; max(|hi - s|, |lo - s|) exactly. pmin/pmax skip a NaN (the tail's f32.min/max
  ;; keep it); a NaN in x makes Σd² NaN (squares are never -inf, so only a NaN
  ;; does that), and the caller takes max |d| as NaN where Σd² is NaN, as the IR's
  ;; max (group-passes.ts, `finishMoments`).
  (func $groupMoments (param $base i32) (param $outer i32) (param $stride i32) (param $inner i32) (param $out i32)
    (local $o i32) (local $p i32) (local $vend i32) (local $end i32)
    (local $s f64) (local $sf f32) (local $sv v128) (local $v v128) (local $dl v128) (local $dh v128)
    (local $a1 v128) (local $b1 v128) (local $a2 v128) (local $b2 v128) (local $lo v128) (local $hi v128)
    (local $d f64) (local $t1 f64) (local $t2 f64) (local $l f32) (local $h f32)
    (local.set $sf (f32.load (local.get $base)))
    (local.set $s (f64.promote_f32 (local.get $sf)))
    (local.set $sv (f64x2.splat (local.get $s)))
    (local.set $a1 (v128.const f64x2 0 0))
    (local.set $b1 (v128.const f64x2 0 0))
    (local.set $a2 (v128.const f64x2 0 0))
    (local.set $b2 (v128.const f64x2 0 0))
    (local.set $lo (f32x4.splat (local.get $sf)))
    (local.set $hi (local.get $lo))
    (local.set $l (local.get $sf))
    (local.set $h (local.get $sf))
    (local.set $t1 (f64.const 0))
    (local.set $t2 (f64.const 0))
    (local.set $o (i32.const 0))
    (block $odone
      (loop $runs
        (br_if $odone (i32.ge_u (local.get $o) (local.get $outer)))
        (local.set $p (i32.add (local.get $base) (i32.mul (local.get $o) (local.get $stride))))
        (local.set $end (i32.add (local.get $p) (i32.shl (local.get $inner) (i32.const 2))))
        (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $inner) (i32.const -4)) (i32.const 2))))
        (block $vdone
          (loop $vec
            (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
            (local.set $v (v128.load (local.get $p)))
            (local.set $lo (f32x4.pmin (local.get $lo) (local.get $v)))
            (local.set $hi (f32x4.pmax (local.get $hi) (local.get $v)))
            (local.set $dl (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $sv)))
            (local.set $dh (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $sv)))
            (local.set $a1 (f64x2.add (local.get $a1) (local.get $dl)))
            (local.set $b1 (f64x2.add (local.get $b1) (local.get $dh)))
            (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $dl) (local.get $dl))))
            (local.set $b2 (f64x2.add (local.get $b2) (f64x2.mul (local.get $dh) (local.get $dh))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $vec)))
        (block $sdone
          (loop $scalar
            (br_if $sdone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $l (f32.min (local.get $l) (f32.load (local.get $p))))
            (local.set $h (f32.max (local.get $h) (f32.load (local.get $p))))
            (local.set $d (f64.sub (f64.promote_f32 (f32.load (local.get $p))) (local.get $s)))
            (local.set $t1 (f64.add (local.get $t1) (local.get $d)))
            (local.set $t2 (f64.add (local.get $t2) (f64.mul (local.get $d) (local.get $d))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $scalar)))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $runs)))
    (local.set $a1 (f64x2.add (local.get $a1) (local.get $b1)))
    (local.set $a2 (f64x2.add (local.get $a2) (local.get $b2)))
    (local.set $l (f32.min (local.get $l) (f32.min (f32.min (f32x4.extract_lane 0 (local.get $lo)) (f32x4.extract_lane 1 (local.get $lo)))
      (f32.min (f32x4.extract_lane 2 (local.get $lo)) (f32x4.extract_lane 3 (local.get $lo))))))
    (local.set $h (f32.max (local.get $h) (f32.max (f32.max (f32x4.extract_lane 0 (local.get $hi)) (f32x4.extract_lane 1 (local.get $hi)))
      (f32.max (f32x4.extract_lane 2 (local.get $hi)) (f32x4.extract_lane 3 (local.get $hi))))))
    (f64.store (local.get $out)
      (f64.max (f64.abs (f64.sub (f64.promote_f32 (local.get $h)) (local.get $s))) (f64.abs (f64.sub (f64.promote_f32 (local.get $l)) (local.get $s)))))
    (f64.store offset=8 (local.get $out)
      (f64.add (local.get $t1) (f64.add (f64x2.extract_lane 0 (local.get $a1)) (f64x2.extract_lane 1 (local.get $a1)))))
    (f64.store offset=16 (local.get $out)
      (f64.add (local.get $t2) (f64.add (f64x2.extract_lane 0 (local.get $a2)) (f64x2.extract_lane 1 (local.get $a2))))))

  ;; Per group gi in [g0, g1): `$groupMoments`, three doubles at out + 24·gi.
  (func (export "moments") (param $x i32) (param $outer i32) (param $groups i32) (param $inner i32) (param $out i32) (param $g0 i32) (param $g1 i32)
    (local $gi i32) (local $stride i32)
    (local.set $stride (i32.shl (i32.mul (local.get $groups) (local.get $inner)) (i32.const 2)))
    (local.set $gi (local.get $g0))
    (block $gdone
      (loop $groups
        (br_if $gdone (i32.ge_u (local.get $gi) (local.get $g1)))
        (call $groupMoments (i32.add (local.get $x) (i32.shl (i32.mul (local.get $gi) (local.get $inner)) (i32.const 2)))
          (local.get $outer) (local.get $stride) (local.get $inner) (i32.add (local.get $out) (i32.mul (local.get $gi) (i32.const 24))))
        (local.set $gi (i32.add (local.get $gi) (i32.const 1)))
        (br $groups))))

  ;; The backward's sums: per group, with (s, inv, m) the three doubles at
  ;; par + 24·gi, Σg and Σ g·((x - s)·inv - m), two doubles at out + 16·gi.
  ;; g has x's layout at g. The second is computed as inv·Σ g·(x - s) - m·Σg
  ;; (the same sum, two double operations per element fewer; it differs from
  ;; the IR's Σ g·(c - m) by double roundings of m·Σg, far below float32's).
  (func (export "gradSums") (param $x i32) (param $g i32) (param $outer i32) (param $groups i32) (param $inner i32) (param $par i32) (param $out i32) (param $g0 i32) (param $g1 i32)
    (local $gi i32) (local $o i32) (local $p i32) (local $vend i32) (local $end i32) (local $stride i32) (local $base i32) (local $dg i32)
    (local $s f64) (local $inv f64) (local $m f64) (local $sv v128)
    (local $v v128) (local $w v128) (local $gl v128) (local $gh v128)
    (local $a1 v128) (local $b1 v128) (local $a2 v128) (local $b2 v128)
    (local $gs f64) (local $t1 f64) (local $t2 f64) (local $sg f64)
    (local.set $stride (i32.shl (i32.mul (local.get $groups) (local.get $inner)) (i32.const 2)))
    (local.set $dg (i32.sub (local.get $g) (local.get $x)))
    (local.set $gi (local.get $g0))
    (block $gdone
      (loop $groups
        (br_if $gdone (i32.ge_u (local.get $gi) (local.get $g1)))
        (local.set $base (i32.add (local.get $x) (i32.shl (i32.mul (local.get $gi) (local.get $inner)) (i32.const 2))))
        (local.set $p (i32.add (local.get $par) (i32.mul (local.get $gi) (i32.const 24))))
        (local.set $s (f64.load (local.get $p)))
        (local.set $inv (f64.load offset=8 (local.get $p)))
        (local.set $m (f64.load offset=16 (local.get $p)))
        (local.set $sv (f64x2.splat (local.get $s)))
        (local.set $a1 (v128.const f64x2 0 0))
        (local.set $b1 (v128.const f64x2 0 0))
        (local.set $a2 (v128.const f64x2 0 0))
        (local.set $b2 (v128.const f64x2 0 0))
        (local.set $t1 (f64.const 0))
        (local.set $t2 (f64.const 0))
        (local.set $o (i32.const 0))
        (block $odone
          (loop $runs
            (br_if $odone (i32.ge_u (local.get $o) (local.get $outer)))
            (local.set $p (i32.add (local.get $base) (i32.mul (local.get $o) (local.get $stride))))
            (local.set $end (i32.add (local.get $p) (i32.shl (local.get $inner) (i32.const 2))))
            (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $inner) (i32.const -4)) (i32.const 2))))
            (block $vdone
              (loop $vec
                (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
                (local.set $v (v128.load (local.get $p)))
                (local.set $w (v128.load (i32.add (local.get $p) (local.get $dg))))
                (local.set $gl (f64x2.promote_low_f32x4 (local.get $w)))
                (local.set $gh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))
                (local.set $a1 (f64x2.add (local.get $a1) (local.get $gl)))
                (local.set $b1 (f64x2.add (local.get $b1) (local.get $gh)))
                (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $gl) (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $sv)))))
                (local.set $b2 (f64x2.add (local.get $b2) (f64x2.mul (local.get $gh)
                  (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $sv)))))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (br $vec)))
            (block $sdone
              (loop $scalar
                (br_if $sdone (i32.ge_u (local.get $p) (local.get $end)))
                (local.set $gs (f64.promote_f32 (f32.load (i32.add (local.get $p) (local.get $dg)))))
                (local.set $t1 (f64.add (local.get $t1) (local.get $gs)))
                (local.set $t2 (f64.add (local.get $t2) (f64.mul (local.get $gs) (f64.sub (f64.promote_f32 (f32.load (local.get $p))) (local.get $s)))))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $scalar)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $runs)))
        (local.set $a1 (f64x2.add (local.get $a1) (local.get $b1)))
        (local.set $a2 (f64x2.add (local.get $a2) (local.get $b2)))
        (local.set $p (i32.add (local.get $out) (i32.shl (local.get $gi) (i32.const 4))))
        (local.set $sg (f64.add (local.get $t1) (f64.add (f64x2.extract_lane 0 (local.get $a1)) (f64x2.extract_lane 1 (local.get $a1)))))
        (f64.store (local.get $p) (local.get $sg))
        (f64.store offset=8 (local.get $p)
          (f64.sub (f64.mul (local.get $inv) (f64.add (local.get $t2) (f64.add (f64x2.extract_lane 0 (local.get $a2)) (f64x2.extract_lane 1 (local.get $a2)))))
            (f64.mul (local.get $m) (local.get $sg))))
        (local.set $gi (i32.add (local.get $gi) (i32.const 1)))
        (br $groups))))

  ;; The forward output: y = ((x - s)·inv - m)·a + b, with (s, inv, m, a, b)
  ;; the five doubles at par + 40·gi (b = -0 when there is no bias: adding
  ;; -0 changes nothing, not even a -0). y has x's layout at y.
  (func (export "output") (param $x i32) (param $y i32) (param $outer i32) (param $groups i32) (param $inner i32) (param $par i32) (param $g0 i32) (param $g1 i32)
    (local $gi i32) (local $o i32) (local $p i32) (local $vend i32) (local $end i32) (local $stride i32) (local $base i32) (local $dy i32)
    (local $s f64) (local $inv f64) (local $m f64) (local $a f64) (local $b f64)
    (local $sv v128) (local $iv v128) (local $mv v128) (local $av v128) (local $bv v128) (local $v v128)
    (local.set $stride (i32.shl (i32.mul (local.get $groups) (local.get $inner)) (i32.const 2)))
    (local.set $dy (i32.sub (local.get $y) (local.get $x)))
    (local.set $gi (local.get $g0))
    (block $gdone
      (loop $groups
        (br_if $gdone (i32.ge_u (local.get $gi) (local.get $g1)))
        (local.set $base (i32.add (local.get $x) (i32.shl (i32.mul (local.get $gi) (local.get $inner)) (i32.const 2))))
        (local.set $p (i32.add (local.get $par) (i32.mul (local.get $gi) (i32.const 40))))
        (local.set $s (f64.load (local.get $p)))
        (local.set $inv (f64.load offset=8 (local.get $p)))
        (local.set $m (f64.load offset=16 (local.get $p)))
        (local.set $a (f64.load offset=24 (local.get $p)))
        (local.set $b (f64.load offset=32 (local.get $p)))
        (local.set $sv (f64x2.splat (local.get $s)))
        (local.set $iv (f64x2.splat (local.get $inv)))
        (local.set $mv (f64x2.splat (local.get $m)))
        (local.set $av (f64x2.splat (local.get $a)))
        (local.set $bv (f64x2.splat (local.get $b)))
        (local.set $o (i32.const 0))
        (block $odone
          (loop $runs
            (br_if $odone (i32.ge_u (local.get $o) (local.get $outer)))
            (local.set $p (i32.add (local.get $base) (i32.mul (local.get $o) (local.get $stride))))
            (local.set $end (i32.add (local.get $p) (i32.shl (local.get $inner) (i32.const 2))))
            (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $inner) (i32.const -4)) (i32.const 2))))
            (block $vdone
              (loop $vec
                (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
                (local.set $v (v128.load (local.get $p)))
                (v128.store (i32.add (local.get $p) (local.get $dy))
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (f64x2.sub (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $sv)) (local.get $iv)) (local.get $mv)) (local.get $av)) (local.get $bv))) (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (f64x2.sub (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $sv)) (local.get $iv)) (local.get $mv)) (local.get $av)) (local.get $bv)))))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (br $vec)))
            (block $sdone
              (loop $scalar
                (br_if $sdone (i32.ge_u (local.get $p) (local.get $end)))
                (f32.store (i32.add (local.get $p) (local.get $dy))
                  (f32.demote_f64 (f64.add (f64.mul (f64.sub (f64.mul (f64.sub (f64.promote_f32 (f32.load (local.get $p))) (local.get $s)) (local.get $inv)) (local.get $m)) (local.get $a)) (local.get $b))))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $scalar)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $runs)))
        (local.set $gi (i32.add (local.get $gi) (i32.const 1)))
        (br $groups))))

  ;; x's gradient: dx = ((g·wi + P) + Q·((x - s)·inv))·inv, with
  ;; (s, inv, wi, P, Q) the five doubles at par + 40·gi. g and dx have x's layout.
  (func (export "gradInput") (param $x i32) (param $g i32) (param $dx i32) (param $outer i32) (param $groups i32) (param $inner i32) (param $par i32) (param $g0 i32) (param $g1 i32)
    (local $gi i32) (local $o i32) (local $p i32) (local $vend i32) (local $end i32) (local $stride i32) (local $base i32) (local $dg i32) (local $dd i32)
    (local $s f64) (local $inv f64) (local $wi f64) (local $pp f64) (local $q f64)
    (local $sv v128) (local $iv v128) (local $wv v128) (local $pv v128) (local $qv v128) (local $v v128) (local $w v128)
    (local.set $stride (i32.shl (i32.mul (local.get $groups) (local.get $inner)) (i32.const 2)))
    (local.set $dg (i32.sub (local.get $g) (local.get $x)))
    (local.set $dd (i32.sub (local.get $dx) (local.get $x)))
    (local.set $gi (local.get $g0))
    (block $gdone
      (loop $groups
        (br_if $gdone (i32.ge_u (local.get $gi) (local.get $g1)))
        (local.set $base (i32.add (local.get $x) (i32.shl (i32.mul (local.get $gi) (local.get $inner)) (i32.const 2))))
        (local.set $p (i32.add (local.get $par) (i32.mul (local.get $gi) (i32.const 40))))
        (local.set $s (f64.load (local.get $p)))
        (local.set $inv (f64.load offset=8 (local.get $p)))
        (local.set $wi (f64.load offset=16 (local.get $p)))
        (local.set $pp (f64.load offset=24 (local.get $p)))
        (local.set $q (f64.load offset=32 (local.get $p)))
        (local.set $sv (f64x2.splat (local.get $s)))
        (local.set $iv (f64x2.splat (local.get $inv)))
        (local.set $wv (f64x2.splat (local.get $wi)))
        (local.set $pv (f64x2.splat (local.get $pp)))
        (local.set $qv (f64x2.splat (local.get $q)))
        (local.set $o (i32.const 0))
        (block $odone
          (loop $runs
            (br_if $odone (i32.ge_u (local.get $o) (local.get $outer)))
            (local.set $p (i32.add (local.get $base) (i32.mul (local.get $o) (local.get $stride))))
            (local.set $end (i32.add (local.get $p) (i32.shl (local.get $inner) (i32.const 2))))
            (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $inner) (i32.const -4)) (i32.const 2))))
            (block $vdone
              (loop $vec
                (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
                (local.set $v (v128.load (local.get $p)))
                (local.set $w (v128.load (i32.add (local.get $p) (local.get $dg))))
                (v128.store (i32.add (local.get $p) (local.get $dd))
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.add (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (local.get $w)) (local.get $wv)) (local.get $pv))
                      (f64x2.mul (local.get $qv) (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $sv)) (local.get $iv)))) (local.get $iv))) (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.add (f64x2.add (f64x2.mul (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))) (local.get $wv)) (local.get $pv))
                      (f64x2.mul (local.get $qv) (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $sv)) (local.get $iv)))) (local.get $iv)))))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (br $vec)))
            (block $sdone
              (loop $scalar
                (br_if $sdone (i32.ge_u (local.get $p) (local.get $end)))
                (f32.store (i32.add (local.get $p) (local.get $dd))
                  (f32.demote_f64
                    (f64.mul (f64.add (f64.add (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $p) (local.get $dg)))) (local.get $wi)) (local.get $pp))
                      (f64.mul (local.get $q) (f64.mul (f64.sub (f64.promote_f32 (f32.load (local.get $p))) (local.get $s)) (local.get $inv)))) (local.get $inv))))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $scalar)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $runs)))
        (local.set $gi (i32.add (local.get $gi) (i32.const 1)))
        (br $groups))))
  ;; One group's output in float32 lanes: y = (x - s)·α + β, each operation a float32
  ;; one (f32x4: four lanes, where the double map above has two), over the group's
  ;; `outer` runs of `inner` floats from $base ($stride bytes apart); y has x's layout
  ;; $dy bytes after it.
  (func $map32 (param $base i32) (param $dy i32) (param $outer i32) (param $stride i32) (param $inner i32) (param $s f32) (param $a f32) (param $b f32)
    (local $o i32) (local $p i32) (local $vend i32) (local $end i32) (local $sv v128) (local $av v128) (local $bv v128)
    (local.set $sv (f32x4.splat (local.get $s)))
    (local.set $av (f32x4.splat (local.get $a)))
    (local.set $bv (f32x4.splat (local.get $b)))
    (local.set $o (i32.const 0))
    (block $odone
      (loop $runs
        (br_if $odone (i32.ge_u (local.get $o) (local.get $outer)))
        (local.set $p (i32.add (local.get $base) (i32.mul (local.get $o) (local.get $stride))))
        (local.set $end (i32.add (local.get $p) (i32.shl (local.get $inner) (i32.const 2))))
        (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $inner) (i32.const -4)) (i32.const 2))))
        (block $vdone
          (loop $vec
            (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
            (v128.store (i32.add (local.get $p) (local.get $dy))
              (f32x4.add (f32x4.mul (f32x4.sub (v128.load (local.get $p)) (local.get $sv)) (local.get $av)) (local.get $bv)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $vec)))
        (block $sdone
          (loop $scalar
            (br_if $sdone (i32.ge_u (local.get $p) (local.get $end)))
            (f32.store (i32.add (local.get $p) (local.get $dy))
              (f32.add (f32.mul (f32.sub (f32.load (local.get $p)) (local.get $s)) (local.get $a)) (local.get $b)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $scalar)))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $runs))))

  ;; The forward output in float32 lanes (wasm/norm.ts, `output32`; docs/notes/normalization.md,
  ;; "float32 lanes"): per group `$map32`, with (s, α, β) three floats at par + 12·gi.
  ;; α = inv·a and β = b - m·a are computed in double by the caller.
  (func (export "output32") (param $x i32) (param $y i32) (param $outer i32) (param $groups i32) (param $inner i32) (param $par i32) (param $g0 i32) (param $g1 i32)
    (local $gi i32) (local $p i32) (local $stride i32)
    (local.set $stride (i32.shl (i32.mul (local.get $groups) (local.get $inner)) (i32.const 2)))
    (local.set $gi (local.get $g0))
    (block $gdone
      (loop $groups
        (br_if $gdone (i32.ge_u (local.get $gi) (local.get $g1)))
        (local.set $p (i32.add (local.get $par) (i32.mul (local.get $gi) (i32.const 12))))
        (call $map32 (i32.add (local.get $x) (i32.shl (i32.mul (local.get $gi) (local.get $inner)) (i32.const 2))) (i32.sub (local.get $y) (local.get $x))
          (local.get $outer) (local.get $stride) (local.get $inner)
          (f32.load (local.get $p)) (f32.load offset=4 (local.get $p)) (f32.load offset=8 (local.get $p)))
        (local.set $gi (i32.add (local.get $gi) (i32.const 1)))
        (br $groups))))

  ;; The forward's moments and output in one pass per group (wasm/norm.ts, `momentsOutput`):
  ;; per group, `$groupMoments` (three doubles at out + 48·gi, as `moments` writes
  ;; them), then, from them, what the forward's small steps compute: `finishMoments`
  ;; (group-passes.ts: scale, 1/scale, S₁, S₂, each rounded to float32), the mean
  ;; and scale kernels of normalize.ts (m = S₁/n; istd·w from its `statistics`, in
  ;; double, rounded to float32 as those kernels store them) and `outputLanes`
  ;; (α = inv·a, β = b - m·a, rounded once), stored as three floats (s, α, β) at
  ;; out + 48·gi + 24, then the group's y as `output32` while its x is still in
  ;; cache. par holds four doubles per group at par + 32·gi: w (1 without a
  ;; weight), b (-0 without a bias), n, eps; $safe is the primitive's `safe`.
  ;; The caller checks (s, α, β) against `outputLanes` of the kernels' own values
  ;; and maps y again where they differ, so y never depends on this copy of the
  ;; formulas being exact (docs/notes/architecture.md).
  (func (export "momentsOutput32") (param $x i32) (param $y i32) (param $outer i32) (param $groups i32) (param $inner i32) (param $par i32) (param $out i32) (param $safe i32) (param $g0 i32) (param $g1 i32)
    (local $gi i32) (local $q i32) (local $p i32) (local $stride i32) (local $base i32)
    (local $n f64) (local $eps f64) (local $floor f64) (local $t2 f64) (local $am f64) (local $k f64) (local $scale f64) (local $inv f64)
    (local $S1 f64) (local $S2 f64) (local $m f64) (local $mm f64) (local $d f64) (local $ve f64) (local $nz f64) (local $sq f64) (local $rs f64) (local $istd f64) (local $a f64)
    (local $sf f32) (local $al f32) (local $be f32)
    (local.set $stride (i32.shl (i32.mul (local.get $groups) (local.get $inner)) (i32.const 2)))
    (local.set $gi (local.get $g0))
    (block $gdone
      (loop $groups
        (br_if $gdone (i32.ge_u (local.get $gi) (local.get $g1)))
        (local.set $base (i32.add (local.get $x) (i32.shl (i32.mul (local.get $gi) (local.get $inner)) (i32.const 2))))
        (local.set $p (i32.add (local.get $out) (i32.mul (local.get $gi) (i32.const 48))))
        (local.set $q (i32.add (local.get $par) (i32.shl (local.get $gi) (i32.const 5))))
        (call $groupMoments (local.get $base) (local.get $outer) (local.get $stride) (local.get $inner) (local.get $p))
        (local.set $n (f64.load offset=16 (local.get $q)))
        (local.set $eps (f64.load offset=24 (local.get $q)))
        ;; finishMoments: am = max |d| (NaN where Σd² is), the scale at least sqrt(eps)
        ;; (1 where it is 0 without eps, or not finite), inv, S₁ = inv·Σd, S₂ = inv·inv·Σd²
        (local.set $floor (select (f64.sqrt (local.get $eps)) (f64.const 0) (f64.gt (local.get $eps) (f64.const 0))))
        (local.set $t2 (f64.load offset=16 (local.get $p)))
        (local.set $am (select (local.get $t2) (f64.promote_f32 (f32.demote_f64 (f64.load (local.get $p)))) (f64.ne (local.get $t2) (local.get $t2))))
        (local.set $k (select (f64.max (local.get $am) (local.get $floor))
          (select (local.get $am) (f64.const 1) (f64.gt (local.get $am) (f64.const 0))) (f64.gt (local.get $floor) (f64.const 0))))
        (local.set $scale (f64.promote_f32 (f32.demote_f64
          (select (local.get $k) (f64.const 1) (f64.eq (f64.sub (local.get $k) (local.get $k)) (f64.const 0))))))
        (local.set $inv (f64.promote_f32 (f32.demote_f64 (f64.div (f64.const 1) (local.get $scale)))))
        (local.set $S1 (f64.promote_f32 (f32.demote_f64 (f64.mul (local.get $inv) (f64.load offset=8 (local.get $p))))))
        (local.set $S2 (f64.promote_f32 (f32.demote_f64 (f64.mul (f64.mul (local.get $inv) (local.get $inv)) (local.get $t2)))))
        ;; the mean kernel (m = S₁/n), then istd as normalize.ts's `statistics`, times w
        (local.set $m (f64.promote_f32 (f32.demote_f64 (f64.div (local.get $S1) (local.get $n)))))
        (local.set $mm (f64.div (local.get $S1) (local.get $n)))
        (local.set $d (f64.sub (f64.div (local.get $S2) (local.get $n)) (f64.mul (local.get $mm) (local.get $mm))))
        ;; v = d unless d < 0 (NaN kept), ve = v + inv·inv·eps
        (local.set $ve (f64.add (select (f64.const 0) (local.get $d) (f64.lt (local.get $d) (f64.const 0)))
          (f64.mul (f64.mul (local.get $inv) (local.get $inv)) (local.get $eps))))
        (local.set $nz (select (f64.const 1) (f64.const 0) (f64.ne (local.get $ve) (f64.const 0))))
        (local.set $sq (f64.sqrt (select (select (local.get $ve) (f64.const 1) (f64.ne (local.get $nz) (f64.const 0))) (local.get $ve) (local.get $safe))))
        (local.set $rs (f64.div (f64.const 1) (local.get $sq)))
        (local.set $istd (select (f64.mul (local.get $rs) (local.get $nz)) (local.get $rs) (local.get $safe)))
        (local.set $a (f64.promote_f32 (f32.demote_f64 (f64.mul (local.get $istd) (f64.load (local.get $q))))))
        ;; outputLanes: α = inv·a, β = b - m·a, rounded once
        (local.set $sf (f32.load (local.get $base)))
        (local.set $al (f32.demote_f64 (f64.mul (local.get $inv) (local.get $a))))
        (local.set $be (f32.demote_f64 (f64.sub (f64.load offset=8 (local.get $q)) (f64.mul (local.get $m) (local.get $a)))))
        (f32.store offset=24 (local.get $p) (local.get $sf))
        (f32.store offset=28 (local.get $p) (local.get $al))
        (f32.store offset=32 (local.get $p) (local.get $be))
        (call $map32 (local.get $base) (i32.sub (local.get $y) (local.get $x)) (local.get $outer) (local.get $stride) (local.get $inner)
          (local.get $sf) (local.get $al) (local.get $be))
        (local.set $gi (i32.add (local.get $gi) (i32.const 1)))
        (br $groups))))

  ;; x's gradient in float32 lanes (wasm/norm.ts, `gradInput32`): dx = g·A + ((x - s)·B + C),
  ;; each operation a float32 one, with (s, A, B, C) four floats at par + 16·gi
  ;; (A = wi·inv, B = Q·inv·inv, C = P·inv, computed in double by the caller).
  (func (export "gradInput32") (param $x i32) (param $g i32) (param $dx i32) (param $outer i32) (param $groups i32) (param $inner i32) (param $par i32) (param $g0 i32) (param $g1 i32)
    (local $gi i32) (local $o i32) (local $p i32) (local $vend i32) (local $end i32) (local $stride i32) (local $base i32) (local $dg i32) (local $dd i32)
    (local $s f32) (local $a f32) (local $b f32) (local $c f32) (local $sv v128) (local $av v128) (local $bv v128) (local $cv v128)
    (local.set $stride (i32.shl (i32.mul (local.get $groups) (local.get $inner)) (i32.const 2)))
    (local.set $dg (i32.sub (local.get $g) (local.get $x)))
    (local.set $dd (i32.sub (local.get $dx) (local.get $x)))
    (local.set $gi (local.get $g0))
    (block $gdone
      (loop $groups
        (br_if $gdone (i32.ge_u (local.get $gi) (local.get $g1)))
        (local.set $base (i32.add (local.get $x) (i32.shl (i32.mul (local.get $gi) (local.get $inner)) (i32.const 2))))
        (local.set $p (i32.add (local.get $par) (i32.shl (local.get $gi) (i32.const 4))))
        (local.set $s (f32.load (local.get $p)))
        (local.set $a (f32.load offset=4 (local.get $p)))
        (local.set $b (f32.load offset=8 (local.get $p)))
        (local.set $c (f32.load offset=12 (local.get $p)))
        (local.set $sv (f32x4.splat (local.get $s)))
        (local.set $av (f32x4.splat (local.get $a)))
        (local.set $bv (f32x4.splat (local.get $b)))
        (local.set $cv (f32x4.splat (local.get $c)))
        (local.set $o (i32.const 0))
        (block $odone
          (loop $runs
            (br_if $odone (i32.ge_u (local.get $o) (local.get $outer)))
            (local.set $p (i32.add (local.get $base) (i32.mul (local.get $o) (local.get $stride))))
            (local.set $end (i32.add (local.get $p) (i32.shl (local.get $inner) (i32.const 2))))
            (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $inner) (i32.const -4)) (i32.const 2))))
            (block $vdone
              (loop $vec
                (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
                (v128.store (i32.add (local.get $p) (local.get $dd))
                  (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $dg))) (local.get $av))
                    (f32x4.add (f32x4.mul (f32x4.sub (v128.load (local.get $p)) (local.get $sv)) (local.get $bv)) (local.get $cv))))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (br $vec)))
            (block $sdone
              (loop $scalar
                (br_if $sdone (i32.ge_u (local.get $p) (local.get $end)))
                (f32.store (i32.add (local.get $p) (local.get $dd))
                  (f32.add (f32.mul (f32.load (i32.add (local.get $p) (local.get $dg))) (local.get $a))
                    (f32.add (f32.mul (f32.sub (f32.load (local.get $p)) (local.get $s)) (local.get $b)) (local.get $c))))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $scalar)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $runs)))
        (local.set $gi (i32.add (local.get $gi) (i32.const 1)))
        (br $groups))))

;; x's gradient with its sums in one pass per group (wasm/norm.ts, `gradFused`):
  ;; per group, first the backward's sums exactly as `gradSums` (Σg and Σ g·(c - m),
  ;; two doubles at out + 32·gi), then, from them, the per-group coefficients of
  ;; normalize.ts's backward (its per-group kernels' formulas, in double, rounded
  ;; to float32 where those kernels store float32 tensors) and the lane coefficients
  ;; (s, A, B, C) of `gradInput32` (four floats at out + 32·gi + 16), then dx as
  ;; `gradInput32` while the group's x and g are still in cache. par holds eight
  ;; doubles per group at par + 64·gi: s, inv, m (the rounded mean `gradSums` takes),
  ;; S₁, S₂, w (1 without a weight), n, eps; $safe is the primitive's `safe`.
  ;; The caller checks the coefficients against the per-group kernels' own and
  ;; runs `gradInput32` again where they differ, so dx never depends on this copy
  ;; of the formulas being exact (docs/notes/architecture.md).
  (func (export "gradFused32") (param $x i32) (param $g i32) (param $dx i32) (param $outer i32) (param $groups i32) (param $inner i32) (param $par i32) (param $out i32) (param $safe i32) (param $g0 i32) (param $g1 i32)
    (local $gi i32) (local $o i32) (local $p i32) (local $q i32) (local $vend i32) (local $end i32) (local $stride i32) (local $base i32) (local $dg i32) (local $dd i32)
    (local $s f64) (local $inv f64) (local $m f64) (local $sv v128)
    (local $v v128) (local $w v128) (local $gl v128) (local $gh v128)
    (local $a1 v128) (local $b1 v128) (local $a2 v128) (local $b2 v128)
    (local $gs f64) (local $t1 f64) (local $t2 f64) (local $sg f64) (local $sgc f64)
    (local $wt f64) (local $n f64) (local $mm f64) (local $d f64) (local $ve f64) (local $nz f64) (local $sq f64) (local $rs f64) (local $istd f64)
    (local $R1 f64) (local $R2 f64) (local $gq f64) (local $dve f64) (local $ddv f64) (local $pp f64) (local $qq f64) (local $wi f64)
    (local $sf f32) (local $a f32) (local $b f32) (local $c f32) (local $av v128) (local $bv v128) (local $cv v128)
    (local.set $stride (i32.shl (i32.mul (local.get $groups) (local.get $inner)) (i32.const 2)))
    (local.set $dg (i32.sub (local.get $g) (local.get $x)))
    (local.set $dd (i32.sub (local.get $dx) (local.get $x)))
    (local.set $gi (local.get $g0))
    (block $gdone
      (loop $groups
        (br_if $gdone (i32.ge_u (local.get $gi) (local.get $g1)))
        (local.set $base (i32.add (local.get $x) (i32.shl (i32.mul (local.get $gi) (local.get $inner)) (i32.const 2))))
        (local.set $q (i32.add (local.get $par) (i32.shl (local.get $gi) (i32.const 6))))
        (local.set $s (f64.load (local.get $q)))
        (local.set $inv (f64.load offset=8 (local.get $q)))
        (local.set $m (f64.load offset=16 (local.get $q)))
        (local.set $sv (f64x2.splat (local.get $s)))
        (local.set $a1 (v128.const f64x2 0 0))
        (local.set $b1 (v128.const f64x2 0 0))
        (local.set $a2 (v128.const f64x2 0 0))
        (local.set $b2 (v128.const f64x2 0 0))
        (local.set $t1 (f64.const 0))
        (local.set $t2 (f64.const 0))
        (local.set $o (i32.const 0))
        (block $odone
          (loop $runs
            (br_if $odone (i32.ge_u (local.get $o) (local.get $outer)))
            (local.set $p (i32.add (local.get $base) (i32.mul (local.get $o) (local.get $stride))))
            (local.set $end (i32.add (local.get $p) (i32.shl (local.get $inner) (i32.const 2))))
            (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $inner) (i32.const -4)) (i32.const 2))))
            (block $vdone
              (loop $vec
                (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
                (local.set $v (v128.load (local.get $p)))
                (local.set $w (v128.load (i32.add (local.get $p) (local.get $dg))))
                (local.set $gl (f64x2.promote_low_f32x4 (local.get $w)))
                (local.set $gh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w))))
                (local.set $a1 (f64x2.add (local.get $a1) (local.get $gl)))
                (local.set $b1 (f64x2.add (local.get $b1) (local.get $gh)))
                (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $gl) (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $sv)))))
                (local.set $b2 (f64x2.add (local.get $b2) (f64x2.mul (local.get $gh)
                  (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $sv)))))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (br $vec)))
            (block $sdone
              (loop $scalar
                (br_if $sdone (i32.ge_u (local.get $p) (local.get $end)))
                (local.set $gs (f64.promote_f32 (f32.load (i32.add (local.get $p) (local.get $dg)))))
                (local.set $t1 (f64.add (local.get $t1) (local.get $gs)))
                (local.set $t2 (f64.add (local.get $t2) (f64.mul (local.get $gs) (f64.sub (f64.promote_f32 (f32.load (local.get $p))) (local.get $s)))))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $scalar)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $runs)))
        (local.set $a1 (f64x2.add (local.get $a1) (local.get $b1)))
        (local.set $a2 (f64x2.add (local.get $a2) (local.get $b2)))
        (local.set $p (i32.add (local.get $out) (i32.shl (local.get $gi) (i32.const 5))))
        (local.set $sg (f64.add (local.get $t1) (f64.add (f64x2.extract_lane 0 (local.get $a1)) (f64x2.extract_lane 1 (local.get $a1)))))
        (f64.store (local.get $p) (local.get $sg))
        (local.set $sgc
          (f64.sub (f64.mul (local.get $inv) (f64.add (local.get $t2) (f64.add (f64x2.extract_lane 0 (local.get $a2)) (f64x2.extract_lane 1 (local.get $a2)))))
            (f64.mul (local.get $m) (local.get $sg))))
        (f64.store offset=8 (local.get $p) (local.get $sgc))
        ;; the per-group kernels (normalize.ts: statistics, then the backward's chain), inputs
        ;; S₁, S₂, inv, then Σg and Σg·(c - m) as float32 tensors, times w
        (local.set $wt (f64.load offset=40 (local.get $q)))
        (local.set $n (f64.load offset=48 (local.get $q)))
        (local.set $R1 (f64.mul (f64.promote_f32 (f32.demote_f64 (local.get $sg))) (local.get $wt)))
        (local.set $R2 (f64.mul (f64.promote_f32 (f32.demote_f64 (local.get $sgc))) (local.get $wt)))
        (local.set $mm (f64.div (f64.load offset=24 (local.get $q)) (local.get $n)))
        (local.set $d (f64.sub (f64.div (f64.load offset=32 (local.get $q)) (local.get $n)) (f64.mul (local.get $mm) (local.get $mm))))
        ;; v = d unless d < 0 (NaN kept), ve = v + inv·inv·eps
        (local.set $ve (f64.add (select (f64.const 0) (local.get $d) (f64.lt (local.get $d) (f64.const 0)))
          (f64.mul (f64.mul (local.get $inv) (local.get $inv)) (f64.load offset=56 (local.get $q)))))
        (local.set $nz (select (f64.const 1) (f64.const 0) (f64.ne (local.get $ve) (f64.const 0))))
        (local.set $sq (f64.sqrt (select (select (local.get $ve) (f64.const 1) (f64.ne (local.get $nz) (f64.const 0))) (local.get $ve) (local.get $safe))))
        (local.set $rs (f64.div (f64.const 1) (local.get $sq)))
        (local.set $istd (select (f64.mul (local.get $rs) (local.get $nz)) (local.get $rs) (local.get $safe)))
        (local.set $gq (f64.neg (f64.mul (select (f64.mul (local.get $R2) (local.get $nz)) (local.get $R2) (local.get $safe)) (f64.div (local.get $rs) (local.get $sq)))))
        (local.set $dve (f64.div (local.get $gq) (f64.mul (local.get $sq) (f64.const 2))))
        (if (i32.and (local.get $safe) (f64.eq (local.get $nz) (f64.const 0))) (then (local.set $dve (f64.const 0))))
        (local.set $ddv (select (f64.const 0) (local.get $dve) (f64.lt (local.get $d) (f64.const 0))))
        (local.set $pp (f64.div (f64.sub (f64.neg (f64.mul (local.get $istd) (local.get $R1)))
          (f64.add (f64.mul (local.get $ddv) (local.get $mm)) (f64.mul (local.get $ddv) (local.get $mm)))) (local.get $n)))
        (local.set $qq (f64.mul (f64.div (local.get $ddv) (local.get $n)) (f64.const 2)))
        (local.set $wi (f64.mul (local.get $istd) (local.get $wt)))
        ;; the lane coefficients as group-passes.ts's gradInputLanes: A = wi·inv, B = Q·inv·inv, C = P·inv
        (local.set $sf (f32.demote_f64 (local.get $s)))
        (local.set $a (f32.demote_f64 (f64.mul (f64.promote_f32 (f32.demote_f64 (local.get $wi))) (local.get $inv))))
        (local.set $b (f32.demote_f64 (f64.mul (f64.mul (f64.promote_f32 (f32.demote_f64 (local.get $qq))) (local.get $inv)) (local.get $inv))))
        (local.set $c (f32.demote_f64 (f64.mul (f64.promote_f32 (f32.demote_f64 (local.get $pp))) (local.get $inv))))
        (f32.store offset=16 (local.get $p) (local.get $sf))
        (f32.store offset=20 (local.get $p) (local.get $a))
        (f32.store offset=24 (local.get $p) (local.get $b))
        (f32.store offset=28 (local.get $p) (local.get $c))
        (local.set $sv (f32x4.splat (local.get $sf)))
        (local.set $av (f32x4.splat (local.get $a)))
        (local.set $bv (f32x4.splat (local.get $b)))
        (local.set $cv (f32x4.splat (local.get $c)))
        (local.set $o (i32.const 0))
        (block $odone
          (loop $runs
            (br_if $odone (i32.ge_u (local.get $o) (local.get $outer)))
            (local.set $p (i32.add (local.get $base) (i32.mul (local.get $o) (local.get $stride))))
            (local.set $end (i32.add (local.get $p) (i32.shl (local.get $inner) (i32.const 2))))
            (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $inner) (i32.const -4)) (i32.const 2))))
            (block $vdone
              (loop $vec
                (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
                (v128.store (i32.add (local.get $p) (local.get $dd))
                  (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $dg))) (local.get $av))
                    (f32x4.add (f32x4.mul (f32x4.sub (v128.load (local.get $p)) (local.get $sv)) (local.get $bv)) (local.get $cv))))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (br $vec)))
            (block $sdone
              (loop $scalar
                (br_if $sdone (i32.ge_u (local.get $p) (local.get $end)))
                (f32.store (i32.add (local.get $p) (local.get $dd))
                  (f32.add (f32.mul (f32.load (i32.add (local.get $p) (local.get $dg))) (local.get $a))
                    (f32.add (f32.mul (f32.sub (f32.load (local.get $p)) (local.get $sf)) (local.get $b)) (local.get $c))))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $scalar)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $runs)))
        (local.set $gi (i32.add (local.get $gi) (i32.const 1)))
        (br $groups))))

    ;; Partial sums of a float32 array in double (wasm/norm.ts, `sum`): for each chunk c in
  ;; [c0, c1), Σ x[c·chunk .. min(n, (c + 1)·chunk)) as a double at out + 8·c. Four
  ;; double-pair accumulators, eight floats a step (each float widened exactly),
  ;; added as (a0 + a1) + (a2 + a3), lane 0 + lane 1, then the tail in order.
  (func (export "sumChunks") (param $x i32) (param $n i32) (param $chunk i32) (param $out i32) (param $c0 i32) (param $c1 i32)
    (local $c i32) (local $p i32) (local $end i32) (local $vend i32) (local $len i32)
    (local $v v128) (local $w v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $t f64)
    (local.set $c (local.get $c0))
    (block $cdone
      (loop $chunks
        (br_if $cdone (i32.ge_u (local.get $c) (local.get $c1)))
        (local.set $p (i32.mul (local.get $c) (local.get $chunk)))
        (local.set $len (i32.sub (local.get $n) (local.get $p)))
        (if (i32.gt_u (local.get $len) (local.get $chunk)) (then (local.set $len (local.get $chunk))))
        (local.set $p (i32.add (local.get $x) (i32.shl (local.get $p) (i32.const 2))))
        (local.set $end (i32.add (local.get $p) (i32.shl (local.get $len) (i32.const 2))))
        (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $len) (i32.const -8)) (i32.const 2))))
        (local.set $a0 (v128.const f64x2 0 0))
        (local.set $a1 (v128.const f64x2 0 0))
        (local.set $a2 (v128.const f64x2 0 0))
        (local.set $a3 (v128.const f64x2 0 0))
        (local.set $t (f64.const 0))
        (block $vdone
          (loop $vec
            (br_if $vdone (i32.ge_u (local.get $p) (local.get $vend)))
            (local.set $v (v128.load (local.get $p)))
            (local.set $w (v128.load offset=16 (local.get $p)))
            (local.set $a0 (f64x2.add (local.get $a0) (f64x2.promote_low_f32x4 (local.get $v))))
            (local.set $a1 (f64x2.add (local.get $a1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))
            (local.set $a2 (f64x2.add (local.get $a2) (f64x2.promote_low_f32x4 (local.get $w))))
            (local.set $a3 (f64x2.add (local.get $a3) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w) (local.get $w)))))
            (local.set $p (i32.add (local.get $p) (i32.const 32)))
            (br $vec)))
        (block $sdone
          (loop $scalar
            (br_if $sdone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $t (f64.add (local.get $t) (f64.promote_f32 (f32.load (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $scalar)))
        (local.set $a0 (f64x2.add (f64x2.add (local.get $a0) (local.get $a1)) (f64x2.add (local.get $a2) (local.get $a3))))
        (f64.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 3)))
          (f64.add (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0))) (local.get $t)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $chunks))))
)
