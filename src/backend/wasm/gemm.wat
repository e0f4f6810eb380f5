;; float32 matrix product C = A·B with 128-bit SIMD, over operands in this
;; module's memory. docs/notes/architecture.md ("The float32 matmul fast
;; path") says where this runs and why; scripts/build-wasm.mjs compiles this
;; text with wabt into gemm-wasm.ts (the bytes as base64), which gemm.ts
;; instantiates.
;;
;; The caller (gemm.ts) puts each operand in this module's memory (byte
;; addresses) either packed or as it is:
;; - A, M×K: packed into panels of MR = 4 rows (panel p, step k holds
;;   A[4p..4p+3, k] at pa + ((p·K + k)·4 + r)·4; rows past M are zeros), or
;;   row-major with rows lda bytes apart (copied as they are; rows past M are
;;   zeros);
;; - B, K×N: packed into panels of NR = 8 columns (panel q, step k holds
;;   B[k, 8q..8q+7] at pb + ((q·K + k)·8 + c)·4; columns past N are zeros),
;;   or row-major with rows ldb bytes apart (columns past N read whatever
;;   follows in the row: they only reach columns of C that are dropped);
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
  ;; C tile = acc (first K block) or C tile + acc (later blocks); c: the tile's
  ;; top-left, ldc: C's row length in bytes. A's row r at step k is at
  ;; a + r·ar + k·ak (packed panels: ar = 4, ak = 16; a row-major matrix with
  ;; rows lda bytes apart: ar = lda, ak = 4); B's 8 columns at step k from
  ;; b + k·bk (packed: bk = 32; row-major rows ldb bytes apart: bk = ldb).
  (func $tiles (param $a i32) (param $ar i32) (param $ak i32) (param $b i32) (param $bk i32) (param $c i32) (param $kc i32) (param $ldc i32) (param $first i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $end i32) (local $a1 i32) (local $a2 i32) (local $a3 i32)
    (local.set $end (i32.add (local.get $a) (i32.mul (local.get $kc) (local.get $ak))))
    (local.set $a1 (local.get $ar))
    (local.set $a2 (i32.shl (local.get $ar) (i32.const 1)))
    (local.set $a3 (i32.mul (local.get $ar) (i32.const 3)))
    (block $done
      (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
      (loop $k
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a) (local.get $a1))))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a) (local.get $a2))))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a) (local.get $a3))))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $a (i32.add (local.get $a) (local.get $ak)))
        (local.set $b (i32.add (local.get $b) (local.get $bk)))
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

  ;; C = A·B over operands at any byte strides (see $tiles): A panel i (rows
  ;; 4i..4i+3) starts at pa + floor(i/mpe)·ae + (i mod mpe)·ap and B panel j
  ;; (columns 8j..8j+7) at pb + floor(j/npe)·be + (j mod npe)·bq: a batch of
  ;; entries of mpe (npe) panels each, ae (be) bytes apart, run as one product
  ;; (gemm.ts puts them side by side); C's rows are ldc bytes apart. The k
  ;; steps come in runs of ke (a sum over batch entries as well as k): step
  ;; e·ke + s is at e·ake + s·ak in A and e·bke + s·bk in B, and no K block
  ;; crosses a run. Panels [p0, p1) of A (last, so that a thread pool's
  ;; claimed ranges, which it appends to a job's arguments, are ranges of A).
  (func $gemm (export "gemm") (param $pa i32) (param $pb i32) (param $pc i32) (param $np i32) (param $k i32)
    (param $ap i32) (param $ar i32) (param $ak i32) (param $mpe i32) (param $ae i32)
    (param $bq i32) (param $bk i32) (param $npe i32) (param $be i32) (param $ldc i32)
    (param $ke i32) (param $ake i32) (param $bke i32) (param $p0 i32) (param $p1 i32)
    (local $kb i32) (local $kc i32) (local $ib i32) (local $iend i32) (local $j i32) (local $i i32) (local $bj i32)
    (local $s i32) (local $ka i32) (local $kbb i32)
    (block $kdone
      (loop $kblocks
        (br_if $kdone (i32.ge_u (local.get $kb) (local.get $k)))
        ;; the block: step s of run kb/ke, up to 256 steps, not past the run's end
        (local.set $s (i32.rem_u (local.get $kb) (local.get $ke)))
        (local.set $kc (i32.sub (local.get $ke) (local.get $s)))
        (if (i32.gt_u (local.get $kc) (i32.const 256)) (then (local.set $kc (i32.const 256))))
        (local.set $ka (i32.add (i32.mul (i32.div_u (local.get $kb) (local.get $ke)) (local.get $ake)) (i32.mul (local.get $s) (local.get $ak))))
        (local.set $kbb (i32.add (i32.mul (i32.div_u (local.get $kb) (local.get $ke)) (local.get $bke)) (i32.mul (local.get $s) (local.get $bk))))
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
                ;; B panel j at the block's first step
                (local.set $bj
                  (i32.add (i32.add (local.get $pb)
                    (i32.add (i32.mul (i32.div_u (local.get $j) (local.get $npe)) (local.get $be))
                             (i32.mul (i32.rem_u (local.get $j) (local.get $npe)) (local.get $bq))))
                    (local.get $kbb)))
                (local.set $i (local.get $ib))
                (loop $ipanels
                  (call $tiles
                    ;; A panel i at the block's first step
                    (i32.add (i32.add (local.get $pa)
                      (i32.add (i32.mul (i32.div_u (local.get $i) (local.get $mpe)) (local.get $ae))
                               (i32.mul (i32.rem_u (local.get $i) (local.get $mpe)) (local.get $ap))))
                      (local.get $ka))
                    (local.get $ar) (local.get $ak)
                    (local.get $bj) (local.get $bk)
                    (i32.add (local.get $pc) (i32.add (i32.mul (i32.shl (local.get $i) (i32.const 2)) (local.get $ldc)) (i32.shl (local.get $j) (i32.const 5))))
                    (local.get $kc) (local.get $ldc) (i32.eqz (local.get $kb)))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br_if $ipanels (i32.lt_u (local.get $i) (local.get $iend))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jpanels)))
            (local.set $ib (local.get $iend))
            (br $iblocks)))
        (local.set $kb (i32.add (local.get $kb) (local.get $kc)))
        (br $kblocks))))

  ;; `gemm` over A panels [p0, p1) and the B panels of units [j0, j1) only
  ;; (claimed ranges of B for threads, when A has few panels: each thread then
  ;; sweeps all of A against its own B panels, where splitting A would make
  ;; every thread stream all of B). A unit is one entry of npe panels side by
  ;; side when there are several (npe < np), else one panel. Every element of
  ;; C is the same tile's sum as in one call over everything.
  (func $gemmB (export "gemmB") (param $pa i32) (param $pb i32) (param $pc i32) (param $np i32) (param $k i32)
    (param $ap i32) (param $ar i32) (param $ak i32) (param $mpe i32) (param $ae i32)
    (param $bq i32) (param $bk i32) (param $npe i32) (param $be i32) (param $ldc i32)
    (param $ke i32) (param $ake i32) (param $bke i32) (param $p0 i32) (param $p1 i32)
    (param $j0 i32) (param $j1 i32)
    (if (i32.lt_u (local.get $npe) (local.get $np))
      (then
        ;; entries side by side: entry e's panels at pb + e·be, its columns of C from pc + e·npe·32 bytes
        (local.set $pb (i32.add (local.get $pb) (i32.mul (local.get $j0) (local.get $be))))
        (local.set $pc (i32.add (local.get $pc) (i32.shl (i32.mul (local.get $j0) (local.get $npe)) (i32.const 5))))
        (local.set $np (i32.mul (i32.sub (local.get $j1) (local.get $j0)) (local.get $npe))))
      (else
        (local.set $pb (i32.add (local.get $pb) (i32.mul (local.get $j0) (local.get $bq))))
        (local.set $pc (i32.add (local.get $pc) (i32.shl (local.get $j0) (i32.const 5))))
        (local.set $np (i32.sub (local.get $j1) (local.get $j0)))))
    (call $gemm (local.get $pa) (local.get $pb) (local.get $pc) (local.get $np) (local.get $k)
      (local.get $ap) (local.get $ar) (local.get $ak) (local.get $mpe) (local.get $ae)
      (local.get $bq) (local.get $bk) (local.get $npe) (local.get $be) (local.get $ldc)
      (local.get $ke) (local.get $ake) (local.get $bke) (local.get $p0) (local.get $p1)))

