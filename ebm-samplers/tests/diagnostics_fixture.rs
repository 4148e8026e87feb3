//! The diagnostics against ArviZ on fixed draws (the fixture
//! `tests/fixtures/vehtari_arviz.json`, made by
//! `tests/fixtures/make_vehtari_fixture.py`; its provenance is in the
//! file). Same estimators, independent code: agreement to 1e-8 relative
//! (FFT and normal-quantile rounding differ at about 1e-14).

use ebm_samplers::diagnostics::{
    ess, ess_bulk, ess_mean, ess_tail, mcse_mean, rank_rhat, split_rhat, QuantityDiagnostics,
};

/// A diagnostic of one quantity's chains.
type Estimator = fn(&[Vec<f64>]) -> f64;

#[test]
fn ess_rhat_and_mcse_match_arviz_on_the_fixture() {
    let text = include_str!("fixtures/vehtari_arviz.json");
    let fixture: serde_json::Value = serde_json::from_str(text).unwrap();
    assert!(fixture["provenance"].as_str().unwrap().contains("arviz"));
    let sets = fixture["sets"].as_array().unwrap();
    assert_eq!(sets.len(), 6);
    for set in sets {
        let name = set["name"].as_str().unwrap();
        let chains: Vec<Vec<f64>> = serde_json::from_value(set["chains"].clone()).unwrap();
        let checks: [(&str, Estimator); 7] = [
            ("ess", ess),
            ("ess_mean", ess_mean),
            ("ess_bulk", ess_bulk),
            ("ess_tail", ess_tail),
            ("rhat_rank", rank_rhat),
            ("rhat_split", split_rhat),
            ("mcse_mean", mcse_mean),
        ];
        for (key, f) in checks {
            let want = set[key].as_f64().unwrap();
            let got = f(&chains);
            assert!(
                (got - want).abs() <= 1e-8 * want.abs(),
                "{name}: {key} {got} vs ArviZ {want}"
            );
        }
        // the shared-work path a run's report takes (one sort, views)
        let keys = [
            "ess_mean",
            "rhat_split",
            "ess_bulk",
            "ess_tail",
            "rhat_rank",
            "mcse_mean",
        ];
        for (key, got) in keys.iter().zip(QuantityDiagnostics::of(&chains).to_array()) {
            let want = set[*key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-8 * want.abs(),
                "{name}: shared {key} {got} vs ArviZ {want}"
            );
        }
    }
}

/// What the rank-normalised, folded R-hat is for: four chains that agree
/// in location but one of which is three times wider. Classic split R-hat
/// sees nothing (0.995 on the fixture's draws); the folded rank R-hat
/// flags it (1.18, above the 1.01 of Vehtari et al.). And chains stuck in
/// two modes are flagged by both.
#[test]
fn rank_rhat_flags_what_split_rhat_misses() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/vehtari_arviz.json")).unwrap();
    let set = |name: &str| -> Vec<Vec<f64>> {
        let s = fixture["sets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        serde_json::from_value(s["chains"].clone()).unwrap()
    };
    let wider = set("one_chain_wider");
    assert!(split_rhat(&wider) < 1.01);
    assert!(rank_rhat(&wider) > 1.1);
    let modes = set("two_modes");
    assert!(rank_rhat(&modes) > 1.5 && split_rhat(&modes) > 1.5);
    // tail ESS sees the wide chain's tails: far below the bulk ESS
    assert!(ess_tail(&wider) < 0.2 * ess_bulk(&wider));
}
