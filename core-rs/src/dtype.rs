//! Element types and PyTorch's type-promotion rules.
use half::{bf16, f16};

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    U8,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
    F32,
    F64,
    /// Complex numbers as interleaved (real, imaginary) pairs of f32 / f64, as NumPy stores
    /// them. No kernel takes them: the op layer (`ops::complex`) lowers every complex op to
    /// real ops on the interleaved float view, so every backend gets complex for free.
    C64,
    C128,
}

/// The real dtypes (every kernel's element types); the complex ones are `COMPLEX_DTYPES`.
pub const COMPLEX_DTYPES: [DType; 2] = [DType::C64, DType::C128];

pub const ALL_DTYPES: [DType; 10] = [
    DType::Bool,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::F16,
    DType::BF16,
    DType::F32,
    DType::F64,
];

/// Kind ordering used by promotion between tensors and scalars: bool < integer < float.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Category {
    Bool,
    Int,
    Float,
    Complex,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 | DType::C64 => 8,
            DType::C128 => 16,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::C64 => "complex64",
            DType::C128 => "complex128",
        }
    }
    pub fn from_name(s: &str) -> Option<DType> {
        Some(match s {
            "bool" => DType::Bool,
            "uint8" => DType::U8,
            "int8" => DType::I8,
            "int16" | "short" => DType::I16,
            "int32" | "int" => DType::I32,
            "int64" | "long" => DType::I64,
            "float16" | "half" => DType::F16,
            "bfloat16" => DType::BF16,
            "float32" | "float" => DType::F32,
            "float64" | "double" => DType::F64,
            "complex64" | "cfloat" => DType::C64,
            "complex128" | "cdouble" => DType::C128,
            _ => return None,
        })
    }
    pub fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 => Category::Float,
            DType::C64 | DType::C128 => Category::Complex,
            _ => Category::Int,
        }
    }
    /// Whether a result of dtype `self` may be written into a tensor of dtype `to` (PyTorch's
    /// canCast): never from a wider category into a narrower one (float into an integer or
    /// bool, an integer into bool).
    pub fn can_cast_to(self, to: DType) -> bool {
        self.category() <= to.category()
    }
    pub fn is_float(self) -> bool {
        self.category() == Category::Float
    }
    pub fn is_int(self) -> bool {
        self.category() == Category::Int
    }
    pub fn is_complex(self) -> bool {
        self.category() == Category::Complex
    }
    /// Whether tensors of this dtype can require gradients (floating point or complex).
    pub fn is_differentiable(self) -> bool {
        self.is_float() || self.is_complex()
    }
    /// The dtype of one component: float32 for complex64, float64 for complex128, else self.
    pub fn to_real(self) -> DType {
        match self {
            DType::C64 => DType::F32,
            DType::C128 => DType::F64,
            d => d,
        }
    }
    /// The complex dtype with components of `self` (complex128 for float64, complex64 for
    /// the other real dtypes, as there is no complex32).
    pub fn to_complex(self) -> DType {
        match self {
            DType::F64 | DType::C128 => DType::C128,
            _ => DType::C64,
        }
    }
    /// The type arithmetic is carried out in: half types compute in f32.
    pub fn compute(self) -> DType {
        match self {
            DType::F16 | DType::BF16 => DType::F32,
            d => d,
        }
    }
    /// NumPy-style type string used by `__array_interface__` and DLPack (code, bits).
    pub fn dlpack(self) -> (u8, u8) {
        // DLPack codes: 0 int, 1 uint, 2 float, 4 bfloat, 6 bool
        match self {
            DType::Bool => (6, 8),
            DType::U8 => (1, 8),
            DType::I8 => (0, 8),
            DType::I16 => (0, 16),
            DType::I32 => (0, 32),
            DType::I64 => (0, 64),
            DType::F16 => (2, 16),
            DType::BF16 => (4, 16),
            DType::F32 => (2, 32),
            DType::F64 => (2, 64),
            // kDLComplex: the bits of the whole pair
            DType::C64 => (5, 64),
            DType::C128 => (5, 128),
        }
    }
    pub fn from_dlpack(code: u8, bits: u8) -> Option<DType> {
        ALL_DTYPES.iter().chain(COMPLEX_DTYPES.iter()).copied().find(|d| d.dlpack() == (code, bits))
    }
}

