//! Model files: every reference energy as serde JSON, tagged by `type`.
//!
//! ```text
//! {"type":"gaussian","mean":[..D],"covariance":[[..D]..D]}     (or "precision"; optional "arithmetic":"f32")
//! {"type":"diag_gaussian","mean":[..],"std":[..]}
//! {"type":"banded_gaussian","mean":[..D],"bands":[[..D],[..D-1],..]}   (diagonals of the precision)
//! {"type":"gmm","weights":[..K],"means":[[..D]..K],"stds":[..K]}   optional "arithmetic":"f32"
//! {"type":"rbm","w":[[..H]..V],"b":[..V],"c":[..H]}
//! {"type":"double_well","dim":D,"barrier":a}
//! {"type":"banana","dim":D,"curvature":b,"scale":s}             (dim 2, scale 1 by default)
//! {"type":"funnel","dim":D,"scale":sigma}                       (scale 3 by default)
//! {"type":"mlp","activation":"silu","layers":[{"w":[[..in]..out],"b":[..out]},..]}   (last layer: 1 output)
//! {"type":"ising","rows":R,"cols":C,"coupling":J,"field":h,"beta":beta,"periodic":bool}
//! {"type":"pairwise","n":N,"spins":"pm1"|"bits","couplings":[[i,j,J],..],"fields":[..N]}   (fields optional, 0)
//! {"type":"potts","n":N,"q":Q,"couplings":[[i,j,J],..],"fields":[[..Q]..N]}   (fields optional, 0)
//! {"type":"categorical","q":[..N],"edges":[{"i":i,"j":j,"w":[[..q_j]..q_i]},..],"fields":[[..q_i]..N]}
//! {"type":"gb_rbm","w":[[..H]..V],"b":[..V],"c":[..H],"sigma":[..V]}
//! {"type":"conv","activation":"silu","input":[C,H,W],"convs":[{"out_channels":O,"kernel":K,"stride":S,"padding":P,"w":[..O*C*K*K],"b":[..O]},..],"linear":{"w":[..],"b":b}}   optional "arithmetic":"f32"
//! ```
//!
//! Loading validates everything (shapes, finiteness, positivity, positive
//! definiteness) and each error names the offending field.
//!
//! ```
//! use ebm_core::spec::{EnergySpec, Model};
//! let spec = EnergySpec::from_json(r#"{"type":"diag_gaussian","mean":[0,0],"std":[1,2]}"#).unwrap();
//! let Model::Continuous(e) = spec.build().unwrap() else { unreachable!() };
//! assert_eq!(e.dim(), 2);
//! let bad = EnergySpec::from_json(r#"{"type":"diag_gaussian","mean":[0,0],"std":[1,-2]}"#).unwrap();
//! assert_eq!(bad.build().unwrap_err().to_string(), "std[1]: must be positive, got -2");
//! ```

use crate::binary::BinaryEnergy;
use crate::categorical::CategoricalEnergy;
use crate::energies::{
    Activation, Banana, BandedGaussian, CategoricalPairwise, ConvLayer, ConvNet, DiagGaussian, DoubleWell,
    Funnel, Gaussian, GbRbm, Gmm, Ising, Mlp, Pairwise, Rbm, Spins,
};
use crate::energy::Energy;
use crate::error::{check_len, CoreError, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

fn default_banana_dim() -> usize {
    2
}
fn one() -> f64 {
    1.0
}
fn three() -> f64 {
    3.0
}
fn one_usize() -> usize {
    1
}

/// The arithmetic an energy is evaluated in, where it offers a choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arithmetic {
    /// Double precision (the default).
    #[default]
    F64,
    /// Single precision, for speed where a relative error of about 1e-7
    /// is harmless (sampling).
    F32,
}

impl Arithmetic {
    /// Whether this is the default, f64.
    pub fn is_f64(&self) -> bool {
        *self == Arithmetic::F64
    }
}

