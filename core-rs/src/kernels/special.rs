//! Special functions in f64 for the elementwise kernels: erf, erfc and lgamma from `libm`,
//! digamma by recurrence to x >= 10, an asymptotic series there and reflection for negative
//! x; polygamma through the Hurwitz zeta function. Accurate to a few ulp of f64 away from
//! the poles.
use std::f64::consts::PI;

pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// log|Γ(x)|; +inf at the poles (0 and the negative integers).
pub fn lgamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ψ(x) = Γ'(x)/Γ(x): -inf at +0 (+inf at -0), NaN at the negative integers, as PyTorch.
pub fn digamma(x: f64) -> f64 {
    if x == 0.0 {
        return if x.is_sign_negative() { f64::INFINITY } else { f64::NEG_INFINITY };
    }
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x < 0.0 {
        if x == x.floor() {
            return f64::NAN;
        }
        // reflection: ψ(x) = ψ(1 - x) - π / tan(π x), with tan's argument reduced exactly to
        // x - round(x) first (π x itself would lose the digits that matter near a pole)
        return digamma(1.0 - x) - PI / (PI * (x - x.round())).tan();
    }
    let (mut x, mut acc) = (x, 0.0);
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let r = 1.0 / (x * x);
    // Σ B_2k / (2k x^2k), k = 1..7
    let series = r * (1.0 / 12.0 - r * (1.0 / 120.0 - r * (1.0 / 252.0 - r * (1.0 / 240.0 - r * (1.0 / 132.0 - r * (691.0 / 32760.0 - r / 12.0))))));
    acc + x.ln() - 0.5 / x - series
}

/// ζ(s, q) = Σ_{k≥0} (q + k)^-s for s > 1: the first terms summed directly until q + k > 9,
/// the rest by Euler–Maclaurin. For q <= 0: +inf at the poles (q a non-positive integer), NaN
/// unless s is an integer (a negative base to a fractional power).
pub fn hurwitz_zeta(s: f64, q: f64) -> f64 {
    if s.is_nan() || q.is_nan() || s <= 1.0 || q == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if q <= 0.0 {
        if q == q.floor() {
            return f64::INFINITY;
        }
        if s != s.floor() {
            return f64::NAN;
        }
    }
    if q == f64::INFINITY {
        return 0.0;
    }
    let (mut sum, mut w, mut i) = (0.0f64, q, 0);
    while i < 9 || w <= 9.0 {
        sum += w.powf(-s);
        w += 1.0;
        i += 1;
    }
    // tail from w = q + i: ∫ + f(w)/2 + Σ_j B_2j/(2j)! s(s+1)...(s+2j-2) w^(-s-2j+1)
    const B: [f64; 7] = [1.0 / 12.0, -1.0 / 720.0, 1.0 / 30240.0, -1.0 / 1209600.0, 1.0 / 47900160.0, -691.0 / 1307674368000.0, 1.0 / 74724249600.0];
    let mut tail = w.powf(1.0 - s) / (s - 1.0) + 0.5 * w.powf(-s);
    let (mut rising, mut p) = (s, w.powf(-s - 1.0));
    for (j, b) in B.iter().enumerate() {
        let t = b * rising * p;
        tail += t;
        if t.abs() <= 1e-17 * tail.abs() {
            break;
        }
        let k = 2.0 * j as f64 + 1.0; // rising factorial gains (s + k)(s + k + 1)
        rising *= (s + k) * (s + k + 1.0);
        p /= w * w;
    }
    sum + tail
}

/// ψ⁽ⁿ⁾(x), the n-th derivative of digamma (n >= 1): (-1)^(n+1) n! ζ(n+1, x).
pub fn polygamma(n: i64, x: f64) -> f64 {
    if n == 0 {
        return digamma(x);
    }
    let nf = n as f64;
    let fact = libm::exp(libm::lgamma(nf + 1.0));
    let sign = if n % 2 == 1 { 1.0 } else { -1.0 };
    sign * fact * hurwitz_zeta(nf + 1.0, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-13 * b.abs().max(1.0)
    }

    #[test]
    fn known_values() {
        let euler = 0.577_215_664_901_532_9;
        assert!(close(digamma(1.0), -euler));
        assert!(close(digamma(0.5), -euler - 2.0 * 2f64.ln()));
        assert!(close(digamma(-0.5), -euler - 2.0 * 2f64.ln() + 2.0)); // ψ(x+1) = ψ(x) + 1/x
        assert!(close(digamma(30.0) - digamma(29.0), 1.0 / 29.0));
        assert!(close(polygamma(1, 1.0), PI * PI / 6.0));
        assert!(close(polygamma(1, 0.5), PI * PI / 2.0));
        assert!(close(polygamma(1, -0.5), PI * PI / 2.0 + 4.0)); // π²/sin²(-π/2) - ψ1(1.5)
        assert!(close(polygamma(2, 1.0), -2.0 * 1.202_056_903_159_594_2)); // -2 ζ(3)
        assert!(close(polygamma(3, 1.0), PI.powi(4) / 15.0)); // 6 ζ(4)
        assert!(close(lgamma(5.0), 24f64.ln()));
        assert!(close(erfc(0.5), 1.0 - libm::erf(0.5)));
        assert!(digamma(-2.0).is_nan() && digamma(0.0) == f64::NEG_INFINITY && polygamma(1, -3.0) == f64::INFINITY);
    }

    #[test]
    fn each_order_differentiates_to_the_next() {
        for n in 0..4 {
            for &x in &[-3.7, -0.3, 0.2, 1.5, 7.0, 42.0] {
                let h = 1e-5;
                let fd = (polygamma(n, x + h) - polygamma(n, x - h)) / (2.0 * h);
                let d = polygamma(n + 1, x);
                assert!((fd - d).abs() <= 1e-5 * d.abs().max(1.0), "n={n} x={x}: {fd} vs {d}");
            }
        }
    }
}
