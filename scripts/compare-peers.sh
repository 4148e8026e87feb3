#!/usr/bin/env bash
# Run the ebm-rs suite and put its figures beside the peer baselines
# (JAX/BlackJAX, PyTorch, scikit-learn, nuts-rs; ../shared/peers), with the
# ratio ebm-rs / best peer for each workload W1-W5 and W7-W9, the quality
# figure behind each speed figure, and the measured peak each comes
# nearest (the suite's --roofline).
#
#   scripts/compare-peers.sh                 # suite now, peers' recorded figures
#   scripts/compare-peers.sh --run-peers     # also rerun the best peers now
#   scripts/compare-peers.sh --suite-out DIR # reuse an existing suite run
#   PEER_RESULTS=scripts/peer-results/peers-2026-12-01.jsonl scripts/compare-peers.sh
#                                            # against the peers' figures of a recorded run
#
# Environment: PEERS_DIR (default ../shared/peers), PEERS_PY (default
# ~/.venvs/ebm-peers/bin/python; built by the peers' setup_venv.sh). The
# peers are never a dependency of ebm-rs or its CI: without the venv the
# recorded figures in PEERS_DIR/results are used. For ratios that mean
# something, run on an idle machine and compare only figures from one run.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS_DIR=${PEERS_DIR:-../shared/peers}
PEERS_PY=${PEERS_PY:-$HOME/.venvs/ebm-peers/bin/python}
run_peers=0
suite_out=""
while [ $# -gt 0 ]; do
  case $1 in
    --run-peers) run_peers=1 ;;
    --suite-out) suite_out=$2; shift ;;
    *) echo "usage: $0 [--run-peers] [--suite-out DIR]" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "$suite_out" ]; then
  suite_out=target/compare-peers/suite
  cargo run --release -p ebm-bench --bin ebm -- suite --only W1,W2,W3,W4,W5,W7,W8,W9 --roofline \
    --out "$suite_out" >&2
fi

peer_results=${PEER_RESULTS:-$PEERS_DIR/results/results.jsonl}
# scikit-learn's W4 over six training seeds (scripts/peers_w4_seeds.py),
# recorded on this kind of machine; rerun with --run-peers
w4_seeds=scripts/peer-results/w4_seeds.jsonl
if [ "$run_peers" = 1 ]; then
  if [ ! -x "$PEERS_PY" ]; then
    echo "no peer venv at $PEERS_PY (run $PEERS_DIR/setup_venv.sh); using recorded figures" >&2
  else
    # the peers' folder is read-only: run a scratch copy
    scratch=target/compare-peers/peers
    rm -rf "$scratch" && mkdir -p "$scratch" && cp -r "$PEERS_DIR"/. "$scratch"/
    rm -f "$scratch/results/results.jsonl"
    (
      cd "$scratch"
      py() { echo "+ $*" >&2; "$PEERS_PY" "$@" >> results/results.jsonl; }
      py w1_ula.py --impl jax_ula --reps 3
      py w2_hmc.py --impl torch_manual --reps 3
      py w2_hmc.py --impl blackjax --reps 3
      py w3_ais.py --exact
      py w3_ais.py --impl jax --K 10000 --chains 1000 --reps 3
      py w4_pcd.py --reps 5 --ais-seeds 2
      py w5_dsm.py --impl jax_scan --reps 3
      # W7's nuts-rs harness builds once (about 2.5 minutes) into a folder
      # kept between runs
      export NUTS_RS_W7_TARGET=${NUTS_RS_W7_TARGET:-$OLDPWD/target/compare-peers/nuts_rs_w7}
      py w7_nuts.py --impl nuts_rs --reps 3
      py w7_nuts.py --impl blackjax --reps 3
      py w8_ising_ais.py --impl jax --K 1000 --chains 100 --reps 3
      py w8_ising_ais.py --impl jax --K 1000 --chains 1000 --reps 3
      py w9_smc.py --impl blackjax --reps 3
      py w9_smc.py --impl blackjax --seeds 10
      cp "$OLDPWD/scripts/peers_w4_seeds.py" .
      echo "+ peers_w4_seeds.py" >&2
      "$PEERS_PY" peers_w4_seeds.py > results/w4_seeds.jsonl
    )
    peer_results="$scratch/results/results.jsonl"
    w4_seeds="$scratch/results/w4_seeds.jsonl"
  fi
fi

python3 scripts/compare_peers.py "$suite_out/results.json" "$peer_results" "$w4_seeds"
