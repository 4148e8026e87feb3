//! What the unadjusted kernels (ULA, kinetic Langevin) share: their
//! proposals' gradients, with the energies only where they are needed;
//! which proposals are finite; and the chains' energies caught up at
//! the end of a run of steps.
//!
//! Without an accept step, such a kernel reads the proposals' energies
//! only to tell a move past the energy's reach (a non-finite energy or
//! gradient), and the chains' energies only when a run of steps returns.
//! So before a run's last step, an energy whose gradient alone shows
//! where it is not finite ([`Energy::grad_batch_flags_infinite_energy`])
//! is asked for gradients alone (the mixture then skips a logarithm a
//! point), and at the last step a chain that kept its state gets its
//! energy anew. Every chain moves as with the energies each step, to the
//! bit.

use crate::chains::ChunkMut;
use ebm_core::Energy;

/// Whether a run of steps has taken gradients alone, so its chains'
/// energies are not all current until the run's last step.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EnergiesBehind(bool);

/// The gradients `pg` at the proposals `px`, and their energies `pe`
/// unless this step may skip them (see the module documentation); true
/// when it did.
pub(crate) fn evaluate(
    energy: &dyn Energy,
    c: &ChunkMut<'_>,
    behind: &mut EnergiesBehind,
    px: &[f64],
    pg: &mut [f64],
    pe: &mut [f64],
) -> bool {
    let gradients_alone = c.steps_left > 1 && energy.grad_batch_flags_infinite_energy();
    if gradients_alone {
        energy.grad_batch(px, pg, pe);
        behind.0 = true;
    } else {
        energy.energy_grad_batch(px, pg, pe);
    }
    gradients_alone
}

/// Flag each chain whose proposal is not finite divergent (its energy
/// `pe`, unless `ENERGIES` is false, or a coordinate of its gradient
/// `pg`), and give the others the proposal's energy when `ENERGIES`.
/// Branch-free, so it vectorises inside [`ebm_core::simd::dispatch`];
/// `D` is the dimension `d` when small enough to unroll (0: read at run
/// time), which changes the code, not the result.
#[inline(always)]
pub(crate) fn flag_divergent<const D: usize, const ENERGIES: bool>(
    d: usize,
    divergent: &mut [bool],
    energies: &mut [f64],
    pe: &[f64],
    pg: &[f64],
) {
    let d = if D == 0 { d } else { D };
    for (((div, ek), &pek), pgk) in divergent
        .iter_mut()
        .zip(energies.iter_mut())
        .zip(pe)
        .zip(pg.chunks_exact(d))
    {
        let mut finite = !ENERGIES || pek.is_finite();
        for v in &pgk[..d] {
            finite &= v.is_finite();
        }
        *div = !finite;
        if ENERGIES {
            *ek = if finite { pek } else { *ek };
        }
    }
}

/// At a run's last step, after its accept: a chain that kept its state
/// there holds an energy from a step that skipped them, so it gets the
/// energy of its state anew.
pub(crate) fn catch_up(energy: &dyn Energy, c: &mut ChunkMut<'_>, behind: &mut EnergiesBehind) {
    if c.steps_left <= 1 && std::mem::take(&mut behind.0) {
        let d = c.d;
        for (k, _) in c.divergent.iter().enumerate().filter(|(_, &dv)| dv) {
            energy.energy_batch(&c.x[k * d..(k + 1) * d], &mut c.energy[k..k + 1]);
        }
    }
}
