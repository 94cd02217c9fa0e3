//! Elementwise loops over strided operands, with contiguous and broadcast-scalar fast paths.
use super::{SendPtr, StridedLoop};

/// out = f(a) elementwise; `a` is laid out (by its strides) over `shape`, as is `out`.
///
/// # Safety
/// Pointers must be valid for every element the strides reach; `out` must not alias `a`
/// except exactly (same pointer and strides).
pub unsafe fn map1<A: Copy, O: Copy>(
    shape: &[usize],
    out: (*mut O, &[isize]),
    a: (*const A, &[isize]),
    f: impl Fn(A) -> O + Sync,
) {
    let lp = StridedLoop::new(shape, [out.1, a.1]);
    let (po, pa) = (SendPtr(out.0 as *mut u8), SendPtr(a.0 as *mut u8));
    lp.run(move |off, n, st| {
        let o = (po.get() as *mut O).offset(off[0]);
        let x = (pa.get() as *const A).offset(off[1]);
        if st == [1, 1] {
            let os = std::slice::from_raw_parts_mut(o, n);
            let xs = std::slice::from_raw_parts(x, n);
            zip1_dispatch(os, xs, &f);
        } else {
            for i in 0..n as isize {
                *o.offset(i * st[0]) = f(*x.offset(i * st[1]));
            }
        }
    });
}

/// out = f(a, b) elementwise over `shape` (inputs already broadcast by their strides).
///
/// # Safety
/// As for [`map1`].
pub unsafe fn map2<A: Copy, B: Copy, O: Copy>(
    shape: &[usize],
    out: (*mut O, &[isize]),
    a: (*const A, &[isize]),
    b: (*const B, &[isize]),
    f: impl Fn(A, B) -> O + Sync,
) {
    let lp = StridedLoop::new(shape, [out.1, a.1, b.1]);
    let (po, pa, pb) = (SendPtr(out.0 as *mut u8), SendPtr(a.0 as *mut u8), SendPtr(b.0 as *mut u8));
    lp.run(move |off, n, st| {
        let o = (po.get() as *mut O).offset(off[0]);
        let x = (pa.get() as *const A).offset(off[1]);
        let y = (pb.get() as *const B).offset(off[2]);
        match st {
            [1, 1, 1] => {
                let os = std::slice::from_raw_parts_mut(o, n);
                let xs = std::slice::from_raw_parts(x, n);
                let ys = std::slice::from_raw_parts(y, n);
                zip2_dispatch(os, xs, ys, &f);
            }
            [1, 1, 0] => {
                let os = std::slice::from_raw_parts_mut(o, n);
                let xs = std::slice::from_raw_parts(x, n);
                let yv = *y;
                for i in 0..n {
                    os[i] = f(xs[i], yv);
                }
            }
            [1, 0, 1] => {
                let os = std::slice::from_raw_parts_mut(o, n);
                let ys = std::slice::from_raw_parts(y, n);
                let xv = *x;
                for i in 0..n {
                    os[i] = f(xv, ys[i]);
                }
            }
            _ => {
                for i in 0..n as isize {
                    *o.offset(i * st[0]) = f(*x.offset(i * st[1]), *y.offset(i * st[2]));
                }
            }
        }
    });
}

/// out = f(a, b, c) elementwise (used by `where`).
///
/// # Safety
/// As for [`map1`].
pub unsafe fn map3<A: Copy, B: Copy, C: Copy, O: Copy>(
    shape: &[usize],
    out: (*mut O, &[isize]),
    a: (*const A, &[isize]),
    b: (*const B, &[isize]),
    c: (*const C, &[isize]),
    f: impl Fn(A, B, C) -> O + Sync,
) {
    let lp = StridedLoop::new(shape, [out.1, a.1, b.1, c.1]);
    let ps = [SendPtr(out.0 as *mut u8), SendPtr(a.0 as *mut u8), SendPtr(b.0 as *mut u8), SendPtr(c.0 as *mut u8)];
    lp.run(move |off, n, st| {
        let o = (ps[0].get() as *mut O).offset(off[0]);
        let x = (ps[1].get() as *const A).offset(off[1]);
        let y = (ps[2].get() as *const B).offset(off[2]);
        let z = (ps[3].get() as *const C).offset(off[3]);
        for i in 0..n as isize {
            *o.offset(i * st[0]) = f(*x.offset(i * st[1]), *y.offset(i * st[2]), *z.offset(i * st[3]));
        }
    });
}

/// Contiguous loops, compiled a second time for AVX2 and chosen at run time, so the common
/// case uses 256-bit vectors without requiring them of every CPU.
#[inline(always)]
fn zip1<A: Copy, O: Copy>(os: &mut [O], xs: &[A], f: &impl Fn(A) -> O) {
    for (d, s) in os.iter_mut().zip(xs) {
        *d = f(*s);
    }
}

#[inline(always)]
fn zip2<A: Copy, B: Copy, O: Copy>(os: &mut [O], xs: &[A], ys: &[B], f: &impl Fn(A, B) -> O) {
    let n = os.len().min(xs.len()).min(ys.len());
    let (os, xs, ys) = (&mut os[..n], &xs[..n], &ys[..n]);
    for i in 0..n {
        os[i] = f(xs[i], ys[i]);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn zip1_avx2<A: Copy, O: Copy>(os: &mut [O], xs: &[A], f: &impl Fn(A) -> O) {
    zip1(os, xs, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn zip2_avx2<A: Copy, B: Copy, O: Copy>(os: &mut [O], xs: &[A], ys: &[B], f: &impl Fn(A, B) -> O) {
    zip2(os, xs, ys, f)
}

/// Whether this CPU has AVX2 (checked once).
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[inline(always)]
fn zip1_dispatch<A: Copy, O: Copy>(os: &mut [O], xs: &[A], f: &impl Fn(A) -> O) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2() {
            return unsafe { zip1_avx2(os, xs, f) };
        }
    }
    zip1(os, xs, f)
}

#[inline(always)]
fn zip2_dispatch<A: Copy, B: Copy, O: Copy>(os: &mut [O], xs: &[A], ys: &[B], f: &impl Fn(A, B) -> O) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2() {
            return unsafe { zip2_avx2(os, xs, ys, f) };
        }
    }
    zip2(os, xs, ys, f)
}
