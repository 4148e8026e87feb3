//! Per-thread scratch buffers, so combinators evaluate gradients without
//! allocating on every call.

use std::cell::RefCell;

thread_local! {
    static POOL: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` with a zeroed buffer of length `n` taken from this thread's
/// pool (nested calls, as in a product of products, each get their own).
pub(crate) fn with_buffer<R>(n: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    let mut buf = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
    buf.clear();
    buf.resize(n, 0.0);
    let r = f(&mut buf);
    POOL.with(|p| p.borrow_mut().push(buf));
    r
}
