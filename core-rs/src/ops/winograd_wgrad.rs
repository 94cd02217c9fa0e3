//! Winograd F(4x4, 3x3) weight gradient of f32 3x3 stride-1 convolutions.
//!
//! The forward computes each 4x4 output tile as `Y = A^T [U . V] A` with `U = G g G^T` and
//! `V = B^T d B`, summed over input channels. Differentiating that exactly, tile by tile:
//! `dM = A dY A^T` (the 4x4 output-gradient tile to 6x6), `dU_xi [O, C] = sum over tiles of
//! dM_xi [O, T] @ V_xi^T [T, C]` (36 GEMMs whose reduction runs over the tiles, channels as
//! M and N), and finally `dg = G^T dU G`. 36 multiplies per channel pair and tile instead of
//! 144, with the same input transform as the forward (`winograd::input_channel`).
//!
//! Accuracy: as in the forward, the transforms' constants amplify f32 rounding; the tests
//! check the result against float64 at the forward's tolerance (3e-5 of the largest
//! magnitude), `tests::error_vs_f64` prints it at ResNet-50's channel counts.
use super::winograd::{chunk_tiles, for_runs, input_channel, wide_fn, Wino};
use crate::kernels::{num_threads, pool, SendPtr};
use gemm::Parallelism;
use rayon::prelude::*;

wide_fn! {
    /// dM[xi, oi, :] for the chunk's tiles t0..t1 (row stride `tc`): A dY A^T of each
    /// tile's 4x4 block of output-gradient channel oi, zero past the output's edge. `s` is
    /// scratch of 10 rows of 4 * tw.
    fn grad_channel(gy: &[f32], g: &Wino, oi: usize, t0: usize, t1: usize, dm: SendPtr, s: &mut Vec<f32>) {
        let (o, tc, len) = (g.o, t1 - t0, 4 * g.tw());
        let (oh, ow) = (g.oh(), g.ow());
        s.resize(10 * len, 0.0);
        let (p, e) = s.split_at_mut(4 * len);
        let dm = dm.get() as *mut f32;
        for_runs(g, t0, t1, |ni, ty, tx0, run, col0| {
            let plane = &gy[(ni * o + oi) * oh * ow..(ni * o + oi + 1) * oh * ow];
            let (n, x0) = (4 * run, 4 * tx0);
            // the four gradient rows of this tile row, zero past the right and bottom edges
            for k in 0..4 {
                let dst = &mut p[k * len..k * len + n];
                let y = 4 * ty + k;
                if y >= oh {
                    dst.fill(0.0);
                    continue;
                }
                let hi = (ow - x0).min(n);
                dst[..hi].copy_from_slice(&plane[y * ow + x0..y * ow + x0 + hi]);
                dst[hi..].fill(0.0);
            }
            // A along y, every column at once: e_i = sum_p A^T[p, i] d_p
            {
                let d: [&[f32]; 4] = std::array::from_fn(|k| &p[k * len..k * len + n]);
                let (r0, rest) = e.split_at_mut(len);
                let (r1, rest) = rest.split_at_mut(len);
                let (r2, rest) = rest.split_at_mut(len);
                let (r3, rest) = rest.split_at_mut(len);
                let (r4, r5) = rest.split_at_mut(len);
                for q in 0..n {
                    let (d0, d1, d2, d3) = (d[0][q], d[1][q], d[2][q], d[3][q]);
                    let (a, b) = (d0 + d2, d1 + d3);
                    let (c, f) = (d0 + 4.0 * d2, 2.0 * d1 + 8.0 * d3);
                    r0[q] = d0;
                    r1[q] = a + b;
                    r2[q] = a - b;
                    r3[q] = c + f;
                    r4[q] = c - f;
                    r5[q] = d3;
                }
            }
            // A along x, tile by tile, into dM[i*6 + j, oi, col0 + tile]
            for i in 0..6 {
                let ri = &e[i * len..i * len + n];
                let out = |j: usize| unsafe { std::slice::from_raw_parts_mut(dm.add(((i * 6 + j) * o + oi) * tc + col0), run) };
                let (o0, o1, o2, o3, o4, o5) = (out(0), out(1), out(2), out(3), out(4), out(5));
                for t in 0..run {
                    let d = &ri[4 * t..4 * t + 4];
                    let (d0, d1, d2, d3) = (d[0], d[1], d[2], d[3]);
                    let (a, b) = (d0 + d2, d1 + d3);
                    let (c, f) = (d0 + 4.0 * d2, 2.0 * d1 + 8.0 * d3);
                    o0[t] = d0;
                    o1[t] = a + b;
                    o2[t] = a - b;
                    o3[t] = c + f;
                    o4[t] = c - f;
                    o5[t] = d3;
                }
            }
        });
    }
}

