use super::*;
use proptest::prelude::*;

/// A deterministic pseudo-random value in (-scale, scale).
fn values(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            scale * (((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0)
        })
        .collect()
}

/// Two input channels on 5 x 4, then a 3x3 stride-1 padding-1 layer of 3
/// channels and a 2x2 stride-2 layer of 2 channels without padding: odd
/// sizes, several channels, both strides, padding and none.
fn net(act: Activation, seed: u64) -> ConvNet {
    let input = [2, 5, 4];
    let specs = [(3, 3, 1, 1), (2, 2, 2, 0)];
    let geo = Geometry::new(input, &specs).unwrap();
    let convs = specs
        .iter()
        .zip(&geo.layers)
        .enumerate()
        .map(|(l, (&(c_out, k, s, p), g))| ConvLayer {
            w: values(c_out * g.c_in * k * k, seed + l as u64, 0.6),
            b: values(c_out, seed + 10 + l as u64, 0.3),
            out_channels: c_out,
            kernel: k,
            stride: s,
            padding: p,
        })
        .collect();
    ConvNet::new(act, input, convs, values(geo.features(), seed + 20, 0.5), 0.1).unwrap()
}

/// The network evaluated straight from its definition: nested loops over
/// channel-major tensors, no im2col, no reordering.
fn direct_energy(net: &ConvNet, x: &[f64]) -> f64 {
    let [mut c, mut h, mut w] = net.geometry().input;
    let mut a = x.to_vec();
    for (conv, g) in net.convs().iter().zip(&net.geometry().layers) {
        let mut z = vec![0.0; g.c_out * g.h_out * g.w_out];
        for o in 0..g.c_out {
            for oy in 0..g.h_out {
                for ox in 0..g.w_out {
                    let mut s = conv.b[o];
                    for ci in 0..c {
                        for ky in 0..g.kernel {
                            for kx in 0..g.kernel {
                                let iy = (oy * g.stride + ky) as isize - g.padding as isize;
                                let ix = (ox * g.stride + kx) as isize - g.padding as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let wv = conv.w[((o * c + ci) * g.kernel + ky) * g.kernel + kx];
                                s += wv * a[(ci * h + iy as usize) * w + ix as usize];
                            }
                        }
                    }
                    z[(o * g.h_out + oy) * g.w_out + ox] = net.activation().value_and_slope(s).0;
                }
            }
        }
        (a, c, h, w) = (z, g.c_out, g.h_out, g.w_out);
    }
    let (lin, b) = net.linear();
    lin.iter().zip(&a).map(|(p, q)| p * q).sum::<f64>() + b
}

#[test]
fn energy_matches_the_definition() {
    for act in [Activation::Silu, Activation::Softplus, Activation::Tanh] {
        let m = net(act, 3);
        for seed in 0..5 {
            let x = values(40, 100 + seed, 1.5);
            let (e, d) = (m.energy(&x), direct_energy(&m, &x));
            assert!((e - d).abs() < 1e-12 * (1.0 + d.abs()), "{act:?}: {e} vs {d}");
        }
    }
}

proptest! {
    /// Central differences with h = 1e-5: truncation O(h^2 |E'''|) ~ 1e-10
    /// and rounding O(eps |E| / h) ~ 1e-11 for these weights; 1e-6 leaves
    /// room.
    #[test]
    fn input_gradient_matches_finite_differences(
        x in proptest::collection::vec(-2.0f64..2.0, 40),
        seed in 0u64..1000,
        act in prop_oneof![Just(Activation::Silu), Just(Activation::Softplus), Just(Activation::Tanh)],
    ) {
        let m = net(act, seed);
        let mut g = vec![0.0; 40];
        m.energy_grad(&x, &mut g);
        for i in 0..40 {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += 1e-5;
            xm[i] -= 1e-5;
            let fd = (m.energy(&xp) - m.energy(&xm)) / 2e-5;
            prop_assert!((fd - g[i]).abs() < 1e-6, "x[{i}]: {fd} vs {}", g[i]);
        }
    }

    /// The parameter gradient of S = sum_i r_i E(x_i) against central
    /// differences in every parameter (same error budget as above, times
    /// the three rows).
    #[test]
    fn parameter_gradient_matches_finite_differences(
        seed in 0u64..1000,
        act in prop_oneof![Just(Activation::Silu), Just(Activation::Softplus), Just(Activation::Tanh)],
    ) {
        let mut m = net(act, seed);
        let x = values(120, seed + 7, 1.5);
        let r = [0.7, -1.3, 0.4];
        let s = |m: &ConvNet| {
            let mut e = [0.0; 3];
            m.energy_batch(&x, &mut e);
            e.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>()
        };
        let mut ws = pass::Workspace::<f64>::default();
        pass::to_position_major(m.geometry(), &x, &mut ws.scratch.x);
        let weights = m.weights::<f64>();
        pass::forward(m.geometry(), weights, act, &ws.scratch.x, 3, false, &mut ws.trace);
        let mut grads: Vec<Vec<f64>> = m.params().iter().map(|p| vec![0.0; p.len()]).collect();
        pass::backward(m.geometry(), weights, &ws.trace, &r, Some(&mut grads), false, &mut ws.scratch);
        let params = m.params();
        for (t, p) in params.iter().enumerate() {
            for j in 0..p.len() {
                let mut plus = params.clone();
                plus[t][j] += 1e-5;
                let mut minus = params.clone();
                minus[t][j] -= 1e-5;
                m.set_params(&plus).unwrap();
                let up = s(&m);
                m.set_params(&minus).unwrap();
                let down = s(&m);
                let fd = (up - down) / 2e-5;
                prop_assert!((fd - grads[t][j]).abs() < 3e-6, "tensor {t}[{j}]: {fd} vs {}", grads[t][j]);
            }
        }
        m.set_params(&params).unwrap();
    }
}

