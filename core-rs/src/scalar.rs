//! A Python number as an operand or attribute: bool, int or float.
use crate::dtype::{Category, DType};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }
    /// Whether the value converts to `dtype` without overflow, by PyTorch's rule for fill
    /// values (c10's `overflows`): bool takes anything; floats take inf and NaN but no finite
    /// value past their range; integers take no NaN, inf or value past their range, except
    /// that uint8 also takes negative integers down to -255 (they wrap, as in C).
    pub fn fits(self, dtype: DType) -> bool {
        let (lo, hi): (f64, f64) = match dtype {
            DType::Bool => return true,
            DType::F16 => (-65504.0, 65504.0),
            DType::BF16 => (-3.389_531_389_251_535_5e38, 3.389_531_389_251_535_5e38),
            DType::F32 => (f32::MIN as f64, f32::MAX as f64),
            DType::F64 | DType::C128 => return true,
            // a real value written into the real component
            DType::C64 => return Scalar::Float(self.as_f64()).fits(DType::F32),
            DType::U8 => (0.0, 255.0),
            DType::I8 => (-128.0, 127.0),
            DType::I16 => (-32768.0, 32767.0),
            DType::I32 => (i32::MIN as f64, i32::MAX as f64),
            DType::I64 => return !matches!(self, Scalar::Float(f) if !(f >= -9.223_372_036_854_776e18 && f < 9.223_372_036_854_776e18)),
        };
        match self {
            Scalar::Bool(_) => true,
            Scalar::Int(i) if dtype == DType::U8 => (-255..=255).contains(&i),
            Scalar::Int(i) => (lo..=hi).contains(&(i as f64)),
            Scalar::Float(f) if dtype.is_float() => !f.is_finite() || (lo..=hi).contains(&f),
            Scalar::Float(f) => (lo..=hi).contains(&f),
        }
    }
    /// The C++ name PyTorch's overflow message gives `dtype`.
    pub fn c10_type_name(dtype: DType) -> &'static str {
        match dtype {
            DType::Bool => "bool",
            DType::U8 => "uint8_t",
            DType::I8 => "int8_t",
            DType::I16 => "int16_t",
            DType::I32 => "int",
            DType::I64 => "int64_t",
            DType::F16 => "at::Half",
            DType::BF16 => "at::BFloat16",
            DType::F32 => "float",
            DType::F64 => "double",
            DType::C64 => "c10::complex<float>",
            DType::C128 => "c10::complex<double>",
        }
    }
    pub fn category(self) -> Category {
        match self {
            Scalar::Bool(_) => Category::Bool,
            Scalar::Int(_) => Category::Int,
            Scalar::Float(_) => Category::Float,
        }
    }
}
