;; float32 matrix product C = A·B on packed panels, with 128-bit SIMD.
;; docs/notes/architecture.md ("The float32 matmul fast path") says where this
;; runs and why; scripts/build-wasm.mjs compiles this text with wabt into
;; gemm-wasm.ts (the bytes as base64), which gemm.ts instantiates.
;;
;; The caller (gemm.ts) packs, in this module's memory (byte addresses):
;; - A, M×K, into panels of MR = 4 rows: panel p, step k holds
;;   A[4p..4p+3, k] at pa + ((p·K + k)·4 + r)·4; rows past M are zeros;
;; - B, K×N, into panels of NR = 8 columns: panel q, step k holds
;;   B[k, 8q..8q+7] at pb + ((q·K + k)·8 + c)·4; columns past N are zeros;
;; and reads C, (4·mp)×(8·np) row-major at pc, of which it keeps M×N.
;; Calls on disjoint ranges of A panels write disjoint rows of C, so threads
;; sharing the memory may each take a range.
;;
;; Blocking (GotoBLAS's loop order): K is cut into blocks of KC = 256 steps;
;; within a block, MC = 16 A panels (64 rows × 256 = 64 KiB) are swept
;; against one B panel (8 × 256 = 8 KiB, stays in L1) at a time, and each
;; 4×8 tile of C is kept in eight v128 registers for the whole block.
(module
  ;; The caller makes the memory (up to 2 GiB) and may share it between
  ;; threads: scripts/build-wasm.mjs also compiles this module with the import
  ;; marked `shared` and emits where its bytes differ (gemmSharedFlagAt, one
  ;; byte), which gemm.ts sets to run it on several threads.
  (import "env" "memory" (memory 1 32768))

  ;; One 4×8 tile: acc = Σ_k A[.., k] ⊗ B[k, ..] over kc steps, then
  ;; C tile = acc (first K block) or C tile + acc (later blocks).
  ;; a, b: the panels at the block's first step; c: the tile's top-left;
  ;; ldc: C's row length in bytes.
  (func $tile (param $a i32) (param $b i32) (param $c i32) (param $kc i32) (param $ldc i32) (param $first i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $end i32)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $kc) (i32.const 4))))
    (block $done
      (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
      (loop $k
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat offset=4 (local.get $a)))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat offset=8 (local.get $a)))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat offset=12 (local.get $a)))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 32)))
        (br_if $k (i32.lt_u (local.get $a) (local.get $end)))))
    (if (i32.eqz (local.get $first))
      (then
        (local.set $c00 (f32x4.add (local.get $c00) (v128.load (local.get $c))))
        (local.set $c01 (f32x4.add (local.get $c01) (v128.load offset=16 (local.get $c))))
        (local.set $c10 (f32x4.add (local.get $c10) (v128.load (i32.add (local.get $c) (local.get $ldc)))))
        (local.set $c11 (f32x4.add (local.get $c11) (v128.load offset=16 (i32.add (local.get $c) (local.get $ldc)))))
        (local.set $c20 (f32x4.add (local.get $c20) (v128.load (i32.add (local.get $c) (i32.shl (local.get $ldc) (i32.const 1))))))
        (local.set $c21 (f32x4.add (local.get $c21) (v128.load offset=16 (i32.add (local.get $c) (i32.shl (local.get $ldc) (i32.const 1))))))
        (local.set $c30 (f32x4.add (local.get $c30) (v128.load (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 3))))))
        (local.set $c31 (f32x4.add (local.get $c31) (v128.load offset=16 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 3))))))))
    (v128.store (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (v128.store (i32.add (local.get $c) (local.get $ldc)) (local.get $c10))
    (v128.store offset=16 (i32.add (local.get $c) (local.get $ldc)) (local.get $c11))
    (v128.store (i32.add (local.get $c) (i32.shl (local.get $ldc) (i32.const 1))) (local.get $c20))
    (v128.store offset=16 (i32.add (local.get $c) (i32.shl (local.get $ldc) (i32.const 1))) (local.get $c21))
    (v128.store (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 3))) (local.get $c30))
    (v128.store offset=16 (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 3))) (local.get $c31)))

  ;; C = A·B over packed panels: mp panels of A (4 rows each), np panels of B
  ;; (8 columns each), k steps; pa, pb, pc as in the header. Panels [p0, p1)
  ;; of A only (the whole product is p0 = 0, p1 = mp), so callers may split
  ;; the rows of C between workers.
  (func (export "gemm") (param $pa i32) (param $pb i32) (param $pc i32) (param $p0 i32) (param $p1 i32) (param $np i32) (param $k i32)
    (local $kb i32) (local $kc i32) (local $ib i32) (local $iend i32) (local $j i32) (local $i i32) (local $ldc i32)
    ;; C's row length in bytes: 8 floats per B panel
    (local.set $ldc (i32.shl (local.get $np) (i32.const 5)))
    (block $kdone
      (loop $kblocks
        (br_if $kdone (i32.ge_u (local.get $kb) (local.get $k)))
        (local.set $kc (i32.sub (local.get $k) (local.get $kb)))
        (if (i32.gt_u (local.get $kc) (i32.const 256)) (then (local.set $kc (i32.const 256))))
        (local.set $ib (local.get $p0))
        (block $idone
          (loop $iblocks
            (br_if $idone (i32.ge_u (local.get $ib) (local.get $p1)))
            (local.set $iend (i32.add (local.get $ib) (i32.const 16)))
            (if (i32.gt_u (local.get $iend) (local.get $p1)) (then (local.set $iend (local.get $p1))))
            (local.set $j (i32.const 0))
            (block $jdone
              (loop $jpanels
                (br_if $jdone (i32.ge_u (local.get $j) (local.get $np)))
                (local.set $i (local.get $ib))
                (loop $ipanels
                  (call $tile
                    ;; A panel i at step kb: pa + (i·K + kb)·16
                    (i32.add (local.get $pa) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $k)) (local.get $kb)) (i32.const 4)))
                    ;; B panel j at step kb: pb + (j·K + kb)·32
                    (i32.add (local.get $pb) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $k)) (local.get $kb)) (i32.const 5)))
                    ;; C tile (4i, 8j): pc + 4i·ldc + 32j
                    (i32.add (local.get $pc) (i32.add (i32.mul (i32.shl (local.get $i) (i32.const 2)) (local.get $ldc)) (i32.shl (local.get $j) (i32.const 5))))
                    (local.get $kc) (local.get $ldc) (i32.eqz (local.get $kb)))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br_if $ipanels (i32.lt_u (local.get $i) (local.get $iend))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jpanels)))
            (local.set $ib (local.get $iend))
            (br $iblocks)))
        (local.set $kb (i32.add (local.get $kb) (local.get $kc)))
        (br $kblocks)))))