wide_fn! {
    /// dW[q] (3x3 each, `dw` [O*C, 3, 3]) = G^T dU[:, q] G for the flattened (o, c) pairs
    /// q in q0..q1 of `du` [36, O*C], 64 pairs at a time.
    fn weight_inverse(du: &[f32], total: usize, q0: usize, q1: usize, dw: SendPtr) {
        const B: usize = 64;
        let dw = dw.get() as *mut f32;
        let mut t = [[0f32; B]; 18];
        let mut qb = q0;
        while qb < q1 {
            let nb = (q1 - qb).min(B);
            // t [3, 6] = G^T dU: f0 = u0/4 - (u1+u2)/6 + (u3+u4)/24, f1 = (u2-u1)/6 + (u3-u4)/12,
            // f2 = (u3+u4-u1-u2)/6 + u5, applied down each of dU's six columns
            for j in 0..6 {
                let col = |i: usize| &du[(i * 6 + j) * total + qb..(i * 6 + j) * total + qb + nb];
                let (u0, u1, u2, u3, u4, u5) = (col(0), col(1), col(2), col(3), col(4), col(5));
                for l in 0..nb {
                    let (s12, d12) = (u1[l] + u2[l], u2[l] - u1[l]);
                    let (s34, d34) = (u3[l] + u4[l], u3[l] - u4[l]);
                    t[j][l] = u0[l] * 0.25 - s12 * (1.0 / 6.0) + s34 * (1.0 / 24.0);
                    t[6 + j][l] = d12 * (1.0 / 6.0) + d34 * (1.0 / 12.0);
                    t[12 + j][l] = (s34 - s12) * (1.0 / 6.0) + u5[l];
                }
            }
            // dW[a, b] = (t G)[a, b], the same three combinations along each row of t
            for a in 0..3 {
                let r = &t[a * 6..a * 6 + 6];
                for l in 0..nb {
                    let (s12, d12) = (r[1][l] + r[2][l], r[2][l] - r[1][l]);
                    let (s34, d34) = (r[3][l] + r[4][l], r[3][l] - r[4][l]);
                    let out = unsafe { std::slice::from_raw_parts_mut(dw.add((qb + l) * 9 + a * 3), 3) };
                    out[0] = r[0][l] * 0.25 - s12 * (1.0 / 6.0) + s34 * (1.0 / 24.0);
                    out[1] = d12 * (1.0 / 6.0) + d34 * (1.0 / 12.0);
                    out[2] = (s34 - s12) * (1.0 / 6.0) + r[5][l];
                }
            }
            qb += nb;
        }
    }
}

/// Runs `f(i, scratch)` for i in 0..count, across the pool when there is more than one thread.
fn run(threads: usize, count: usize, f: &(dyn Fn(usize, &mut Vec<f32>) + Sync)) {
    if threads > 1 {
        pool().install(|| (0..count).into_par_iter().for_each_init(Vec::new, |s, i| f(i, s)));
    } else {
        let mut s = Vec::new();
        (0..count).for_each(|i| f(i, &mut s));
    }
}

