//! Shapes, signed strides and offsets: everything a view changes without touching data.
use crate::error::{Error, Result};

pub type Shape = Vec<usize>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub shape: Shape,
    /// Strides in elements; negative for flipped views.
    pub strides: Vec<isize>,
    /// Offset of element [0, 0, ...] from the storage start, in elements.
    pub offset: usize,
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// The element count of `shape`, or an error when it does not fit in an `isize` (strided
/// offsets are signed): a huge shape must never wrap around to a small buffer.
pub fn checked_numel(op: &str, shape: &[usize]) -> Result<usize> {
    if shape.contains(&0) {
        return Ok(0);
    }
    let mut n: usize = 1;
    for &d in shape {
        n = match n.checked_mul(d) {
            Some(v) if v <= isize::MAX as usize => v,
            _ => return Err(Error::Memory(format!("{op}: a tensor of shape {shape:?} has too many elements"))),
        };
    }
    Ok(n)
}

pub fn contiguous_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut acc = 1isize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i].max(1) as isize;
    }
    strides
}

/// Resolves a possibly negative dimension index against `ndim`.
pub fn wrap_dim(op: &str, dim: i64, ndim: usize) -> Result<usize> {
    let n = ndim.max(1) as i64;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        return Err(Error::Index(format!(
            "{op}: dimension out of range (expected to be in range of [{}, {}], but got {dim})",
            -n,
            n - 1
        )));
    }
    Ok(d as usize)
}