/// A reference energy as it appears in a model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum EnergySpec {
    /// [`Gaussian`]: exactly one of `covariance` and `precision`.
    Gaussian {
        /// Mean, D entries.
        mean: Vec<f64>,
        /// Covariance, D rows of D.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        covariance: Option<Vec<Vec<f64>>>,
        /// Precision, D rows of D.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        precision: Option<Vec<Vec<f64>>>,
        /// `"f64"` (the default) or `"f32"`: the arithmetic of the
        /// gradient's matrix product ([`Gaussian::with_f32_arithmetic`]).
        #[serde(default, skip_serializing_if = "Arithmetic::is_f64")]
        arithmetic: Arithmetic,
    },
    /// [`DiagGaussian`].
    DiagGaussian {
        /// Mean, D entries.
        mean: Vec<f64>,
        /// Standard deviations, D positive entries.
        std: Vec<f64>,
    },
    /// [`BandedGaussian`]: the precision by its diagonals.
    BandedGaussian {
        /// Mean, D entries.
        mean: Vec<f64>,
        /// The main diagonal of the precision (D entries), then the
        /// off-diagonals P_{i, i+m} (D - m entries each), m = 1..=k.
        bands: Vec<Vec<f64>>,
    },
    /// [`Gmm`].
    Gmm {
        /// Component weights, K positive entries, used as given.
        weights: Vec<f64>,
        /// Component means, K rows of D.
        means: Vec<Vec<f64>>,
        /// Component standard deviations, K positive entries.
        stds: Vec<f64>,
        /// `"f64"` (the default) or `"f32"`: the arithmetic of the
        /// log-sum-exp and the gradient ([`Gmm::with_f32_arithmetic`]).
        #[serde(default, skip_serializing_if = "Arithmetic::is_f64")]
        arithmetic: Arithmetic,
    },
    /// [`Rbm`].
    Rbm {
        /// Weights, V rows of H.
        w: Vec<Vec<f64>>,
        /// Visible biases, V entries.
        b: Vec<f64>,
        /// Hidden biases, H entries.
        c: Vec<f64>,
    },
    /// [`DoubleWell`].
    DoubleWell {
        /// Dimension D >= 1.
        dim: usize,
        /// Barrier height a > 0.
        barrier: f64,
    },
    /// [`Banana`].
    Banana {
        /// Dimension D >= 2 (default 2).
        #[serde(default = "default_banana_dim")]
        dim: usize,
        /// Curvature b.
        curvature: f64,
        /// Scale s > 0 of the first coordinate (default 1).
        #[serde(default = "one")]
        scale: f64,
    },
    /// [`Funnel`].
    Funnel {
        /// Dimension D >= 2.
        dim: usize,
        /// Standard deviation of the neck coordinate (default 3).
        #[serde(default = "three")]
        scale: f64,
    },
    /// [`Mlp`]: an energy network.
    Mlp {
        /// Nonlinearity after every layer but the last (default silu).
        #[serde(default)]
        activation: Activation,
        /// Layers from input to output; the last has one output.
        layers: Vec<MlpLayerSpec>,
    },
    /// [`Ising`].
    Ising {
        /// Lattice rows.
        rows: usize,
        /// Lattice columns.
        cols: usize,
        /// Coupling J (default 1).
        #[serde(default = "one")]
        coupling: f64,
        /// Field h (default 0).
        #[serde(default)]
        field: f64,
        /// Inverse temperature beta (default 1).
        #[serde(default = "one")]
        beta: f64,
        /// Wrap around the edges (default false).
        #[serde(default)]
        periodic: bool,
    },
    /// [`Pairwise`]: a binary model on any graph.
    Pairwise {
        /// Number of sites.
        n: usize,
        /// The two values of a site: `pm1` ({-1, +1}, the default) or
        /// `bits` ({0, 1}).
        #[serde(default)]
        spins: Spins,
        /// The pairs `[i, j, J]`, 0-based, each listed once.
        #[serde(default)]
        couplings: Vec<(usize, usize, f64)>,
        /// The fields h_i, one per site (default all 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Vec<f64>>,
    },
    /// [`GbRbm`]: a Gaussian-Bernoulli RBM.
    GbRbm {
        /// Weights, V rows of H values.
        w: Vec<Vec<f64>>,
        /// Visible biases.
        b: Vec<f64>,
        /// Hidden biases.
        c: Vec<f64>,
        /// Visible scales (positive).
        sigma: Vec<f64>,
    },
    /// [`ConvNet`]: a convolutional energy on images.
    Conv {
        /// Nonlinearity after every convolution (default silu).
        #[serde(default)]
        activation: Activation,
        /// The image shape `[channels, height, width]`; a point is the
        /// image flattened channel-major.
        input: [usize; 3],
        /// The convolutions, input first.
        convs: Vec<ConvLayerSpec>,
        /// The final linear layer to the energy.
        linear: LinearSpec,
        /// The arithmetic of the passes (default f64).
        #[serde(default, skip_serializing_if = "Arithmetic::is_f64")]
        arithmetic: Arithmetic,
    },
    /// A Potts model ([`CategoricalPairwise::potts`]).
    Potts {
        /// Number of sites.
        n: usize,
        /// States per site.
        q: usize,
        /// The pairs `[i, j, J]`, 0-based, each listed once; W(a, b) = J [a = b].
        #[serde(default)]
        couplings: Vec<(usize, usize, f64)>,
        /// The fields h_i(a), `q` per site (default all 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Vec<Vec<f64>>>,
    },
    /// A categorical pairwise model with a coupling matrix per edge
    /// ([`CategoricalPairwise::new`]).
    Categorical {
        /// States per site.
        q: Vec<usize>,
        /// The edges, each pair once.
        #[serde(default)]
        edges: Vec<EdgeSpec>,
        /// The fields h_i(a), q_i per site (default all 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Vec<Vec<f64>>>,
    },
}

