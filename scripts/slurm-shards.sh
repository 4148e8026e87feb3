#!/usr/bin/env bash
# A sampling run of CHAINS chains cut into SHARDS shards as a SLURM array
# job, then merged: the same draws and report as one process with all the
# chains, bit for bit (ebm sample --first-chain, ebm merge). Not run in CI.
#
#   MODEL=model.json CHAINS=4096 SHARDS=32 sbatch --array=0-31 scripts/slurm-shards.sh
#   # when the array is done (or: sbatch --dependency=afterok:<array job id> ...):
#   MERGE=1 SHARDS=32 OUTDIR=shards bash scripts/slurm-shards.sh
#
# Every shard must use the same model, sampler, schedule, seed and step
# size, and no adaptation (warm-up adaptation pools every chain of a run):
# run a short pilot with adaptation first and pass its step size.
#SBATCH --job-name=ebm-shard
#SBATCH --cpus-per-task=2
#SBATCH --time=01:00:00
set -euo pipefail
EBM=${EBM:-ebm}
OUTDIR=${OUTDIR:-shards}
SHARDS=${SHARDS:?set SHARDS}
mkdir -p "$OUTDIR"
if [ "${MERGE:-0}" = 1 ]; then
  reports=$(seq -f "$OUTDIR/shard%g.json" 0 $((SHARDS - 1)) | paste -sd,)
  draws=$(seq -f "$OUTDIR/shard%g.npy" 0 $((SHARDS - 1)) | paste -sd,)
  exec "$EBM" merge --reports "$reports" --draws "$draws" --out "$OUTDIR/all.npy" --json
fi
MODEL=${MODEL:?set MODEL}
CHAINS=${CHAINS:?set CHAINS}
k=${SLURM_ARRAY_TASK_ID:?run as an array job}
per=$(( (CHAINS + SHARDS - 1) / SHARDS ))
first=$(( k * per ))
n=$(( CHAINS - first < per ? CHAINS - first : per ))
[ "$n" -gt 0 ] || exit 0
"$EBM" sample --model "$MODEL" --sampler "${SAMPLER:-hmc}" --no-adapt --step-size "${STEP_SIZE:-0.1}" \
  --chains "$n" --first-chain "$first" --steps "${DRAWS:-1000}" --burn-in "${BURN_IN:-500}" \
  --seed "${SEED:-0}" --out "$OUTDIR/shard$k.npy" --json > "$OUTDIR/shard$k.json"
