//! Graph helpers for models on any graph.

use std::collections::VecDeque;

/// The sites of a bipartite graph in the order a checkerboard sweep visits
/// them: every site of colour 0, then every site of colour 1, each colour
/// in increasing order, the colours from a breadth-first search that gives
/// the lowest site of each connected piece colour 0. `None` when the
/// graph has an odd cycle (no two-colouring). `neighbors(i)` lists the
/// sites joined to site i.
///
/// Sites of one colour share no edge, so given the other colour they are
/// conditionally independent: sweeping one colour, then the other, is the
/// block update that the checkerboard of a lattice is.
///
/// ```
/// // a square 0-1-2-3-0 is bipartite: {0, 2} then {1, 3}
/// let nb = |i: usize| vec![(i + 1) % 4, (i + 3) % 4];
/// assert_eq!(ebm_core::graph::bipartite_order(4, nb), Some(vec![0, 2, 1, 3]));
/// // a triangle is not
/// let tri = |i: usize| vec![(i + 1) % 3, (i + 2) % 3];
/// assert_eq!(ebm_core::graph::bipartite_order(3, tri), None);
/// ```
pub fn bipartite_order<I: IntoIterator<Item = usize>>(
    n: usize,
    neighbors: impl Fn(usize) -> I,
) -> Option<Vec<usize>> {
    let mut colour = vec![u8::MAX; n];
    let mut queue = VecDeque::new();
    for root in 0..n {
        if colour[root] != u8::MAX {
            continue;
        }
        colour[root] = 0;
        queue.push_back(root);
        while let Some(i) = queue.pop_front() {
            for j in neighbors(i) {
                if colour[j] == u8::MAX {
                    colour[j] = 1 - colour[i];
                    queue.push_back(j);
                } else if colour[j] == colour[i] {
                    return None;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| colour[i] == 0).collect();
    order.extend((0..n).filter(|&i| colour[i] == 1));
    Some(order)
}
