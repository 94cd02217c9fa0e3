//! Errors the core reports; the Python layer maps each kind to the exception PyTorch raises.
use std::fmt;

#[derive(Debug, Clone)]
pub enum Error {
    /// Shape, dtype, device or state mismatch (RuntimeError).
    Runtime(String),
    /// Out-of-range index or dimension (IndexError).
    Index(String),
    /// Wrong argument kind (TypeError).
    Type(String),
    /// Bad value (ValueError).
    Value(String),
    /// Allocation failure (MemoryError / OutOfMemoryError).
    Memory(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Runtime(s) | Error::Index(s) | Error::Type(s) | Error::Value(s) | Error::Memory(s) => {
                f.write_str(s)
            }
        }
    }
}

impl std::error::Error for Error {}

#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::error::Error::Runtime(format!($($arg)*))) };
}