/// One edge of an [`EnergySpec::Categorical`]: sites i and j (0-based)
/// and W, q_i rows of q_j values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// The first site.
    pub i: usize,
    /// The second site.
    pub j: usize,
    /// W_ij(a, b): row a, column b.
    pub w: Vec<Vec<f64>>,
}

/// One affine layer of an [`EnergySpec::Mlp`]: z = W h + b.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpLayerSpec {
    /// Weights, one row per output, one column per input.
    pub w: Vec<Vec<f64>>,
    /// Biases, one per output.
    pub b: Vec<f64>,
}

/// One convolution of an [`EnergySpec::Conv`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvLayerSpec {
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size (square).
    pub kernel: usize,
    /// Stride (default 1).
    #[serde(default = "one_usize")]
    pub stride: usize,
    /// Zero padding on every side (default 0).
    #[serde(default)]
    pub padding: usize,
    /// Filters, `out_channels x in_channels x kernel x kernel`, flattened
    /// row-major (PyTorch's `Conv2d.weight`).
    pub w: Vec<f64>,
    /// Biases, one per output channel.
    pub b: Vec<f64>,
}

/// The final layer of an [`EnergySpec::Conv`]: E = w . flatten(A_L) + b.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearSpec {
    /// Weights over the last activation flattened channel-major.
    pub w: Vec<f64>,
    /// The bias.
    pub b: f64,
}

/// A loaded model: an energy on R^D, or a model on binary states.
#[derive(Clone)]
pub enum Model {
    /// A continuous energy.
    Continuous(Arc<dyn Energy>),
    /// A binary model.
    Binary(Arc<dyn BinaryEnergy>),
    /// A categorical model.
    Categorical(Arc<dyn CategoricalEnergy>),
}

impl Model {
    /// Dimension of the state space.
    pub fn dim(&self) -> usize {
        match self {
            Model::Continuous(e) => e.dim(),
            Model::Binary(b) => b.dim(),
            Model::Categorical(c) => c.dim(),
        }
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Model::Continuous(e) => write!(f, "Model::Continuous(dim {})", e.dim()),
            Model::Binary(b) => write!(f, "Model::Binary(dim {})", b.dim()),
            Model::Categorical(c) => write!(f, "Model::Categorical(dim {})", c.dim()),
        }
    }
}

