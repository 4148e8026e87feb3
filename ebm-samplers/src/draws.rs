//! A run's stored draws: one buffer of f64 values, `[draw][chain][coord]`
//! ([`crate::driver::RunOutput::draws`]), that reads as a slice.
//!
//! A run that stores its draws writes every value of a buffer made
//! zeroed at the start ([`Draws::zeroed`]): without thinning the chunks
//! of chains each write their own part as they go, with thinning (and in
//! parallel tempering) each kept draw is copied into its place. Fresh
//! memory comes from the system in 4 KB pages that the kernel maps and
//! zeroes at their first write, one fault each: for W2's 2,000 draws of
//! 64 chains in 100 dimensions (102 MB) that is 25,000 faults and about
//! 0.1 s of one core (the AMD Zen 3 guest: 100 ms to write the buffer
//! against 25 ms with huge pages), 6-7% of the run. A buffer of at least [`HUGE_PAGES_FROM`]
//! bytes is therefore mapped on its own and, on Linux, advised as
//! transparent huge pages (`madvise(MADV_HUGEPAGE)`), so that a fault
//! maps and zeroes 2 MB at once. Where the kernel declines (huge pages
//! off, or none free) the mapping keeps 4 KB pages, zeroed all the same.
//! The values, and everything computed from them, are the same
//! whichever memory holds them.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// Buffers of at least this many bytes (4 MB, two huge pages) are mapped
/// on their own and advised as huge pages; smaller ones are an ordinary
/// `Vec`.
pub const HUGE_PAGES_FROM: usize = 4 << 20;

/// The stored draws of a run, `[draw][chain][coord]`: a slice of f64
/// (through `Deref`), in a `Vec` or, when made large and zeroed, in a
/// mapping of its own (module documentation).
#[derive(Default)]
pub struct Draws {
    store: Store,
}

enum Store {
    Heap(Vec<f64>),
    Mapped(memmap2::MmapMut),
}

impl Default for Store {
    fn default() -> Self {
        Store::Heap(Vec::new())
    }
}

impl Draws {
    /// `len` zeros: in a mapping of their own advised as huge pages when
    /// they take at least [`HUGE_PAGES_FROM`] bytes (and the system
    /// grants the mapping), otherwise in a `Vec`.
    pub fn zeroed(len: usize) -> Self {
        let bytes = len.saturating_mul(std::mem::size_of::<f64>());
        let store = (bytes >= HUGE_PAGES_FROM)
            .then(|| memmap2::MmapMut::map_anon(bytes).ok())
            .flatten()
            .map_or_else(
                || Store::Heap(vec![0.0; len]),
                |map| {
                    // a hint: without huge pages the mapping works with 4 KB ones
                    #[cfg(target_os = "linux")]
                    let _ = map.advise(memmap2::Advice::HugePage);
                    Store::Mapped(map)
                },
            );
        Self { store }
    }

    /// The values as a `Vec` (copied out of a mapping).
    pub fn into_vec(self) -> Vec<f64> {
        match self.store {
            Store::Heap(v) => v,
            Store::Mapped(_) => self.to_vec(),
        }
    }
}

impl Deref for Draws {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        match &self.store {
            Store::Heap(v) => v,
            // a mapping starts on a page, so its bytes are aligned for f64
            Store::Mapped(map) => bytemuck::cast_slice(&map[..]),
        }
    }
}

impl DerefMut for Draws {
    fn deref_mut(&mut self) -> &mut [f64] {
        match &mut self.store {
            Store::Heap(v) => v,
            Store::Mapped(map) => bytemuck::cast_slice_mut(&mut map[..]),
        }
    }
}

impl<'a> IntoIterator for &'a Draws {
    type Item = &'a f64;
    type IntoIter = std::slice::Iter<'a, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Draws {
    type Item = &'a mut f64;
    type IntoIter = std::slice::IterMut<'a, f64>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl From<Vec<f64>> for Draws {
    fn from(v: Vec<f64>) -> Self {
        Self {
            store: Store::Heap(v),
        }
    }
}

impl Clone for Draws {
    fn clone(&self) -> Self {
        let mut copy = Self::zeroed(self.len());
        copy.copy_from_slice(self);
        copy
    }
}

impl PartialEq for Draws {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Draws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small and large buffers are zeros of the asked length, read and
    /// written as slices, cloned and compared by value, and give their
    /// values back as a `Vec`.
    #[test]
    fn small_and_mapped_buffers_hold_their_values() {
        for len in [
            0,
            1,
            7,
            HUGE_PAGES_FROM / 8 - 1,
            HUGE_PAGES_FROM / 8,
            HUGE_PAGES_FROM / 8 + 3,
        ] {
            let mut d = Draws::zeroed(len);
            assert_eq!(d.len(), len);
            assert!(d.iter().all(|&v| v.to_bits() == 0));
            for (i, v) in d.iter_mut().enumerate() {
                *v = i as f64 * 0.5 - 1.0;
            }
            let copy = d.clone();
            assert_eq!(copy, d);
            let v = d.into_vec();
            assert_eq!(v.len(), len);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as f64 * 0.5 - 1.0));
            assert_eq!(Draws::from(v), copy);
        }
        assert!(matches!(
            Draws::zeroed(HUGE_PAGES_FROM / 8).store,
            Store::Mapped(_)
        ));
        assert!(matches!(
            Draws::zeroed(HUGE_PAGES_FROM / 8 - 1).store,
            Store::Heap(_)
        ));
        assert_eq!(Draws::default().len(), 0);
        assert_eq!(format!("{:?}", Draws::from(vec![1.0, 2.5])), "[1.0, 2.5]");
    }
}
