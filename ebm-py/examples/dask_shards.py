"""Sharded sampling on a Dask cluster: the chains of one run cut into
shards, each shard a Dask future on its own worker process, merged back
into exactly the result of one process with all the chains.

Why Dask rather than Ray: a shard is a plain function of picklable
arguments (a model file as a dict, integers), which is what Dask futures
are for; `dask.distributed` is a small pure-Python install whose
LocalCluster starts worker processes in about a second on a laptop or a
2-core CI machine, and the same code runs on a Dask cluster over SLURM,
Kubernetes or cloud machines (dask-jobqueue, dask-kubernetes). Ray would
do the same with `@ray.remote`, at the cost of a far larger runtime.

Run: python examples/dask_shards.py   (needs `pip install "dask[distributed]"`)
"""

import numpy as np

import ebm_rs

MODEL = {"type": "gmm", "weights": [0.5, 0.3, 0.2],
         "means": [[-2.0, 0.0, 1.0], [2.0, 1.0, 0.0], [0.0, -2.0, 2.0]], "stds": [0.8, 0.8, 0.8]}
SETTINGS = dict(sampler="hmc", draws=400, warmup=200, seed=11, no_adapt=True, step_size=0.3, leapfrog=8)


def shard(first: int, chains: int):
    """Chains first..first+chains of the run (runs on a worker, without a
    progress bar in the worker's log)."""
    return ebm_rs.sample(ebm_rs.from_dict(MODEL), chains=chains, first_chain=first, progress=False, **SETTINGS)


def main(chains: int = 64, shards: int = 4, workers: int = 2):
    from dask.distributed import Client, LocalCluster

    size = -(-chains // shards)
    ranges = [(k, min(size, chains - k)) for k in range(0, chains, size)]
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        futures = [client.submit(shard, first, n, pure=False) for first, n in ranges]
        parts = client.gather(futures)
    draws, report = ebm_rs.merge(parts)
    return draws, report


if __name__ == "__main__":
    draws, report = main()
    single, one = shard(0, 64)
    print(f"{report['merged_shards']} shards on Dask workers: draws {draws.shape}, mean {np.round(report['mean'], 3)}")
    print("identical to one process with all chains:", np.array_equal(draws, single) and report["mean"] == one["mean"])