/// The message for an op that has no complex version, in PyTorch's words (the dispatcher's
/// last line of defence and the complex op layer share it).
pub fn complex_unsupported(op: &str, dtype: DType) -> String {
    let t = if dtype == DType::C128 { "ComplexDouble" } else { "ComplexFloat" };
    format!("\"{op}\" not implemented for '{t}' (complex tensors support arithmetic, abs, angle, exp, log, sqrt, sum, mean and matmul; use .real/.imag or .abs() for the rest)")
}

/// Promotion between two dtypes of equal priority (torch.promote_types).
pub fn promote_types(a: DType, b: DType) -> DType {
    use DType::*;
    if a == b {
        return a;
    }
    match (a.category(), b.category()) {
        // complex with anything: complex wide enough for both components
        (Category::Complex, _) | (_, Category::Complex) => {
            let wide = a.to_real() == F64 || b.to_real() == F64;
            return if wide { C128 } else { C64 };
        }
        (Category::Bool, _) => return b,
        (_, Category::Bool) => return a,
        (Category::Float, Category::Int) => return a,
        (Category::Int, Category::Float) => return b,
        _ => {}
    }
    if a.is_float() {
        // both floats
        return match (a, b) {
            (F16, BF16) | (BF16, F16) => F32,
            _ => {
                if a.size() >= b.size() {
                    a
                } else {
                    b
                }
            }
        };
    }
    // both integers
    match (a, b) {
        (U8, I8) | (I8, U8) => I16,
        (U8, x) | (x, U8) => x,
        _ => {
            if a.size() >= b.size() {
                a
            } else {
                b
            }
        }
    }
}

/// Accumulates operands by priority, as PyTorch's result_type does: tensors with dimensions,
/// zero-dimensional tensors, then Python scalars.
#[derive(Default, Clone, Copy, Debug)]
pub struct ResultType {
    dim: Option<DType>,
    zero: Option<DType>,
    scalar: Option<DType>,
}

fn promote_opt(a: Option<DType>, b: DType) -> Option<DType> {
    Some(match a {
        None => b,
        Some(a) => promote_types(a, b),
    })
}

fn combine(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
    match (higher, lower) {
        (None, l) => l,
        (h, None) => h,
        (Some(h), Some(l)) => {
            if l.category() > h.category() {
                // a lower-priority operand of a higher kind lifts the kind only: float32
                // with a complex Python number is complex64, float64 with it complex128
                Some(if l.is_complex() && h.is_float() { h.to_complex() } else { promote_types(h, l) })
            } else {
                Some(h)
            }
        }
    }
}

impl ResultType {
    pub fn tensor(mut self, dtype: DType, ndim: usize) -> Self {
        if ndim == 0 {
            self.zero = promote_opt(self.zero, dtype);
        } else {
            self.dim = promote_opt(self.dim, dtype);
        }
        self
    }
    /// A Python scalar: bool, int (int64), float (the default float dtype) or complex (its
    /// complex counterpart).
    pub fn scalar(mut self, cat: Category, default_float: DType) -> Self {
        let d = match cat {
            Category::Bool => DType::Bool,
            Category::Int => DType::I64,
            Category::Float => default_float,
            Category::Complex => default_float.to_complex(),
        };
        self.scalar = promote_opt(self.scalar, d);
        self
    }
    pub fn finish(self) -> DType {
        combine(self.dim, combine(self.zero, self.scalar)).unwrap_or(DType::F32)
    }
}

/// An element type the CPU kernels can be written against.
pub trait Element: Copy + Send + Sync + 'static + PartialOrd + std::fmt::Debug {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn to_i64(self) -> i64;
    fn from_i64(v: i64) -> Self;
    fn zero_val() -> Self;
    fn one_val() -> Self;
}

macro_rules! int_element {
    ($t:ty, $d:expr) => {
        impl Element for $t {
            const DTYPE: DType = $d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            fn zero_val() -> Self {
                0 as $t
            }
            fn one_val() -> Self {
                1 as $t
            }
        }
    };
}
int_element!(u8, DType::U8);
int_element!(i8, DType::I8);
int_element!(i16, DType::I16);
int_element!(i32, DType::I32);
int_element!(i64, DType::I64);
int_element!(f32, DType::F32);
int_element!(f64, DType::F64);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    fn to_i64(self) -> i64 {
        self as i64
    }
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    fn zero_val() -> Self {
        false
    }
    fn one_val() -> Self {
        true
    }
}

