//! The op table: every primitive op declared once, in `core-rs/ops/primitives.toml`, and
//! turned into code by `build.rs`: the `Op` type with typed attributes, the op-family enums
//! (`UnaryOp`, `BinaryOp` ...), their C encoding for plugins, and the metadata (`OPS`,
//! `FAMILIES`) from which the bindings, the C header, the docs and the conformance kit take
//! their lists. Nothing here runs an op; `dispatch` does.
use crate::backend_abi::ScalarArg;
use crate::error::{Error, Result};
pub use crate::scalar::Scalar;

include!(concat!(env!("OUT_DIR"), "/op_table.rs"));

pub mod fused;
pub mod fused_nn;
pub use fused::{FusedOp, NnOp};

/// A primitive op's number: its `DS_OP_*` id in the C ABI, its index in `OPS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub i32);

impl OpId {
    pub const fn info(self) -> &'static OpInfo {
        &OPS[self.0 as usize]
    }
    pub const fn name(self) -> &'static str {
        self.info().name
    }
    pub const fn family(self) -> &'static FamilyInfo {
        &FAMILIES[self.info().family]
    }
    pub fn from_name(name: &str) -> Option<OpId> {
        OPS.iter().find(|o| o.name == name).map(|o| o.id)
    }
    pub fn from_raw(id: i32) -> Option<OpId> {
        (0..N_OPS as i32).contains(&id).then_some(OpId(id))
    }
}

/// One row of the op table.
#[derive(Debug)]
pub struct OpInfo {
    pub id: OpId,
    pub name: &'static str,
    /// Index into `FAMILIES`.
    pub family: usize,
}

/// Ops sharing a kernel signature and an attribute struct.
#[derive(Debug)]
pub struct FamilyInfo {
    pub name: &'static str,
    pub enum_name: Option<&'static str>,
    pub outputs: usize,
    /// The number of inputs (the least number when `variadic`).
    pub inputs: usize,
    pub variadic: bool,
    /// The kernel's tensors, outputs first (for the docs' contract table).
    pub tensors: &'static str,
    pub meaning: &'static str,
    pub attrs: &'static [AttrInfo],
    /// The C struct of the attributes (`ds_<family>_attrs`), if any.
    pub attrs_struct: Option<&'static str>,
}

#[derive(Debug)]
pub struct AttrInfo {
    pub name: &'static str,
    pub ty: AttrType,
    pub doc: &'static str,
}

/// The type of an attribute, as declared in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    I64,
    U64,
    F64,
    Bool,
    Scalar,
    I64List,
}

impl AttrType {
    /// The type as the table spells it.
    pub fn name(self) -> &'static str {
        match self {
            AttrType::I64 => "i64",
            AttrType::U64 => "u64",
            AttrType::F64 => "f64",
            AttrType::Bool => "bool",
            AttrType::Scalar => "scalar",
            AttrType::I64List => "i64_list",
        }
    }
}

/// An attribute value given by name (from Python or a serialised graph).
#[derive(Clone, Debug)]
pub enum AttrValue {
    Scalar(Scalar),
    List(Vec<i64>),
}

impl AttrValue {
    fn int(&self) -> Option<i64> {
        match self {
            AttrValue::Scalar(Scalar::Int(i)) => Some(*i),
            AttrValue::Scalar(Scalar::Bool(b)) => Some(*b as i64),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> i64 {
        self.int().unwrap_or(0)
    }
    pub fn as_u64(&self) -> u64 {
        self.as_i64() as u64
    }
    pub fn as_f64(&self) -> f64 {
        match self {
            AttrValue::Scalar(s) => s.as_f64(),
            AttrValue::List(_) => 0.0,
        }
    }
    pub fn as_bool(&self) -> bool {
        self.as_i64() != 0
    }
    pub fn as_scalar(&self) -> Scalar {
        match self {
            AttrValue::Scalar(s) => *s,
            AttrValue::List(_) => Scalar::Int(0),
        }
    }
    pub fn as_i64_list(&self) -> Vec<i64> {
        match self {
            AttrValue::List(v) => v.clone(),
            AttrValue::Scalar(_) => Vec::new(),
        }
    }
    /// Whether the value has the declared type (ints are accepted as floats).
    pub fn fits(&self, ty: AttrType) -> bool {
        match (self, ty) {
            (AttrValue::List(_), AttrType::I64List) => true,
            (AttrValue::Scalar(_), AttrType::Scalar) => true,
            (AttrValue::Scalar(Scalar::Float(_)), AttrType::F64) => true,
            (AttrValue::Scalar(Scalar::Int(_) | Scalar::Bool(_)), AttrType::I64 | AttrType::U64 | AttrType::F64 | AttrType::Bool) => true,
            _ => false,
        }
    }
}

impl Op {
    pub fn name(&self) -> &'static str {
        self.id().name()
    }
    pub fn info(&self) -> &'static OpInfo {
        self.id().info()
    }
    pub fn family(&self) -> &'static FamilyInfo {
        self.id().family()
    }
    /// Checks the number of tensors a kernel gets for this op.
    pub fn check_arity(&self, n_out: usize, n_in: usize) -> Result<()> {
        let f = self.family();
        let ok = n_out == f.outputs && if f.variadic { n_in >= f.inputs } else { n_in == f.inputs };
        if ok {
            return Ok(());
        }
        Err(Error::Runtime(format!(
            "{}: a kernel takes {} output(s) and {}{} input(s), got {n_out} and {n_in}",
            self.name(),
            f.outputs,
            if f.variadic { "at least " } else { "" },
            f.inputs
        )))
    }
}