/// Flatten `rows` (each of length `ncols`) into a row-major buffer, naming
/// `field[i]` when a row has the wrong length.
pub fn flatten_rows(field: &str, rows: &[Vec<f64>], nrows: usize, ncols: usize) -> Result<Vec<f64>> {
    check_len(field, rows.len(), nrows).map_err(|_| CoreError::Shape {
        field: field.into(),
        expected: format!("{nrows} rows"),
        got: format!("{}", rows.len()),
    })?;
    let mut flat = Vec::with_capacity(nrows * ncols);
    for (i, r) in rows.iter().enumerate() {
        check_len(&format!("{field}[{i}]"), r.len(), ncols)?;
        flat.extend_from_slice(r);
    }
    Ok(flat)
}

fn to_rows(flat: &[f64], ncols: usize) -> Vec<Vec<f64>> {
    flat.chunks_exact(ncols).map(<[f64]>::to_vec).collect()
}

impl EnergySpec {
    /// Parse a model file's text.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| CoreError::Json(e.to_string()))
    }

    /// Serialise to JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("specs always serialise")
    }

    /// The `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            EnergySpec::Gaussian { .. } => "gaussian",
            EnergySpec::DiagGaussian { .. } => "diag_gaussian",
            EnergySpec::BandedGaussian { .. } => "banded_gaussian",
            EnergySpec::Gmm { .. } => "gmm",
            EnergySpec::Rbm { .. } => "rbm",
            EnergySpec::DoubleWell { .. } => "double_well",
            EnergySpec::Banana { .. } => "banana",
            EnergySpec::Funnel { .. } => "funnel",
            EnergySpec::Mlp { .. } => "mlp",
            EnergySpec::Ising { .. } => "ising",
            EnergySpec::Pairwise { .. } => "pairwise",
            EnergySpec::GbRbm { .. } => "gb_rbm",
            EnergySpec::Conv { .. } => "conv",
            EnergySpec::Potts { .. } => "potts",
            EnergySpec::Categorical { .. } => "categorical",
        }
    }

    /// Validate and build the model.
    pub fn build(&self) -> Result<Model> {
        Ok(match self {
            EnergySpec::Gaussian { .. }
            | EnergySpec::DiagGaussian { .. }
            | EnergySpec::BandedGaussian { .. }
            | EnergySpec::Gmm { .. }
            | EnergySpec::DoubleWell { .. }
            | EnergySpec::Banana { .. }
            | EnergySpec::Funnel { .. }
            | EnergySpec::Mlp { .. }
            | EnergySpec::GbRbm { .. }
            | EnergySpec::Conv { .. } => Model::Continuous(self.build_continuous()?),
            EnergySpec::Rbm { w, b, c } => Model::Binary(Arc::new(Rbm::from_rows(w, b.clone(), c.clone())?)),
            EnergySpec::Ising {
                rows,
                cols,
                coupling,
                field,
                beta,
                periodic,
            } => Model::Binary(Arc::new(Ising::new(
                *rows, *cols, *coupling, *field, *beta, *periodic,
            )?)),
            EnergySpec::Pairwise {
                n,
                spins,
                couplings,
                fields,
            } => Model::Binary(Arc::new(Pairwise::new(
                crate::energies::check_sites(*n).map(|_| *n)?,
                *spins,
                couplings.clone(),
                fields.clone().unwrap_or_else(|| vec![0.0; *n]),
            )?)),
            EnergySpec::Potts {
                n,
                q,
                couplings,
                fields,
            } => Model::Categorical(Arc::new(CategoricalPairwise::potts(
                *n,
                *q,
                couplings,
                fields.as_deref(),
            )?)),
            EnergySpec::Categorical { q, edges, fields } => {
                let edges: Vec<_> = edges.iter().map(|e| (e.i, e.j, e.w.clone())).collect();
                Model::Categorical(Arc::new(CategoricalPairwise::new(
                    q.clone(),
                    &edges,
                    fields.as_deref(),
                )?))
            }
        })
    }

    /// Validate and build a continuous energy; binary models are an error.
    pub fn build_continuous(&self) -> Result<Arc<dyn Energy>> {
        Ok(match self {
            EnergySpec::Gaussian {
                mean,
                covariance,
                precision,
                arithmetic,
            } => {
                let d = mean.len();
                let g = match (covariance, precision) {
                    (Some(c), None) => {
                        Gaussian::from_covariance(mean.clone(), &flatten_rows("covariance", c, d, d)?)?
                    }
                    (None, Some(p)) => {
                        Gaussian::from_precision(mean.clone(), &flatten_rows("precision", p, d, d)?)?
                    }
                    _ => {
                        return Err(CoreError::InvalidParameter {
                            field: "covariance".into(),
                            reason: "give exactly one of `covariance` and `precision`".into(),
                        })
                    }
                };
                Arc::new(match arithmetic {
                    Arithmetic::F64 => g,
                    Arithmetic::F32 => g.with_f32_arithmetic(),
                })
            }
            EnergySpec::DiagGaussian { mean, std } => Arc::new(DiagGaussian::new(mean.clone(), std.clone())?),
            EnergySpec::BandedGaussian { mean, bands } => {
                Arc::new(BandedGaussian::new(mean.clone(), bands.clone())?)
            }
            EnergySpec::Gmm {
                weights,
                means,
                stds,
                arithmetic,
            } => {
                let g = Gmm::new(weights.clone(), means.clone(), stds.clone())?;
                Arc::new(match arithmetic {
                    Arithmetic::F64 => g,
                    Arithmetic::F32 => g.with_f32_arithmetic(),
                })
            }
            EnergySpec::DoubleWell { dim, barrier } => Arc::new(DoubleWell::new(*dim, *barrier)?),
            EnergySpec::Banana {
                dim,
                curvature,
                scale,
            } => Arc::new(Banana::new(*dim, *curvature, *scale)?),
            EnergySpec::Funnel { dim, scale } => Arc::new(Funnel::new(*dim, *scale)?),
            EnergySpec::Mlp { activation, layers } => {
                let rows: Vec<_> = layers.iter().map(|l| (l.w.clone(), l.b.clone())).collect();
                Arc::new(Mlp::from_rows(*activation, &rows)?)
            }
            EnergySpec::GbRbm { w, b, c, sigma } => {
                Arc::new(GbRbm::from_rows(w, b.clone(), c.clone(), sigma.clone())?)
            }
            EnergySpec::Conv { .. } => Arc::new(self.build_conv()?),
            other => {
                return Err(CoreError::InvalidParameter {
                    field: "type".into(),
                    reason: format!(
                        "`{}` is a {} model, not an energy on R^D",
                        other.type_name(),
                        match other {
                            EnergySpec::Potts { .. } | EnergySpec::Categorical { .. } => "categorical",
                            _ => "binary",
                        }
                    ),
                })
            }
        })
    }
}