macro_rules! half_element {
    ($t:ty, $d:expr) => {
        impl Element for $t {
            const DTYPE: DType = $d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self.to_f64()
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            fn to_i64(self) -> i64 {
                self.to_f64() as i64
            }
            fn from_i64(v: i64) -> Self {
                <$t>::from_f64(v as f64)
            }
            fn zero_val() -> Self {
                <$t>::from_f64(0.0)
            }
            fn one_val() -> Self {
                <$t>::from_f64(1.0)
            }
        }
    };
}
half_element!(f16, DType::F16);
half_element!(bf16, DType::BF16);

/// Runs `$body` with `$T` bound to the Rust type of `$dt`.
#[macro_export]
macro_rules! dispatch {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            $crate::dtype::DType::Bool => { type $T = bool; $body }
            $crate::dtype::DType::U8 => { type $T = u8; $body }
            $crate::dtype::DType::I8 => { type $T = i8; $body }
            $crate::dtype::DType::I16 => { type $T = i16; $body }
            $crate::dtype::DType::I32 => { type $T = i32; $body }
            $crate::dtype::DType::I64 => { type $T = i64; $body }
            $crate::dtype::DType::F16 => { type $T = half::f16; $body }
            $crate::dtype::DType::BF16 => { type $T = half::bf16; $body }
            $crate::dtype::DType::F32 => { type $T = f32; $body }
            $crate::dtype::DType::F64 => { type $T = f64; $body }
            // complex tensors never reach a typed kernel: `ops::complex` lowers them to real
            // views first. Reaching here is a routing bug, reported (never a silent real path).
            d @ ($crate::dtype::DType::C64 | $crate::dtype::DType::C128) => {
                panic!("a real-typed kernel was given a {} tensor", d.name())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn promotion_matches_pytorch_table() {
        assert_eq!(promote_types(U8, I8), I16);
        assert_eq!(promote_types(Bool, F16), F16);
        assert_eq!(promote_types(F16, BF16), F32);
        assert_eq!(promote_types(I64, F16), F16);
        assert_eq!(promote_types(I32, I64), I64);
        assert_eq!(promote_types(U8, I64), I64);
        assert_eq!(promote_types(F32, F64), F64);
        assert_eq!(promote_types(F64, C64), C128);
        assert_eq!(promote_types(F16, C64), C64);
        assert_eq!(promote_types(I64, C64), C64);
        assert_eq!(promote_types(C64, C128), C128);
    }

    #[test]
    fn complex_scalars_lift_the_kind_only() {
        let r = ResultType::default().tensor(F32, 1).scalar(Category::Complex, F32).finish();
        assert_eq!(r, C64);
        let r = ResultType::default().tensor(F64, 1).scalar(Category::Complex, F32).finish();
        assert_eq!(r, C128);
        let r = ResultType::default().tensor(I64, 1).scalar(Category::Complex, F32).finish();
        assert_eq!(r, C64);
        let r = ResultType::default().tensor(C64, 1).scalar(Category::Float, F32).finish();
        assert_eq!(r, C64);
        let r = ResultType::default().tensor(C64, 1).tensor(F64, 0).finish();
        assert_eq!(r, C64);
        assert_eq!(DType::from_dlpack(5, 128), Some(C128));
    }

    #[test]
    fn scalars_do_not_upcast_tensors_of_the_same_kind() {
        let r = ResultType::default().tensor(F16, 2).scalar(Category::Float, F32).finish();
        assert_eq!(r, F16);
        let r = ResultType::default().tensor(I32, 1).scalar(Category::Float, F32).finish();
        assert_eq!(r, F32);
        let r = ResultType::default().tensor(Bool, 1).scalar(Category::Int, F32).finish();
        assert_eq!(r, I64);
        let r = ResultType::default().tensor(I32, 1).tensor(I64, 0).finish();
        assert_eq!(r, I32);
        let r = ResultType::default().tensor(I32, 1).tensor(F64, 0).finish();
        assert_eq!(r, F64);
        let r = ResultType::default().tensor(U8, 1).scalar(Category::Int, F32).finish();
        assert_eq!(r, U8);
    }
}
