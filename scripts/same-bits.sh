#!/usr/bin/env bash
# Fingerprints of results that a refactoring must leave bit-identical:
# the suite's per-workload digests (W1 final states, W2 final chains, W3
# AIS log-weights at every size, W4 trained RBM parameters in f64 and f32,
# W5 trained MLP parameters) with its quality figures, and sha256 sums of
# `ebm sample` draws (ULA, MALA, HMC, kinetic Langevin, Gibbs) and `ebm logz --method ais`
# on the examples-data models. Run it with the old and the new build and
# diff the two outputs.
#
#   scripts/same-bits.sh [path/to/ebm] > fingerprints.txt
#
# Without an argument it builds and uses target/release/ebm.
# scripts/same-bits.expected holds its output for the build of 2026-12-04
# (856db29): diff a new run against it after a change meant to keep the
# bits (the suite's seconds are left out; the rest must match). Against
# the first record (c. 92e1b6b, the same as 060fb6a's but for the last
# bits of the Gibbs moments), 856db29 changed on purpose: W5's NLL and
# f32 loss in the last digit (the MLP's activation from one fast
# exponential, and DSM's loss summed row by row; W5's trained parameters
# are the same bits), and the `ebm train` models that moved from dfdx's
# graph to the hand-written forms (within 2e-14 of the old ones).
# Re-recorded on 2026-12-05 for the diagnostics of issue 21: every digest
# and draw hash the same; the ESS figures are now Stan's estimator on
# split chains (W2's ESS min 2888 -> 2095 on the same draws) and `ebm
# sample` adds bulk/tail ESS, rank-normalised R-hat and MCSE. The W7 line
# (NUTS) is new the same day; HMC's dense-metric path left W2's bits as
# they were. Later on 2026-12-05: the PT line is new, and W7's draws
# changed on purpose (NUTS's dot products in eight lanes, the single-point
# Gaussian gradient by ebm_core::matvec: the same algorithm, other
# rounding; min ESS 5375 -> 5404); every other line the same. Then the
# W9 line is new and the `ebm logz --method ais` lines carry an empty
# `warnings` list; every value the same. The two W8 lines are new too.
# Re-recorded later on 2026-12-05 for the pairwise site kernel (issue 22
# item 6): the W8 lines and `ais_ising` changed on purpose (binary AIS
# sweeps in the model's order, the checkerboard, instead of site order,
# and the Ising energy as a pairwise model with couplings beta J, which
# rounds differently); every other line the same. Then the GWG and PL
# lines are new (Gibbs-with-gradients, pseudo-likelihood); every other line
# the same bits, after the categorical and Gaussian-Bernoulli changes.
# Then GWG's site-Gibbs line changed on purpose: a pairwise model on a
# bipartite graph (the glass) now sweeps by colour; every other line the same.
# Then W9 changed on purpose (issue 22): two population moves and three HMC
# moves per temperature instead of five HMC moves; every other line the same.
# Then the SM lines are new (DSM, SSM and exact SM on W5's MLP); every other
# line the same bits after the optimizer's update rules, short-run
# negatives and evaluation metrics. Then the CONV lines are new (the
# convolutional energy's short-run step, f32 and f64 passes); every other
# line the same bits after Activation's definition became generic over
# f64/f32. Re-recorded on 2026-12-05 (third session) for the faster
# diagnostics: autocovariances at short lags are direct sums instead of
# the FFT's, so ESS figures (ess_min, ess_median, bulk and tail ESS,
# MCSE) moved in their last digits (about 1e-15 relative); every digest,
# draw hash, acceptance, R-hat and log Z the same. On 2026-12-05 (fourth
# session) `ebm sample --json` gained `peak_rss_mib`, dropped below like
# the seconds; every line the same after PCD on an RBM moved into the
# capability engine (the RBM's closed-form PcdStep). Evening of
# 2026-12-05: the W2 lines carry `ess_min_unsplit` (the peers' ESS, for
# the compare script; 2888, the figure of the older estimator), and every
# line, W7's included, is the same after NUTS's trees went into lock-step
# groups with the dense Gaussian's `energy_grad_each`.
# The record comes from machines with AVX-512. On an AVX2-only machine
# (AMD EPYC Zen 3, 2026-12-06) every digest and draw hash matches, and so
# do all figures but three evaluations of the trained MLP in their last
# digits (W5's log_z_grid and nll_test, SM's nll_after: the grid's energies
# go through faer's AVX2 kernels, which sum in another order); the build
# before that session's changes gives the same three figures there.
# On 2026-12-07 (nineteenth session, the AVX2 guest) the FFT path of the
# autocovariances sums the chains' power spectra before one inverse
# transform (two chains per forward transform): the ESS figures whose
# Geyer sequence runs past the direct lags moved in their last digits
# (W2's ess_median and ess_min_unsplit, PT's indicator_ess_min, GWG's
# magnetisation_ess, hmc_w2's MCSE digest, about 1e-15 relative), and
# those six lines were re-recorded there; every digest, draw hash and
# other figure the same (the FFT has no ISA-dependent sums).
# On 2026-12-07 (twenty-third session) the two kinetic Langevin lines are
# new, recorded with the build before kinetic Langevin's normals were
# drawn ahead and its passes vectorised (da1b450^) and matched by the
# build after; every other line the same.
set -euo pipefail
cd "$(dirname "$0")/.."
ebm=${1:-}
if [ -z "$ebm" ]; then
  cargo build --release -q -p ebm-bench --bin ebm
  ebm=target/release/ebm
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$ebm" suite --out "$tmp/suite" --json > "$tmp/suite.json" 2>/dev/null
python3 - "$tmp/suite/results.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["records"]:
    q = {k: v for k, v in r["quality"].items() if not (k.endswith("_per_s") or "seconds" in k)}
    print(r["workload"], "|", r["method"], "|", r.get("digest"), "|", json.dumps(q, sort_keys=True))
