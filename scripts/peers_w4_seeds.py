"""scikit-learn's W4 (BernoulliRBM, PCD-1, 64 hidden, lr 0.05, batch 10,
20 epochs) for random_state 0-5, each scored like the peers' w4_pcd.py:
AIS log Z with the peers' JAX AIS (10,000 temperatures x 1,000 chains,
seed 0), average log-likelihood of the data. One JSON line per seed.

Run from a copy of ../shared/peers (it imports the peers' common.py and
w3_ais.py), with their venv: python peers_w4_seeds.py [--seeds 6]
"""

import argparse
import json

import numpy as np

from common import digits_binarized, rbm_free_energy_term
from w3_ais import ais_jax, logz0, summarize_logw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=6)
    a = ap.parse_args()
    from sklearn.neural_network import BernoulliRBM

    X = digits_binarized()
    for rs in range(a.seeds):
        m = BernoulliRBM(n_components=64, learning_rate=0.05, batch_size=10, n_iter=20, random_state=rs, verbose=0)
        m.fit(X)
        W = m.components_.T.astype(np.float64)
        b = m.intercept_visible_.astype(np.float64)
        c = m.intercept_hidden_.astype(np.float64)
        mean_logf = float(rbm_free_energy_term(X, W, b, c).mean())
        logw, _, _ = ais_jax(W, b, c, 10_000, 1_000, seed=0, reps=1)
        s = summarize_logw(logw, logz0(b, c))
        print(json.dumps({"workload": "W4-seeds", "random_state": rs, "ll": mean_logf - s["logz_ais"],
                          "se": s["logz_se"]}), flush=True)


if __name__ == "__main__":
    main()