/// `dw` [O, C, 3, 3] = the weight gradient of the 3x3 stride-1 convolution of `x` [N, C, H, W]
/// (geometry `g`, padding included) given the output gradient `gy` [N, O, OH, OW], all
/// contiguous.
pub(crate) fn weight_grad3x3(dw: &mut [f32], gy: &[f32], x: &[f32], g: &Wino) {
    let (c, o) = (g.c, g.o);
    let total = g.n * g.th() * g.tw();
    let t = chunk_tiles(g, total);
    let mut v = vec![0f32; 36 * c * t];
    let mut m = vec![0f32; 36 * o * t];
    let mut du = vec![0f32; 36 * o * c];
    let pdu = SendPtr(du.as_mut_ptr() as *mut u8);
    let threads = num_threads();
    let mut t0 = 0;
    while t0 < total {
        let t1 = (t0 + t).min(total);
        let tc = t1 - t0;
        let pv = SendPtr(v.as_mut_ptr() as *mut u8);
        let pm = SendPtr(m.as_mut_ptr() as *mut u8);
        run(threads, c, &|ci, s| input_channel(x, g, ci, t0, t1, pv, s));
        run(threads, o, &|oi, s| grad_channel(gy, g, oi, t0, t1, pm, s));
        let first = t0 == 0;
        // dU_xi [O, C] (+)= dM_xi [O, tc] @ V_xi^T [tc, C]
        run(threads, 36, &|xi, _| unsafe {
            gemm::gemm(o, c, tc, (pdu.get() as *mut f32).add(xi * o * c), 1, c as isize, !first,
                (pm.get() as *const f32).add(xi * o * tc), 1, tc as isize,
                (pv.get() as *const f32).add(xi * c * tc), tc as isize, 1,
                1.0, 1.0, false, false, false, Parallelism::None);
        });
        t0 = t1;
    }
    let pairs = o * c;
    let pw = SendPtr(dw.as_mut_ptr() as *mut u8);
    let parts = if threads > 1 && pairs >= 4096 { threads } else { 1 };
    let per = pairs.div_ceil(parts);
    run(parts, parts, &|i, _| weight_inverse(&du, pairs, i * per, ((i + 1) * per).min(pairs), pw));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::winograd::tests::{max_rel_error, rand, ODD_SHAPES};

    /// The weight gradient in f64, summed directly.
    fn direct(gy: &[f32], x: &[f32], g: &Wino) -> Vec<f64> {
        let (oh, ow) = (g.oh(), g.ow());
        let mut dw = vec![0f64; g.o * g.c * 9];
        for n in 0..g.n {
            for o in 0..g.o {
                for c in 0..g.c {
                    for ki in 0..3 {
                        for kj in 0..3 {
                            let mut acc = 0f64;
                            for i in 0..oh {
                                for j in 0..ow {
                                    let (yy, xx) = ((i + ki) as isize - g.ph as isize, (j + kj) as isize - g.pw as isize);
                                    if yy >= 0 && xx >= 0 && (yy as usize) < g.h && (xx as usize) < g.w {
                                        acc += x[((n * g.c + c) * g.h + yy as usize) * g.w + xx as usize] as f64
                                            * gy[((n * g.o + o) * oh + i) * ow + j] as f64;
                                    }
                                }
                            }
                            dw[((o * g.c + c) * 3 + ki) * 3 + kj] += acc;
                        }
                    }
                }
            }
        }
        dw
    }

    fn rel_error(g: &Wino) -> f64 {
        let x = rand(g.n * g.c * g.h * g.w, 3);
        let gy = rand(g.n * g.o * g.oh() * g.ow(), 4);
        let mut dw = vec![0f32; g.o * g.c * 9];
        weight_grad3x3(&mut dw, &gy, &x, g);
        max_rel_error(&dw, &direct(&gy, &x, g))
    }

    #[test]
    fn matches_direct_on_odd_shapes() {
        for &(n, c, h, w, o, ph, pw) in &ODD_SHAPES {
            let g = Wino { n, c, h, w, o, ph, pw };
            let e = rel_error(&g);
            assert!(e < 1e-5, "{g:?}: relative error {e}");
        }
    }

    #[test]
    fn error_vs_f64() {
        // ResNet-50's channel counts; the sum over tiles runs over several scratch chunks
        for &(c, h) in &[(64, 56), (128, 28), (256, 14)] {
            let g = Wino { n: 2, c, h, w: h, o: 16, ph: 1, pw: 1 };
            let e = rel_error(&g);
            eprintln!("winograd F(4x4,3x3) weight gradient C={c} {h}x{h}: max error / max |dw| = {e:.2e}");
            assert!(e < 3e-5, "C={c}: {e}");
        }
    }
}