PY

run() { # name, then the ebm arguments (draws go to $tmp/$name.npy)
  local name=$1; shift
  "$ebm" "$@" --json > "$tmp/$name.json" 2>/dev/null
  python3 - "$tmp/$name.json" "$name" <<'PY'
import json, sys
import hashlib
j = json.load(open(sys.argv[1]))
j.pop("seconds", None)
j.pop("peak_rss_mib", None)
# long lists (a 100 x 100 covariance) as a digest of their exact values
for k, v in list(j.items()):
    if isinstance(v, list) and len(json.dumps(v)) > 200:
        j[k] = "sha256:" + hashlib.sha256(json.dumps(v).encode()).hexdigest()[:16]
print(sys.argv[2], "|", json.dumps(j, sort_keys=True))
PY
}
sample() { # name, model, sampler, extra arguments
  local name=$1 model=$2 sampler=$3; shift 3
  run "$name" sample --model "examples-data/$model" --sampler "$sampler" --out "$tmp/$name.npy" --seed 3 "$@"
  echo "$name draws | $(sha256sum < "$tmp/$name.npy" | cut -c1-16)"
}
sample ula_gmm8 gmm8.json ula --chains 40 --steps 300 --step-size 0.05
sample mala_gmm8 gmm8.json mala --chains 40 --steps 300
sample hmc_banana banana.json hmc --chains 40 --steps 300
sample hmc_w2 w2_gauss100.json hmc --chains 64 --steps 200 --step-size 0.1 --leapfrog 10
sample hmc_w2_fixed w2_gauss100.json hmc --chains 64 --steps 200 --no-adapt --thin 2
sample mala_gauss2 gaussian2.json mala --chains 70 --steps 200 --thin 3
sample kinetic_gmm8 gmm8.json kinetic --chains 40 --steps 300 --step-size 0.3
sample kinetic_gmm8_divergent gmm8.json kinetic --chains 37 --steps 200 --step-size 2.5 --friction 0.2 --no-adapt
sample gibbs_rbm w3_rbm64x20.json gibbs --chains 40 --steps 200 --burn-in 50
sample gibbs_rbm_thin w3_rbm64x20.json gibbs --chains 33 --steps 100 --burn-in 7 --thin 3
echo '{"type":"ising","rows":6,"cols":5,"coupling":1.0,"field":0.1,"beta":0.4,"periodic":true}' > "$tmp/ising.json"
run gibbs_ising sample --model "$tmp/ising.json" --sampler gibbs --chains 37 --steps 150 --burn-in 20 --out "$tmp/ising.npy" --seed 3
echo "gibbs_ising draws | $(sha256sum < "$tmp/ising.npy" | cut -c1-16)"
run ais_ising logz --model "$tmp/ising.json" --method ais --temps 200 --chains 40 --steps-per-temp 2 --seed 5
run ais_rbm logz --model examples-data/w3_rbm64x20.json --method ais --temps 500 --chains 70 --seed 5
run ais_gmm8_mala logz --model examples-data/gmm8.json --method ais --temps 300 --chains 50 --seed 5
run ais_gmm8_hmc logz --model examples-data/gmm8.json --method ais --temps 200 --chains 50 --sampler hmc --seed 5

train() { # name, then the ebm train arguments; the trained model's bits
  local name=$1; shift
  "$ebm" train --data examples-data/gaussian2_samples.csv --out "$tmp/$name.json" --seed 4 "$@" > /dev/null 2>&1
  echo "$name model | $(sha256sum < "$tmp/$name.json" | cut -c1-16)"
}
train train_dsm_gauss --model examples-data/gaussian2.json --estimator dsm --sigma 0.3,0.6 --steps 200 --lr 0.02
train train_nce_gauss --model examples-data/gaussian2.json --estimator nce --steps 200 --lr 0.02
train train_pcd_mala --model examples-data/gaussian2.json --estimator pcd --k 2 --steps 100 --lr 0.01 --optimizer sgd --momentum 0.9
train train_cd_hmc --model examples-data/gaussian2.json --estimator cd --sampler hmc --steps 100 --lr 0.01
train train_dsm_mlp --mlp 2,16,16,1 --estimator dsm --sigma 0.3 --steps 200 --lr 0.01
train train_replay_mlp --mlp 2,16,1 --estimator replay --steps 50 --lr 0.01 --sampler ula --step-size 0.05
