/* The element-wise half of a min* layer (minGRU, minLSTM) as one loop per sequence, for rnnkit.nn.scan.
 *
 * The math is scan.py's (the comment above _MinLayer); this file only fuses it. Through aten a layer makes ~8
 * separate passes over (N, T, H) plus an op per step; here each step's gates and state update happen together
 * while the row is in registers, so the forward reads xp once and writes h once, and the backward reads xp, h
 * and dh once and writes dxp over xp. Compiled by scan.py with -DREAL=float or -DREAL=double; a call handles
 * sequences [n0, n1), so the caller can split a batch between threads.
 *
 * Shapes (row-major, contiguous): xp (N, T, G*H) with G = 2 (minGRU: a_z, a_h) or 3 (minLSTM: a_f, a_i, a_h);
 * h and dh (N, T, H); h0 and dh0 (N, H); mask (N, T) of 0/1 or NULL; db (N, G*H) or NULL: each sequence's
 * share of the bias gradient, summed while its rows are in cache (the caller adds the N shares up).
 *   forward : xp's a_h becomes h~ = g(a_h); minGRU's a_z becomes the (masked) z; minLSTM keeps a_f and a_i.
 *             h_t = h_{t-1} + w_t (h~_t - h_{t-1}), w = z (minGRU) or i' = σ(log σ(a_i) - log σ(a_f)).
 *   backward: g_t = dh_t + (1 - w_{t+1}) g_{t+1};  dw_t = g_t (h~_t - h_{t-1});  dh~_t = g_t w_t;
 *             da_h = dh~ g'(a_h) with g' read from h~ (1 where h~ >= 1/2, else h~ (1 - h~));
 *             minGRU da_z = dw z (1 - z); minLSTM dd = dw w (1 - w), da_f = -σ(-a_f) dd, da_i = σ(-a_i) dd;
 *             dh0 = (1 - w_1) g_1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <math.h>

#ifndef REAL
#define REAL float
#endif

#define EXP(x) _Generic((x), float: expf, default: exp)(x)
#define LOG1P(x) _Generic((x), float: log1pf, default: log1p)(x)

static inline REAL sigmoid(REAL a) { return (REAL)1 / ((REAL)1 + EXP(-a)); }

/* g(a) = a + 1/2 for a >= 0, σ(a) below (Feng et al. 2024 §B.3), as max(σ(a), a + 1/2) like scan.py. */
static inline REAL g_act(REAL a) {
    const REAL s = sigmoid(a), l = a + (REAL)0.5;
    return l > s ? l : s;
}

/* log σ(a) = min(a, 0) - log1p(exp(-|a|)), finite for any a. */
static inline REAL log_sigmoid(REAL a) {
    const REAL neg = a < 0 ? a : (REAL)0, mag = a < 0 ? -a : a;
    return neg - LOG1P(EXP(-mag));
}

void min_forward(int64_t n0, int64_t n1, int64_t T, int64_t H, int32_t lstm, int32_t reverse, REAL *xp,
                 const REAL *h0, const REAL *mask, REAL *h) {
    const int64_t G = lstm ? 3 : 2;
    for (int64_t n = n0; n < n1; n++) {
        const REAL *prev = h0 + n * H;
        for (int64_t s = 0; s < T; s++) {
            const int64_t t = reverse ? T - 1 - s : s;
            REAL *restrict row = xp + (n * T + t) * G * H;
            REAL *restrict ah = row + (G - 1) * H;
            REAL *restrict out = h + (n * T + t) * H;
            const REAL *restrict hp = prev;
            const REAL m = mask ? mask[n * T + t] : (REAL)1;
            if (lstm) {
                const REAL *restrict af = row, *restrict ai = row + H;
                for (int64_t j = 0; j < H; j++) {
                    const REAL w = m * sigmoid(log_sigmoid(ai[j]) - log_sigmoid(af[j]));
                    const REAL ht = g_act(ah[j]);
                    ah[j] = ht;
                    out[j] = hp[j] + w * (ht - hp[j]);
                }
            } else {
                for (int64_t j = 0; j < H; j++) {
                    const REAL z = m * sigmoid(row[j]);
                    const REAL ht = g_act(ah[j]);
                    row[j] = z;
                    ah[j] = ht;
                    out[j] = hp[j] + z * (ht - hp[j]);
                }
            }
            prev = out;
        }
    }
}

/* Returns 0, or 1 when the (2, H) scratch could not be allocated (the caller then raises). */
int32_t min_backward(int64_t n0, int64_t n1, int64_t T, int64_t H, int32_t lstm, int32_t reverse, REAL *xp,
                     const REAL *h, const REAL *h0, const REAL *dh, const REAL *mask, REAL *dh0, REAL *db) {
    const int64_t G = lstm ? 3 : 2;
    REAL *carry = malloc(2 * (size_t)H * sizeof(REAL));
    if (!carry) return 1;
    REAL *restrict an = carry, *restrict gn = carry + H; /* 1 - w_{t+1} and g_{t+1} of the step visited last */
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t j = 0; j < H; j++) an[j] = gn[j] = 0;
        REAL *restrict dbn = db ? db + n * G * H : NULL;
        if (dbn)
            for (int64_t c = 0; c < G * H; c++) dbn[c] = 0;
        for (int64_t s = T - 1; s >= 0; s--) {
            const int64_t t = reverse ? T - 1 - s : s;
            REAL *restrict row = xp + (n * T + t) * G * H;
            REAL *restrict ah = row + (G - 1) * H;
            const REAL *restrict hp = s == 0 ? h0 + n * H : h + (n * T + (reverse ? t + 1 : t - 1)) * H;
            const REAL *restrict d = dh + (n * T + t) * H;
            const REAL m = mask ? mask[n * T + t] : (REAL)1;
            if (lstm) {
                for (int64_t j = 0; j < H; j++) {
                    const REAL g = d[j] + an[j] * gn[j], ht = ah[j], af = row[j], ai = row[H + j];
                    const REAL w = m * sigmoid(log_sigmoid(ai) - log_sigmoid(af));
                    const REAL dd = m * g * (ht - hp[j]) * w * ((REAL)1 - w); /* dw w (1 - w) */
                    ah[j] = g * w * (ht >= (REAL)0.5 ? (REAL)1 : ht * ((REAL)1 - ht));
                    row[j] = -sigmoid(-af) * dd;
                    row[H + j] = sigmoid(-ai) * dd;
                    an[j] = (REAL)1 - w;
                    gn[j] = g;
                }
            } else {
                for (int64_t j = 0; j < H; j++) {
                    const REAL g = d[j] + an[j] * gn[j], ht = ah[j], z = row[j]; /* z was masked in the forward */
                    ah[j] = g * z * (ht >= (REAL)0.5 ? (REAL)1 : ht * ((REAL)1 - ht));
                    row[j] = m * g * (ht - hp[j]) * z * ((REAL)1 - z); /* dw z (1 - z) */
                    an[j] = (REAL)1 - z;
                    gn[j] = g;
                }
            }
            if (dbn)
                for (int64_t c = 0; c < G * H; c++) dbn[c] += row[c];
        }
        for (int64_t j = 0; j < H; j++) dh0[n * H + j] = an[j] * gn[j];
    }
    free(carry);
    return 0;
}
