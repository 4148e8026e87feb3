//! The draws of each coordinate and chain as a series: gathered from
//! draws laid out `[draw][chain][coord]`, or kept that way as a run
//! makes them ([`ChainSeries`]).

/// Draws kept for diagnostics, each chain's series of each coordinate
/// contiguous (`[coord][chain][draw]`), so that the diagnostics read
/// them in place: a run that keeps its draws this way needs no gathered
/// copy of them at the end.
///
/// Draws come a draw at a time, `[chain][coord]` (a sampler's states);
/// they wait in a block of eight draws and are then written to each
/// series a cache line at a time (a value at a time, a draw of m chains
/// in d dimensions would touch m d cache lines).
#[derive(Clone, Debug)]
pub struct ChainSeries {
    chains: usize,
    dim: usize,
    /// Draws room is made for in each series.
    stride: usize,
    /// Draws written to the series.
    written: usize,
    /// `[coord][chain][draw]`, each series `stride` long.
    values: Vec<f64>,
    /// The block of draws not yet written, `[draw][chain][coord]`.
    block: Vec<f64>,
}

/// Draws a [`ChainSeries`] gathers before writing them to the series:
/// eight doubles, one cache line of each.
const BLOCK: usize = 8;

impl ChainSeries {
    /// Room for `draws` draws of `chains` chains in `dim` dimensions
    /// (zeroed memory, so pages no draw reaches are never touched; more
    /// draws make room as they come).
    pub fn new(draws: usize, chains: usize, dim: usize) -> Self {
        Self {
            chains,
            dim,
            stride: draws,
            written: 0,
            values: vec![0.0; draws * chains * dim],
            block: Vec::with_capacity(BLOCK * chains * dim),
        }
    }

    /// Keep one draw: the first `chains` rows of `states`, laid out
    /// `[chain][coord]` (so at least chains x dim values).
    pub fn push_draw(&mut self, states: &[f64]) {
        let (m, d) = (self.chains, self.dim);
        self.block.extend_from_slice(&states[..m * d]);
        if self.block.len() == BLOCK * m * d {
            self.flush();
        }
    }

    /// Write the waiting draws to the series.
    fn flush(&mut self) {
        let (m, d) = (self.chains, self.dim);
        let b = self.block.len().checked_div(m * d).unwrap_or(0);
        if b == 0 {
            self.block.clear();
            return;
        }
        if self.written + b > self.stride {
            self.grow((2 * self.stride).max(self.written + b));
        }
        let (stride, at) = (self.stride, self.written);
        for c in 0..m {
            for j in 0..d {
                let series = &mut self.values[(j * m + c) * stride + at..][..b];
                for (t, v) in series.iter_mut().enumerate() {
                    *v = self.block[(t * m + c) * d + j];
                }
            }
        }
        self.written += b;
        self.block.clear();
    }

    /// Make each series `stride` long, moving the draws written.
    fn grow(&mut self, stride: usize) {
        let mut values = vec![0.0; stride * self.chains * self.dim];
        for (new, old) in values
            .chunks_exact_mut(stride)
            .zip(self.values.chunks_exact(self.stride.max(1)))
        {
            new[..self.written].copy_from_slice(&old[..self.written]);
        }
        self.values = values;
        self.stride = stride;
    }

    /// Draws written to the series (all those pushed, after
    /// [`Self::finish`]).
    pub fn draws(&self) -> usize {
        self.written
    }

    /// Chains kept.
    pub fn chains(&self) -> usize {
        self.chains
    }

    /// Dimensions.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Every chain's series of coordinate `j`: the draws written (all
    /// those pushed, after [`Self::finish`]).
    pub fn series(&self, j: usize) -> Vec<&[f64]> {
        let (m, n) = (self.chains, self.written);
        (0..m)
            .map(|c| &self.values[(j * m + c) * self.stride..][..n])
            .collect()
    }

    /// Write the draws still waiting in the block to the series.
    pub fn finish(&mut self) {
        self.flush();
    }
}

/// Per-coordinate series of each chain from draws `[draw][chain][coord]`.
pub fn coordinate_series(
    draws: &[f64],
    n_draws: usize,
    n_chains: usize,
    dim: usize,
    coord: usize,
) -> Vec<Vec<f64>> {
    coordinate_block_series(draws, n_draws, n_chains, dim, coord..coord + 1)
        .pop()
        .unwrap_or_default()
}

/// [`coordinate_series`] of each coordinate in `coords`, in one pass over
/// the draws in memory order (each cache line read once for the block,
/// not once per chain and coordinate).
pub fn coordinate_block_series(
    draws: &[f64],
    n_draws: usize,
    n_chains: usize,
    dim: usize,
    coords: std::ops::Range<usize>,
) -> Vec<Vec<Vec<f64>>> {
    // built by iterators: `vec![Vec::with_capacity(..); k]` clones, and a
    // clone of an empty Vec keeps no capacity
    let mut out: Vec<Vec<Vec<f64>>> = coords
        .clone()
        .map(|_| (0..n_chains).map(|_| Vec::with_capacity(n_draws)).collect())
        .collect();
    for draw in draws.chunks_exact(n_chains * dim).take(n_draws) {
        for (c, x) in draw.chunks_exact(dim).enumerate() {
            for (series, &v) in out.iter_mut().zip(&x[coords.clone()]) {
                series[c].push(v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kept series are the gathered ones: with room for fewer draws than
    /// come (the series grow), a block left waiting until finish, and
    /// more chains in the states than are kept.
    #[test]
    fn kept_series_are_the_gathered_series() {
        let (n, all, m, d) = (21, 5, 3, 4);
        let draws: Vec<f64> = (0..n * all * d).map(|i| ((i * 37) % 101) as f64).collect();
        let kept_draws: Vec<f64> = draws
            .chunks_exact(all * d)
            .flat_map(|states| states[..m * d].iter().copied())
            .collect();
        for room in [0, 5, 21, 40] {
            let mut series = ChainSeries::new(room, m, d);
            for states in draws.chunks_exact(all * d) {
                series.push_draw(states);
            }
            assert_eq!(series.draws(), n / BLOCK * BLOCK);
            series.finish();
            assert_eq!((series.draws(), series.chains(), series.dim()), (n, m, d));
            for j in 0..d {
                let want = coordinate_series(&kept_draws, n, m, d, j);
                let got: Vec<Vec<f64>> = series.series(j).iter().map(|c| c.to_vec()).collect();
                assert_eq!(got, want, "room {room}, coordinate {j}");
            }
        }
    }
}