/// The broadcast shape of two shapes, following NumPy's rules.
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Result<Shape> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db {
            da
        } else if da == 1 {
            db
        } else if db == 1 {
            da
        } else {
            return Err(Error::Runtime(format!(
                "{op}: the size of tensor a ({da}) must match the size of tensor b ({db}) at non-singleton dimension {i}; shapes {a:?} and {b:?} cannot be broadcast"
            )));
        };
    }
    Ok(out)
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout { shape: shape.to_vec(), strides: contiguous_strides(shape), offset: 0 }
    }
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }
    /// The element offsets `[lo, hi]` this layout reaches (None when it has no elements).
    pub fn span(&self) -> Option<(isize, isize)> {
        if self.shape.iter().any(|&s| s == 0) {
            return None;
        }
        let (mut lo, mut hi) = (self.offset as isize, self.offset as isize);
        for (&s, &st) in self.shape.iter().zip(&self.strides) {
            let reach = (s as isize - 1) * st;
            if reach < 0 { lo += reach } else { hi += reach }
        }
        Some((lo, hi))
    }

    /// Whether two different indices address the same element (an expanded view, or an
    /// `as_strided` view that folds onto itself). Exact: a cheap sufficient test first, and
    /// only for layouts it cannot clear, a walk that marks every element reached.
    pub fn has_internal_overlap(&self) -> bool {
        if self.shape.iter().any(|&s| s == 0) {
            return false;
        }
        let mut dims: Vec<(usize, usize)> =
            self.shape.iter().zip(&self.strides).filter(|(&s, _)| s != 1).map(|(&s, &st)| (s, st.unsigned_abs())).collect();
        if dims.iter().any(|&(_, st)| st == 0) {
            return true;
        }
        dims.sort_by_key(|&(_, st)| st);
        // each stride past the reach of all smaller ones: no two indices meet
        let mut reach = 0usize;
        let mut cleared = true;
        for &(s, st) in &dims {
            if st <= reach {
                cleared = false;
                break;
            }
            reach += (s - 1) * st;
        }
        if cleared {
            return false;
        }
        let total: usize = dims.iter().map(|&(s, st)| (s - 1) * st).sum();
        let mut seen = vec![false; total + 1];
        let mut idx = vec![0usize; dims.len()];
        loop {
            let at: usize = idx.iter().zip(&dims).map(|(&i, &(_, st))| i * st).sum();
            if std::mem::replace(&mut seen[at], true) {
                return true;
            }
            let mut d = 0;
            loop {
                if d == dims.len() {
                    return false;
                }
                idx[d] += 1;
                if idx[d] < dims[d].0 {
                    break;
                }
                idx[d] = 0;
                d += 1;
            }
        }
    }

    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1isize;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] != 1 {
                if self.strides[i] != expected {
                    return false;
                }
                expected *= self.shape[i] as isize;
            }
        }
        true
    }
    /// Element range [lo, hi) of storage the view can touch.
    pub fn storage_span(&self) -> (isize, isize) {
        if self.numel() == 0 {
            return (self.offset as isize, self.offset as isize);
        }
        let mut lo = self.offset as isize;
        let mut hi = self.offset as isize;
        for (&s, &st) in self.shape.iter().zip(&self.strides) {
            let ext = (s as isize - 1) * st;
            if ext < 0 {
                lo += ext
            } else {
                hi += ext
            }
        }
        (lo, hi + 1)
    }
    /// A view expanded to `shape` (stride 0 along broadcast dims).
    pub fn broadcast_to(&self, op: &str, shape: &[usize]) -> Result<Layout> {
        if shape.len() < self.ndim() {
            return Err(Error::Runtime(format!(
                "{op}: the expanded size of the tensor ({shape:?}) must have at least as many dimensions as the tensor ({:?})",
                self.shape
            )));
        }
        let lead = shape.len() - self.ndim();
        let mut strides = vec![0isize; shape.len()];
        for i in 0..shape.len() {
            if i < lead {
                continue;
            }
            let d = self.shape[i - lead];
            if d == shape[i] {
                strides[i] = self.strides[i - lead];
            } else if d == 1 {
                strides[i] = 0;
            } else {
                return Err(Error::Runtime(format!(
                    "{op}: the expanded size of the tensor ({}) must match the existing size ({d}) at non-singleton dimension {i}. Target sizes: {shape:?}. Tensor sizes: {:?}",
                    shape[i], self.shape
                )));
            }
        }
        checked_numel(op, shape)?;
        Ok(Layout { shape: shape.to_vec(), strides, offset: self.offset })
    }
    pub fn permute(&self, dims: &[usize]) -> Layout {
        Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        }
    }
    /// Tries to express `shape` as a view of this layout without copying.
    pub fn view(&self, shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout { shape: shape.to_vec(), strides: contiguous_strides(shape), offset: self.offset });
        }
        // General case: match chunks of old dims that are mutually contiguous (as PyTorch's computeStride).
        let old_numel = self.numel();
        if old_numel == 0 {
            return Some(Layout { shape: shape.to_vec(), strides: contiguous_strides(shape), offset: self.offset });
        }
        let mut new_strides = vec![0isize; shape.len()];
        let mut view_d = shape.len() as isize - 1;
        let mut chunk_base_stride = *self.strides.last().unwrap_or(&1);
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for tensor_d in (0..self.ndim()).rev() {
            tensor_numel *= self.shape[tensor_d];
            if tensor_d == 0
                || (self.shape[tensor_d - 1] != 1
                    && self.strides[tensor_d - 1] != tensor_numel as isize * chunk_base_stride)
            {
                while view_d >= 0 && (view_numel < tensor_numel || shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel as isize * chunk_base_stride;
                    view_numel *= shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = self.strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(Layout { shape: shape.to_vec(), strides: new_strides, offset: self.offset })
    }
    /// Merges adjacent dims that can be walked as one, for faster strided loops.
    /// Takes several layouts of the same shape and coalesces the dims where all agree.
    pub fn coalesce(shape: &[usize], strides: &[Vec<isize>]) -> (Vec<usize>, Vec<Vec<isize>>) {
        let mut out_shape: Vec<usize> = Vec::with_capacity(shape.len());
        let mut out_strides: Vec<Vec<isize>> = vec![Vec::with_capacity(shape.len()); strides.len()];
        for d in 0..shape.len() {
            if shape[d] == 1 {
                continue;
            }
            if let Some(&last) = out_shape.last() {
                let k = out_shape.len() - 1;
                let mergeable = strides
                    .iter()
                    .enumerate()
                    .all(|(i, s)| out_strides[i][k] == s[d] * shape[d] as isize);
                if mergeable {
                    out_shape[k] = last * shape[d];
                    for (i, s) in strides.iter().enumerate() {
                        out_strides[i][k] = s[d];
                    }
                    continue;
                }
            }
            out_shape.push(shape[d]);
            for (i, s) in strides.iter().enumerate() {
                out_strides[i].push(s[d]);
            }
        }
        if out_shape.is_empty() {
            out_shape.push(1);
            for s in out_strides.iter_mut() {
                s.push(0);
            }
        }
        (out_shape, out_strides)
    }
}

#[cfg(test)]
mod tests {
    fn lay(shape: &[usize], strides: &[isize], offset: usize) -> Layout {
        Layout { shape: shape.to_vec(), strides: strides.to_vec(), offset }
    }

    #[test]
    fn internal_overlap_is_exact() {
        assert!(!lay(&[2, 3], &[3, 1], 0).has_internal_overlap());
        assert!(lay(&[2, 3], &[1, 0], 0).has_internal_overlap()); // expanded
        assert!(!lay(&[3, 1], &[1, 0], 0).has_internal_overlap()); // size-1 dims do not count
        assert!(!lay(&[0, 3], &[0, 0], 0).has_internal_overlap()); // nothing to write
        assert!(!lay(&[2, 3], &[-3, -1], 5).has_internal_overlap()); // flipped
        assert!(lay(&[2, 2], &[1, 1], 0).has_internal_overlap()); // (0,1) and (1,0) meet
        assert!(!lay(&[2, 2], &[2, 3], 0).has_internal_overlap()); // offsets 0 2 3 5: not cleared cheaply, yet disjoint
        assert!(!lay(&[3, 2], &[2, 3], 0).has_internal_overlap()); // offsets 0 2 4 3 5 7
        assert!(lay(&[3, 2], &[1, 2], 0).has_internal_overlap()); // (2,0) and (0,1) both reach 2
    }

    #[test]
    fn span_covers_negative_strides() {
        assert_eq!(lay(&[2, 3], &[-3, -1], 5).span(), Some((0, 5)));
        assert_eq!(lay(&[0, 3], &[3, 1], 0).span(), None);
    }

    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes("add", &[3, 1], &[4]).unwrap(), vec![3, 4]);
        assert_eq!(broadcast_shapes("add", &[0, 1], &[1, 5]).unwrap(), vec![0, 5]);
        assert_eq!(broadcast_shapes("add", &[], &[2, 2]).unwrap(), vec![2, 2]);
        assert!(broadcast_shapes("add", &[3], &[4]).is_err());
    }

    #[test]
    fn contiguity_and_views() {
        let l = Layout::contiguous(&[2, 3, 4]);
        assert!(l.is_contiguous());
        assert_eq!(l.strides, vec![12, 4, 1]);
        let t = l.permute(&[1, 0, 2]);
        assert!(!t.is_contiguous());
        // merging the last dim of a permuted view is possible, merging dims 0 and 1 is not
        assert!(t.view(&[3, 8]).is_none());
        assert_eq!(t.view(&[3, 2, 2, 2]).unwrap().strides, vec![4, 12, 2, 1]);
        let e = Layout::contiguous(&[3, 1]).broadcast_to("expand", &[2, 3, 5]).unwrap();
        assert_eq!(e.strides, vec![0, 1, 0]);
    }

    #[test]
    fn coalesce_merges_contiguous_runs() {
        let l = Layout::contiguous(&[2, 3, 4]);
        let (s, st) = Layout::coalesce(&l.shape, &[l.strides.clone()]);
        assert_eq!(s, vec![24]);
        assert_eq!(st[0], vec![1]);
    }

    #[test]
    fn storage_span_with_negative_strides() {
        let l = Layout { shape: vec![3], strides: vec![-1], offset: 2 };
        assert_eq!(l.storage_span(), (0, 3));
    }
}