impl From<&Gaussian> for EnergySpec {
    fn from(g: &Gaussian) -> Self {
        EnergySpec::Gaussian {
            mean: g.mean().to_vec(),
            covariance: None,
            precision: Some(to_rows(g.precision(), g.dim())),
            arithmetic: if g.f32_arithmetic() {
                Arithmetic::F32
            } else {
                Arithmetic::F64
            },
        }
    }
}
impl From<&DiagGaussian> for EnergySpec {
    fn from(g: &DiagGaussian) -> Self {
        EnergySpec::DiagGaussian {
            mean: g.mean().to_vec(),
            std: g.std().to_vec(),
        }
    }
}
impl From<&BandedGaussian> for EnergySpec {
    fn from(g: &BandedGaussian) -> Self {
        EnergySpec::BandedGaussian {
            mean: g.mean().to_vec(),
            bands: g.bands().to_vec(),
        }
    }
}
impl From<&Gmm> for EnergySpec {
    fn from(g: &Gmm) -> Self {
        EnergySpec::Gmm {
            weights: g.weights().to_vec(),
            means: g.means(),
            stds: g.stds().to_vec(),
            arithmetic: if g.f32_arithmetic() {
                Arithmetic::F32
            } else {
                Arithmetic::F64
            },
        }
    }
}
impl From<&Rbm> for EnergySpec {
    fn from(r: &Rbm) -> Self {
        EnergySpec::Rbm {
            w: to_rows(r.weights(), r.n_hidden()),
            b: r.visible_bias().to_vec(),
            c: r.hidden_bias().to_vec(),
        }
    }
}
impl From<&DoubleWell> for EnergySpec {
    fn from(e: &DoubleWell) -> Self {
        EnergySpec::DoubleWell {
            dim: e.dim(),
            barrier: e.barrier(),
        }
    }
}
impl From<&Banana> for EnergySpec {
    fn from(e: &Banana) -> Self {
        EnergySpec::Banana {
            dim: e.dim(),
            curvature: e.curvature(),
            scale: e.scale(),
        }
    }
}
impl From<&Funnel> for EnergySpec {
    fn from(e: &Funnel) -> Self {
        EnergySpec::Funnel {
            dim: e.dim(),
            scale: e.scale(),
        }
    }
}
impl From<&Ising> for EnergySpec {
    fn from(m: &Ising) -> Self {
        EnergySpec::Ising {
            rows: m.rows(),
            cols: m.cols(),
            coupling: m.coupling(),
            field: m.field(),
            beta: m.beta(),
            periodic: m.periodic(),
        }
    }
}
impl From<&Pairwise> for EnergySpec {
    fn from(m: &Pairwise) -> Self {
        EnergySpec::Pairwise {
            n: m.n(),
            spins: m.spins(),
            couplings: m.couplings().to_vec(),
            fields: Some(m.fields().to_vec()),
        }
    }
}
impl From<&GbRbm> for EnergySpec {
    fn from(m: &GbRbm) -> Self {
        EnergySpec::GbRbm {
            w: to_rows(m.weights(), m.n_hidden()),
            b: m.visible_bias().to_vec(),
            c: m.hidden_bias().to_vec(),
            sigma: m.sigma().to_vec(),
        }
    }
}
impl From<&CategoricalPairwise> for EnergySpec {
    fn from(m: &CategoricalPairwise) -> Self {
        let fields = Some((0..m.n()).map(|i| m.fields_of(i).to_vec()).collect());
        match m.potts_form() {
            Some((q, couplings)) => EnergySpec::Potts {
                n: m.n(),
                q,
                couplings: couplings.to_vec(),
                fields,
            },
            None => EnergySpec::Categorical {
                q: m.q().to_vec(),
                edges: m
                    .edges()
                    .iter()
                    .map(|(i, j, w)| EdgeSpec {
                        i: *i,
                        j: *j,
                        w: to_rows(w, m.q()[*j]),
                    })
                    .collect(),
                fields,
            },
        }
    }
}
impl EnergySpec {
    /// Validate and build a `conv` model; any other type is an error.
    pub fn build_conv(&self) -> Result<ConvNet> {
        let EnergySpec::Conv {
            activation,
            input,
            convs,
            linear,
            arithmetic,
        } = self
        else {
            return Err(CoreError::InvalidParameter {
                field: "type".into(),
                reason: format!("expected a `conv` model, got `{}`", self.type_name()),
            });
        };
        let layers = convs
            .iter()
            .map(|c| ConvLayer {
                w: c.w.clone(),
                b: c.b.clone(),
                out_channels: c.out_channels,
                kernel: c.kernel,
                stride: c.stride,
                padding: c.padding,
            })
            .collect();
        Ok(
            ConvNet::new(*activation, *input, layers, linear.w.clone(), linear.b)?
                .with_arithmetic(*arithmetic),
        )
    }
}

impl From<&ConvNet> for EnergySpec {
    fn from(m: &ConvNet) -> Self {
        let (w, b) = m.linear();
        EnergySpec::Conv {
            activation: m.activation(),
            input: m.geometry().input,
            convs: m
                .convs()
                .iter()
                .map(|c| ConvLayerSpec {
                    out_channels: c.out_channels,
                    kernel: c.kernel,
                    stride: c.stride,
                    padding: c.padding,
                    w: c.w.clone(),
                    b: c.b.clone(),
                })
                .collect(),
            linear: LinearSpec { w: w.to_vec(), b },
            arithmetic: m.arithmetic(),
        }
    }
}

impl From<&Mlp> for EnergySpec {
    fn from(m: &Mlp) -> Self {
        EnergySpec::Mlp {
            activation: m.activation(),
            layers: m
                .layers()
                .iter()
                .map(|l| MlpLayerSpec {
                    w: to_rows(&l.w, l.n_in),
                    b: l.b.clone(),
                })
                .collect(),
        }
    }
}