impl Scalar {
    /// The value as the C ABI's `ds_scalar`.
    pub fn to_c(self) -> ScalarArg {
        use crate::backend_abi::{ScalarValue, DS_SCALAR_BOOL, DS_SCALAR_FLOAT, DS_SCALAR_INT};
        match self {
            Scalar::Bool(b) => ScalarArg { kind: DS_SCALAR_BOOL, reserved: 0, value: ScalarValue { i: b as i64 } },
            Scalar::Int(i) => ScalarArg { kind: DS_SCALAR_INT, reserved: 0, value: ScalarValue { i } },
            Scalar::Float(f) => ScalarArg { kind: DS_SCALAR_FLOAT, reserved: 0, value: ScalarValue { f } },
        }
    }
}

/// Builds the op called `name` from named attribute values, checking each one's type.
pub fn op_from_named(name: &str, mut lookup: impl FnMut(&str) -> Option<AttrValue>) -> Result<Op> {
    let id = OpId::from_name(name).ok_or_else(|| Error::Runtime(format!("'{name}' is not a primitive op")))?;
    let fam = id.family();
    build_op(name, &mut |attr, ty| {
        let v = lookup(attr).ok_or_else(|| {
            let all: Vec<String> = fam.attrs.iter().map(|a| format!("{} ({})", a.name, a.ty.name())).collect();
            Error::Runtime(format!("{name}: missing attribute '{attr}' (the op takes {})", all.join(", ")))
        })?;
        if !v.fits(ty) {
            return Err(Error::Type(format!("{name}: attribute '{attr}' must be {}, got {v:?}", ty.name())));
        }
        Ok(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positions_and_names_round_trip() {
        for (i, o) in OPS.iter().enumerate() {
            assert_eq!(o.id.0 as usize, i);
            assert_eq!(OpId::from_name(o.name), Some(o.id));
        }
        assert_eq!(UnaryOp::Neg.id(), OpId(0));
        assert_eq!(BinaryOp::from_name("floor_divide"), Some(BinaryOp::FloorDivide));
        assert_eq!(Op::Binary(BinaryOp::Add).name(), "add");
        assert_eq!(Op::Sort(SortAttrs { dim: 0, descending: true }).family().name, "sort");
    }

    #[test]
    fn attributes_encode_for_c() {
        let op = Op::Pad(PadAttrs { value: 1.5, pads: vec![1, 2, 3, 4] });
        let e = op.encode();
        let p = e.as_ptr() as *const CPadAttrs;
        let c = unsafe { &*p };
        assert_eq!((c.value, c.n_pads), (1.5, 4));
        assert_eq!(unsafe { std::slice::from_raw_parts(c.pads, 4) }, &[1, 2, 3, 4]);
        assert!(Op::Matmul.encode().as_ptr().is_null());
    }

    #[test]
    fn named_attributes_are_checked() {
        let op = op_from_named("topk", |a| Some(AttrValue::Scalar(Scalar::Int(if a == "k" { 3 } else { 1 })))).unwrap();
        assert_eq!(op, Op::Topk(TopkAttrs { k: 3, dim: 1, largest: true }));
        let err = op_from_named("cat", |_| None).unwrap_err();
        assert!(format!("{err:?}").contains("missing attribute 'dim'"));
        let err = op_from_named("pad", |_| Some(AttrValue::Scalar(Scalar::Int(1)))).unwrap_err();
        assert!(format!("{err:?}").contains("'pads' must be i64_list"));
    }
}
