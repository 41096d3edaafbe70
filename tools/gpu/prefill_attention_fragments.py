#!/usr/bin/env python3
# Host check of the fragment bookkeeping in src/backend/cuda/kernels/attention_prefill.cu, for
# machines without a GPU: emulates one warp on one 64-key tile with the PTX ISA's definitions of
# ldmatrix (.x4 and .x4.trans) and the mma.m16n8k16 A/B/C fragments, feeding them through the
# kernel's own index formulas (Q fragment loads, ldmatrix lane addresses and step offsets, the
# C -> A reuse of S as P, the mask and output indices), and checks S = Q K^T and O = P V exactly
# on small integers; also that the loader covers each 16-byte chunk of a tile once (128 and 256
# threads) and that the padded rows make each ldmatrix phase conflict-free. Keep the formulas here
# in step with the kernel.   python3 tools/gpu/prefill_attention_fragments.py  (a few seconds)
import random

random.seed(1)
KEYS, PAD = 64, 8

def ldmatrix_x4(smem, ld, addresses, trans):
    # addresses[L] = (row, col) element of the row lane L supplies (row L%8 of matrix L//8).
    regs = [[None] * 4 for _ in range(32)]
    for j in range(4):
        rows = [addresses[8 * j + i] for i in range(8)]
        M = [[smem[r * ld + c + e] for e in range(8)] for (r, c) in rows]
        for L in range(32):
            if not trans:
                regs[L][j] = (M[L // 4][2 * (L % 4)], M[L // 4][2 * (L % 4) + 1])
            else:
                regs[L][j] = (M[2 * (L % 4)][L // 4], M[2 * (L % 4) + 1][L // 4])
    return regs

def mma(d, a, b):
    # d[L][4], a[L][4] pairs, b[L][2] pairs: reconstruct A (16x16), B (16x8) from fragments.
    A = [[None] * 16 for _ in range(16)]; B = [[None] * 8 for _ in range(16)]
    for L in range(32):
        g, t = L // 4, L % 4
        for i in range(4):
            row = g + 8 * (i % 2); col = 2 * t + 8 * (i // 2)
            A[row][col], A[row][col + 1] = a[L][i]
        for i in range(2):
            k = 2 * t + 8 * i
            B[k][g], B[k + 1][g] = b[L][i]
    for L in range(32):
        g, t = L // 4, L % 4
        for i in range(4):
            row = g + 8 * (i // 2); col = 2 * t + (i % 2)
            d[L][i] += sum(A[row][k] * B[k][col] for k in range(16))

for D in (64, 128):
    ld = D + PAD
    Q = [[random.randint(-5, 5) for _ in range(D)] for _ in range(16)]  # this warp's 16 rows
    K = [[random.randint(-5, 5) for _ in range(D)] for _ in range(KEYS)]
    V = [[random.randint(-5, 5) for _ in range(D)] for _ in range(KEYS)]
    # loader coverage: 128 threads, chunk = tid % (D/8), key = tid // (D/8) + pass * keys_per_pass
    for threads in (128, 256):  # kHeads = 1, 2
        cpr = D // 8; kpp = threads // cpr; seen = []
        for tid in range(threads):
            for p in range(KEYS // kpp):
                seen.append((tid // cpr + p * kpp, tid % cpr))
        assert sorted(seen) == sorted((k, c) for k in range(KEYS) for c in range(cpr)), "loader coverage"
    ksm = [0] * (KEYS * ld); vsm = [0] * (KEYS * ld)
    for k in range(KEYS):
        for d in range(D):
            ksm[k * ld + d] = K[k][d]; vsm[k * ld + d] = V[k][d]
    # Q fragments as the kernel loads them: q_fragments[step][half*2 + r] = Q[row_r][step*16 + half*8 + 2t + {0,1}]
    qf = [[[None] * 4 for _ in range(32)] for _ in range(D // 16)]
    for L in range(32):
        g, t = L // 4, L % 4; rows = (g, g + 8)
        for step in range(D // 16):
            for half in range(2):
                for r in range(2):
                    c = step * 16 + half * 8 + 2 * t
                    qf[step][L][half * 2 + r] = (Q[rows[r]][c], Q[rows[r]][c + 1])
    # S
    s = [[[0] * 4 for _ in range(32)] for _ in range(KEYS // 8)]
    for step in range(D // 16):
        for pair in range(KEYS // 16):
            addresses = []
            for L in range(32):
                matrix, mrow = L // 8, L % 8
                addresses.append((8 * (matrix // 2) + mrow + 16 * pair, 8 * (matrix % 2) + 16 * step))
            b = ldmatrix_x4(ksm, ld, addresses, trans=False)
            mma(s[2 * pair], qf[step], [(b[L][0], b[L][1]) for L in range(32)])
            mma(s[2 * pair + 1], qf[step], [(b[L][2], b[L][3]) for L in range(32)])
    for L in range(32):
        g, t = L // 4, L % 4
        for j in range(KEYS // 8):
            for e in range(4):
                row = (g, g + 8)[e // 2]; key = 8 * j + 2 * t + e % 2  # the kernel's mask indexing
                assert s[j][L][e] == sum(Q[row][d] * K[key][d] for d in range(D)), ("S", D, L, j, e)
    # P = S (exact integers stand in for the exponentials); O = P V through the C -> A reuse
    P = [[None] * KEYS for _ in range(16)]
    for L in range(32):
        g, t = L // 4, L % 4
        for j in range(KEYS // 8):
            for e in range(4):
                P[(g, g + 8)[e // 2]][8 * j + 2 * t + e % 2] = s[j][L][e]
    o = [[[0] * 4 for _ in range(32)] for _ in range(D // 8)]
    for step in range(KEYS // 16):
        p = [[(s[2 * step][L][0], s[2 * step][L][1]), (s[2 * step][L][2], s[2 * step][L][3]),
              (s[2 * step + 1][L][0], s[2 * step + 1][L][1]), (s[2 * step + 1][L][2], s[2 * step + 1][L][3])]
             for L in range(32)]
        for pair in range(D // 16):
            addresses = []
            for L in range(32):
                matrix, mrow = L // 8, L % 8
                addresses.append((8 * (matrix % 2) + mrow + 16 * step, 8 * (matrix // 2) + 16 * pair))
            b = ldmatrix_x4(vsm, ld, addresses, trans=True)
            mma(o[2 * pair], p, [(b[L][0], b[L][1]) for L in range(32)])
            mma(o[2 * pair + 1], p, [(b[L][2], b[L][3]) for L in range(32)])
    for L in range(32):
        g, t = L // 4, L % 4
        for r in range(2):
            row = (g, g + 8)[r]
            for j in range(D // 8):
                for e in range(2):
                    col = 8 * j + 2 * t + e  # the kernel's output store
                    assert o[j][L][2 * r + e] == sum(P[row][k] * V[k][col] for k in range(KEYS)), ("O", D, L, j)
    # bank check: 8 row addresses of each ldmatrix phase hit distinct 4-bank groups
    for base_rows in ([8 * (m // 2) + i for i in range(8)] for m in range(4)):
        banks = [((r * ld * 2) // 4) % 32 for r in base_rows]
        assert len({b // 4 for b in banks}) == 8, banks
    print("D", D, "ok: S = Q K^T and O = P V through the kernel's fragment indices; loader covers the tile once")