;; `gemmB` over entries [j0, j1) of products side by side whose B is
  ;; implicit columns (docs/notes/architecture.md, "Implicit im2col"): each
  ;; entry's columns are written by `im2col` at its place in B (pb + e·be,
  ;; row-major, one entry's planes) right before the tiles read them, so a
  ;; thread writes the columns of the entries it claims and multiplies them
  ;; while they are in its cache. geo (byte address) holds 14 i32s: the
  ;; images' address (entry e's planes at + e·planes·h·w·4), planes per entry,
  ;; then h w kh kw sh sw ph pw dh dw oh ow as `im2col` takes them.
  (func (export "gemmCols") (param $pa i32) (param $pb i32) (param $pc i32) (param $np i32) (param $k i32)
    (param $ap i32) (param $ar i32) (param $ak i32) (param $mpe i32) (param $ae i32)
    (param $bq i32) (param $bk i32) (param $npe i32) (param $be i32) (param $ldc i32)
    (param $ke i32) (param $ake i32) (param $bke i32) (param $p0 i32) (param $p1 i32)
    (param $geo i32) (param $j0 i32) (param $j1 i32)
    (local $e i32) (local $planes i32) (local $plane i32)
    (local.set $planes (i32.load offset=4 (local.get $geo)))
    ;; bytes of one entry's images
    (local.set $plane (i32.shl (i32.mul (local.get $planes)
      (i32.mul (i32.load offset=8 (local.get $geo)) (i32.load offset=12 (local.get $geo)))) (i32.const 2)))
    (local.set $e (local.get $j0))
    (block $done
      (loop $entries
        (br_if $done (i32.ge_u (local.get $e) (local.get $j1)))
        (call $im2col
          (i32.add (i32.load (local.get $geo)) (i32.mul (local.get $e) (local.get $plane)))
          (i32.add (local.get $pb) (i32.mul (local.get $e) (local.get $be)))
          (local.get $planes)
          (i32.load offset=8 (local.get $geo)) (i32.load offset=12 (local.get $geo))
          (i32.load offset=16 (local.get $geo)) (i32.load offset=20 (local.get $geo))
          (i32.load offset=24 (local.get $geo)) (i32.load offset=28 (local.get $geo))
          (i32.load offset=32 (local.get $geo)) (i32.load offset=36 (local.get $geo))
          (i32.load offset=40 (local.get $geo)) (i32.load offset=44 (local.get $geo))
          (i32.load offset=48 (local.get $geo)) (i32.load offset=52 (local.get $geo)))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br $entries)))
    (call $gemmB (local.get $pa) (local.get $pb) (local.get $pc) (local.get $np) (local.get $k)
      (local.get $ap) (local.get $ar) (local.get $ak) (local.get $mpe) (local.get $ae)
      (local.get $bq) (local.get $bk) (local.get $npe) (local.get $be) (local.get $ldc)
      (local.get $ke) (local.get $ake) (local.get $bke) (local.get $p0) (local.get $p1)
      (local.get $j0) (local.get $j1)))

    ;; Zero the slots of lines past an operand's edge in its last, partial
  ;; panel (`packK`/`packM` read whatever followed the copy there): steps
  ;; [0, steps) of the panel at dst, w lines a step, lines [used, w).
  (func (export "zeroLines") (param $dst i32) (param $w i32) (param $used i32) (param $steps i32)
    (local $p i32) (local $end i32) (local $c i32) (local $step i32)
    (local.set $step (i32.shl (local.get $w) (i32.const 2)))
    (local.set $p (local.get $dst))
    (local.set $end (i32.add (local.get $dst) (i32.mul (local.get $steps) (local.get $step))))
    (block $done
      (loop $steps
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (local.get $used))
        (block $cdone
          (loop $cloop
            (br_if $cdone (i32.ge_u (local.get $c) (local.get $w)))
            (f32.store (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2))) (f32.const 0))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $cloop)))
        (local.set $p (i32.add (local.get $p) (local.get $step)))
        (br $steps))))

  ;; Packing for gemm.ts, where an operand is not read in place: panels of w
  ;; lines (w = 4: A's rows; w = 8: B's columns), `panels` of them, panel q's
  ;; k steps at dst + q·k·w·4, step j holding its w lines' values in order.
  ;; The source was copied as it is into this memory; lines past the operand's
  ;; edge in a last, partial panel read whatever follows it (gemm.ts zeroes
  ;; those slots after).

  ;; Lines contiguous along k (B = Wᵀ of a row-major W, as in Linear's
  ;; forward; w = 8, or 4): line c of panel q at src + (q·w + c)·ld, step j
  ;; at + 4j.
  ;; Four steps of four lines at a time: a 4×4 transpose in registers.
  (func (export "packK") (param $src i32) (param $ld i32) (param $dst i32) (param $k i32) (param $w i32) (param $panels i32)
    (local $q i32) (local $h i32) (local $j i32) (local $c i32) (local $l0 i32) (local $d i32) (local $k4 i32) (local $step i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $x v128) (local $y v128)
    (local.set $k4 (i32.and (local.get $k) (i32.const -4)))
    ;; bytes between steps in dst
    (local.set $step (i32.shl (local.get $w) (i32.const 2)))
    (block $qdone
      (loop $qloop
        (br_if $qdone (i32.ge_u (local.get $q) (local.get $panels)))
        ;; the panel's lines in groups of four (h = 0, or 0 and 1 for w = 8)
        (local.set $h (i32.const 0))
        (block $hdone
          (loop $hloop
            (br_if $hdone (i32.ge_u (i32.shl (local.get $h) (i32.const 2)) (local.get $w)))
            (local.set $l0 (i32.add (local.get $src)
              (i32.mul (i32.add (i32.mul (local.get $q) (local.get $w)) (i32.shl (local.get $h) (i32.const 2))) (local.get $ld))))
            (local.set $d (i32.add (i32.add (local.get $dst) (i32.mul (i32.mul (local.get $q) (local.get $k)) (local.get $step)))
              (i32.shl (local.get $h) (i32.const 4))))
            (local.set $j (i32.const 0))
            (block $jdone
              (loop $jloop
                (br_if $jdone (i32.ge_u (local.get $j) (local.get $k4)))
                (local.set $r0 (v128.load (local.get $l0)))
                (local.set $r1 (v128.load (i32.add (local.get $l0) (local.get $ld))))
                (local.set $r2 (v128.load (i32.add (local.get $l0) (i32.shl (local.get $ld) (i32.const 1)))))
                (local.set $r3 (v128.load (i32.add (local.get $l0) (i32.mul (local.get $ld) (i32.const 3)))))
                ;; x = r0[0] r1[0] r0[1] r1[1], y = r2[0] r3[0] r2[1] r3[1]
                (local.set $x (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
                (local.set $y (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
                (v128.store (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $x) (local.get $y)))
                (v128.store (i32.add (local.get $d) (local.get $step))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $x) (local.get $y)))
                ;; steps 2 and 3
                (local.set $x (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
                (local.set $y (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
                (v128.store (i32.add (local.get $d) (i32.shl (local.get $step) (i32.const 1)))
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $x) (local.get $y)))
                (v128.store (i32.add (local.get $d) (i32.mul (local.get $step) (i32.const 3)))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $x) (local.get $y)))
                (local.set $l0 (i32.add (local.get $l0) (i32.const 16)))
                (local.set $d (i32.add (local.get $d) (i32.shl (local.get $step) (i32.const 2))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $jloop)))
            ;; the last k mod 4 steps, one value at a time
            (block $tdone
              (loop $tloop
                (br_if $tdone (i32.ge_u (local.get $j) (local.get $k)))
                (local.set $c (i32.const 0))
                (loop $cloop
                  (f32.store (i32.add (local.get $d) (i32.shl (local.get $c) (i32.const 2)))
                    (f32.load (i32.add (local.get $l0) (i32.mul (local.get $c) (local.get $ld)))))
                  (local.set $c (i32.add (local.get $c) (i32.const 1)))
                  (br_if $cloop (i32.lt_u (local.get $c) (i32.const 4))))
                (local.set $l0 (i32.add (local.get $l0) (i32.const 4)))
                (local.set $d (i32.add (local.get $d) (local.get $step)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $tloop)))
            (local.set $h (i32.add (local.get $h) (i32.const 1)))
            (br $hloop)))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $qloop))))

  ;; Lines contiguous along the panel (A stored transposed, as Gᵀ in a weight
  ;; gradient; w = 4): step j of panel q's four values at src + j·ld + q·16,
  ;; one v128 copy per step.
  (func (export "packM") (param $src i32) (param $ld i32) (param $dst i32) (param $k i32) (param $panels i32)
    (local $q i32) (local $s i32) (local $d i32) (local $end i32)
    (local.set $d (local.get $dst))
    (block $qdone
      (loop $qloop
        (br_if $qdone (i32.ge_u (local.get $q) (local.get $panels)))
        (local.set $s (i32.add (local.get $src) (i32.shl (local.get $q) (i32.const 4))))
        (local.set $end (i32.add (local.get $d) (i32.shl (local.get $k) (i32.const 4))))
        (block $jdone
          (loop $jloop
            (br_if $jdone (i32.ge_u (local.get $d) (local.get $end)))
            (v128.store (local.get $d) (v128.load (local.get $s)))
            (local.set $s (i32.add (local.get $s) (local.get $ld)))
            (local.set $d (i32.add (local.get $d) (i32.const 16)))
            (br $jloop)))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $qloop))))

  ;; The output epilogue (a bias): C[i, j] += bias[j] for every row i < m
  ;; (perRow = 0: Linear's bias, one value per column) or C[i, j] += bias[i]
  ;; (perRow = 1: one value per row, a convolution's output channels), over
  ;; columns j < n4 (n rounded up to 4; columns past n are dropped by the
  ;; caller). C's rows are ldc bytes apart from c; the bias is at `bias`
  ;; (perRow = 0: n4 floats). f32x4.add rounds each sum once to float32, as
  ;; the separate add kernel's loop stores it: the same values bit for bit.
  (func (export "biasAdd") (param $c i32) (param $ldc i32) (param $m i32) (param $n4 i32) (param $bias i32) (param $perRow i32)
    (local $i i32) (local $p i32) (local $q i32) (local $end i32) (local $v v128)
    (block $idone
      (loop $iloop
        (br_if $idone (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $p (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))))
        (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n4) (i32.const 2))))
        (if (local.get $perRow)
          (then
            (local.set $v (f32x4.splat (f32.load (i32.add (local.get $bias) (i32.shl (local.get $i) (i32.const 2))))))
            (block $rdone
              (loop $rloop
                (br_if $rdone (i32.ge_u (local.get $p) (local.get $end)))
                (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $v)))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (br $rloop))))
          (else
            (local.set $q (local.get $bias))
            (block $cdone
              (loop $cloop
                (br_if $cdone (i32.ge_u (local.get $p) (local.get $end)))
                (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (v128.load (local.get $q))))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (local.set $q (i32.add (local.get $q) (i32.const 16)))
                (br $cloop)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $iloop))))

  ;; im2col for gemm.ts's implicit columns (docs/notes/architecture.md, "Implicit
  ;; im2col"): `planes` images of h×w floats at img (dense, one after another)
  ;; into their columns at dst, each plane's kh·kw rows of oh·ow window
  ;; positions in a row (the im2col kernel's layout: tap (ki, kj), then position
  ;; (oy, ox)); position (oy, ox) of tap (ki, kj) reads pixel
  ;; (oy·sh - ph + ki·dh, ox·sw - pw + kj·dw), +0 where that is outside the
  ;; image. A copy of values: the IR kernel's columns bit for bit.
  (func $im2col (export "im2col") (param $img i32) (param $dst i32) (param $planes i32) (param $h i32) (param $w i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $ph i32) (param $pw i32)
    (param $dh i32) (param $dw i32) (param $oh i32) (param $ow i32)
    (local $e i32) (local $ki i32) (local $kj i32) (local $oy i32) (local $iy i32) (local $off i32)
    (local $lo i32) (local $hi i32) (local $x i32) (local $s i32) (local $d i32) (local $end i32) (local $plane i32)
    (local $oy0 i32) (local $oy1 i32) (local $base i32)
    (local.set $plane (i32.shl (i32.mul (local.get $h) (local.get $w)) (i32.const 2)))
    (block $edone
      (loop $eloop
        (br_if $edone (i32.ge_u (local.get $e) (local.get $planes)))
        (local.set $ki (i32.const 0))
        (loop $kiloop
          (local.set $kj (i32.const 0))
          (loop $kjloop
            ;; the positions whose column is inside the image: ox in [lo, hi)
            (local.set $off (i32.sub (i32.mul (local.get $kj) (local.get $dw)) (local.get $pw)))
            (local.set $lo (i32.const 0))
            (if (i32.lt_s (local.get $off) (i32.const 0))
              (then (local.set $lo (i32.div_u (i32.sub (i32.add (i32.sub (i32.const 0) (local.get $off)) (local.get $sw)) (i32.const 1)) (local.get $sw)))))
            (if (i32.gt_s (local.get $lo) (local.get $ow)) (then (local.set $lo (local.get $ow))))
            (local.set $hi (i32.const 0))
            (if (i32.gt_s (i32.sub (local.get $w) (local.get $off)) (i32.const 0))
              (then (local.set $hi (i32.div_u (i32.sub (i32.add (i32.sub (local.get $w) (local.get $off)) (local.get $sw)) (i32.const 1)) (local.get $sw)))))
            (if (i32.gt_s (local.get $hi) (local.get $ow)) (then (local.set $hi (local.get $ow))))
            (if (i32.lt_s (local.get $hi) (local.get $lo)) (then (local.set $hi (local.get $lo))))
            (if (i32.and (i32.and (i32.eq (local.get $sh) (i32.const 1)) (i32.eq (local.get $sw) (i32.const 1))) (i32.eq (local.get $ow) (local.get $w)))
              (then
                ;; unit strides and rows as long as the image's: the valid rows [oy0, oy1) are one
                ;; shifted copy of the image (from (oy0, lo) to (oy1 - 1, hi)), then the positions
                ;; outside [lo, hi) of each of those rows are set to +0
                (local.set $oy0 (i32.sub (local.get $ph) (i32.mul (local.get $ki) (local.get $dh))))
                (if (i32.lt_s (local.get $oy0) (i32.const 0)) (then (local.set $oy0 (i32.const 0))))
                (if (i32.gt_s (local.get $oy0) (local.get $oh)) (then (local.set $oy0 (local.get $oh))))
                (local.set $oy1 (i32.sub (i32.add (local.get $h) (local.get $ph)) (i32.mul (local.get $ki) (local.get $dh))))
                (if (i32.gt_s (local.get $oy1) (local.get $oh)) (then (local.set $oy1 (local.get $oh))))
                (if (i32.lt_s (local.get $oy1) (local.get $oy0)) (then (local.set $oy1 (local.get $oy0))))
                (local.set $base (local.get $dst))
                ;; rows of padding before
                (local.set $end (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $oy0) (local.get $ow)) (i32.const 2))))
                (block $z1d (loop $z1l
                  (br_if $z1d (i32.ge_u (local.get $dst) (local.get $end)))
                  (f32.store (local.get $dst) (f32.const 0))
                  (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                  (br $z1l)))
                (if (i32.and (i32.lt_s (local.get $oy0) (local.get $oy1)) (i32.lt_s (local.get $lo) (local.get $hi)))
                  (then
                    ;; the copy: destination (oy0, lo) .. (oy1 - 1, hi), source row iy = oy - ph + ki·dh, column x + off
                    (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $lo) (i32.const 2))))
                    (local.set $s (i32.add (local.get $img)
                      (i32.shl (i32.add (i32.add (i32.mul (i32.add (i32.sub (local.get $oy0) (local.get $ph)) (i32.mul (local.get $ki) (local.get $dh))) (local.get $w)) (local.get $lo)) (local.get $off)) (i32.const 2))))
                    (local.set $end (i32.add (local.get $dst)
                      (i32.shl (i32.add (i32.mul (i32.sub (i32.sub (local.get $oy1) (local.get $oy0)) (i32.const 1)) (local.get $ow)) (local.get $hi)) (i32.const 2))))
                    (block $bd (loop $bl
                      (br_if $bd (i32.gt_s (i32.add (local.get $d) (i32.const 16)) (local.get $end)))
                      (v128.store (local.get $d) (v128.load (local.get $s)))
                      (local.set $d (i32.add (local.get $d) (i32.const 16)))
                      (local.set $s (i32.add (local.get $s) (i32.const 16)))
                      (br $bl)))
                    (block $bsd (loop $bsl
                      (br_if $bsd (i32.ge_u (local.get $d) (local.get $end)))
                      (f32.store (local.get $d) (f32.load (local.get $s)))
                      (local.set $d (i32.add (local.get $d) (i32.const 4)))
                      (local.set $s (i32.add (local.get $s) (i32.const 4)))
                      (br $bsl)))
                    ;; +0 outside [lo, hi) in each copied row
                    (local.set $oy (local.get $oy0))
                    (block $fd (loop $fl
                      (br_if $fd (i32.ge_u (local.get $oy) (local.get $oy1)))
                      (local.set $x (i32.const 0))
                      (block $fhd (loop $fhl
                        (br_if $fhd (i32.ge_u (local.get $x) (local.get $lo)))
                        (f32.store (i32.add (local.get $dst) (i32.shl (local.get $x) (i32.const 2))) (f32.const 0))
                        (local.set $x (i32.add (local.get $x) (i32.const 1)))
                        (br $fhl)))
                      (local.set $x (local.get $hi))
                      (block $ftd (loop $ftl
                        (br_if $ftd (i32.ge_u (local.get $x) (local.get $ow)))
                        (f32.store (i32.add (local.get $dst) (i32.shl (local.get $x) (i32.const 2))) (f32.const 0))
                        (local.set $x (i32.add (local.get $x) (i32.const 1)))
                        (br $ftl)))
                      (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $ow) (i32.const 2))))
                      (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
                      (br $fl))))
                  (else
                    ;; nothing valid: the rows [oy0, oy1) are padding as well
                    (local.set $end (i32.add (local.get $dst) (i32.shl (i32.mul (i32.sub (local.get $oy1) (local.get $oy0)) (local.get $ow)) (i32.const 2))))
                    (block $z2d (loop $z2l
                      (br_if $z2d (i32.ge_u (local.get $dst) (local.get $end)))
                      (f32.store (local.get $dst) (f32.const 0))
                      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                      (br $z2l)))))
                ;; rows of padding after
                (local.set $end (i32.add (local.get $base) (i32.shl (i32.mul (local.get $oh) (local.get $ow)) (i32.const 2))))
                (block $z3d (loop $z3l
                  (br_if $z3d (i32.ge_u (local.get $dst) (local.get $end)))
                  (f32.store (local.get $dst) (f32.const 0))
                  (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                  (br $z3l))))
              (else
            (local.set $oy (i32.const 0))
            (loop $oyloop
              (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $ph)) (i32.mul (local.get $ki) (local.get $dh))))
              (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $ow) (i32.const 2))))
              (if (i32.ge_u (local.get $iy) (local.get $h))
                (then
                  ;; a row of padding (iy < 0 reads as a huge unsigned number)
                  (block $zd (loop $zl
                    (br_if $zd (i32.ge_u (local.get $dst) (local.get $end)))
                    (f32.store (local.get $dst) (f32.const 0))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                    (br $zl))))
                (else
                  (local.set $x (i32.const 0))
                  (block $hd (loop $hl
                    (br_if $hd (i32.ge_u (local.get $x) (local.get $lo)))
                    (f32.store (local.get $dst) (f32.const 0))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                    (local.set $x (i32.add (local.get $x) (i32.const 1)))
                    (br $hl)))
                  (local.set $s (i32.add (local.get $img)
                    (i32.shl (i32.add (i32.add (i32.mul (local.get $iy) (local.get $w)) (i32.mul (local.get $lo) (local.get $sw))) (local.get $off)) (i32.const 2))))
                  (if (i32.eq (local.get $sw) (i32.const 1))
                    (then
                      ;; unit stride: four at a time, then the rest
                      (block $vd (loop $vl
                        (br_if $vd (i32.gt_s (i32.add (local.get $x) (i32.const 4)) (local.get $hi)))
                        (v128.store (local.get $dst) (v128.load (local.get $s)))
                        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
                        (local.set $s (i32.add (local.get $s) (i32.const 16)))
                        (local.set $x (i32.add (local.get $x) (i32.const 4)))
                        (br $vl)))))
                  (block $cd (loop $cl
                    (br_if $cd (i32.ge_u (local.get $x) (local.get $hi)))
                    (f32.store (local.get $dst) (f32.load (local.get $s)))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                    (local.set $s (i32.add (local.get $s) (i32.shl (local.get $sw) (i32.const 2))))
                    (local.set $x (i32.add (local.get $x) (i32.const 1)))
                    (br $cl)))
                  (block $td (loop $tl
                    (br_if $td (i32.ge_u (local.get $dst) (local.get $end)))
                    (f32.store (local.get $dst) (f32.const 0))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                    (br $tl)))))
              (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
              (br_if $oyloop (i32.lt_u (local.get $oy) (local.get $oh))))))
            (local.set $kj (i32.add (local.get $kj) (i32.const 1)))
            (br_if $kjloop (i32.lt_u (local.get $kj) (local.get $kw))))
          (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
          (br_if $kiloop (i32.lt_u (local.get $ki) (local.get $kh))))
        (local.set $img (i32.add (local.get $img) (local.get $plane)))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br $eloop))))
)