#[test]
fn batch_agrees_with_single_images() {
    let m = net(Activation::Silu, 7);
    let xs = values(40 * 6, 9, 1.0);
    let mut e = vec![0.0; 6];
    let mut g = vec![0.0; 40 * 6];
    m.energy_grad_batch(&xs, &mut g, &mut e);
    for i in 0..6 {
        let mut gi = vec![0.0; 40];
        let ei = m.energy_grad(&xs[i * 40..(i + 1) * 40], &mut gi);
        assert!((ei - e[i]).abs() < 1e-13);
        for (a, b) in gi.iter().zip(&g[i * 40..(i + 1) * 40]) {
            assert!((a - b).abs() < 1e-13);
        }
    }
}

/// Single precision keeps about 7 digits: energies and gradients of
/// size ~1 within 1e-4 of the f64 pass.
#[test]
fn single_precision_is_close_to_double() {
    let m = net(Activation::Softplus, 4);
    let m32 = m.clone().with_arithmetic(Arithmetic::F32);
    let xs = values(40 * 4, 5, 1.0);
    let (mut e, mut e32) = (vec![0.0; 4], vec![0.0; 4]);
    let (mut g, mut g32) = (vec![0.0; 160], vec![0.0; 160]);
    m.energy_grad_batch(&xs, &mut g, &mut e);
    m32.energy_grad_batch(&xs, &mut g32, &mut e32);
    for (a, b) in e.iter().zip(&e32).chain(g.iter().zip(&g32)) {
        assert!((a - b).abs() < 1e-4 * (1.0 + a.abs()), "{a} vs {b}");
    }
}

#[test]
fn bad_shapes_are_refused_with_the_field() {
    let err =
        |input, specs: &[(usize, usize, usize, usize)]| Geometry::new(input, specs).unwrap_err().to_string();
    assert!(err([1, 8, 8], &[(4, 3, 1, 3)]).starts_with("convs[0].padding"));
    assert!(err([1, 2, 2], &[(4, 5, 1, 1)]).starts_with("convs[0].kernel"));
    assert!(err([1, 8, 8], &[(4, 3, 0, 1)]).starts_with("convs[0].stride"));
    assert!(err([1, 8, 8], &[(0, 3, 1, 1)]).starts_with("convs[0].out_channels"));
    assert!(err([0, 8, 8], &[(4, 3, 1, 1)]).starts_with("input"));
    assert!(err([1, 8, 8], &[]).starts_with("convs"));
    let mut m = net(Activation::Tanh, 1);
    let mut p = m.params();
    p[1][0] = f64::NAN;
    assert!(m
        .set_params(&p)
        .unwrap_err()
        .to_string()
        .starts_with("convs[0].b[0]"));
    p[1][0] = 0.0;
    p.pop();
    assert!(m.set_params(&p).is_err());
}

/// A network goes to its model file and back unchanged, f32 arithmetic
/// included; a file whose filters have the wrong length names them.
#[test]
fn model_file_round_trip() {
    let m = net(Activation::Softplus, 2).with_arithmetic(Arithmetic::F32);
    let json = crate::EnergySpec::from(&m).to_json();
    let back = crate::EnergySpec::from_json(&json).unwrap().build_conv().unwrap();
    assert_eq!(back, m);
    let bad = json.replacen("\"w\":[", "\"w\":[1.0,", 1);
    let err = crate::EnergySpec::from_json(&bad)
        .unwrap()
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(err.starts_with("convs[0].w"), "{err}");
}
