//! The BERT encoder the sentence model runs. The word-embedding table, half of the
//! model's weights, is held as 8-bit blocks (ggml's Q8_0: 32 weights share one scale):
//! it is only looked up, a row per token, so this costs no time, saves about 35 MB and
//! moves a sentence's vector by less than 1e-4 of a cosine. The layers keep 32-bit
//! weights: with them 8-bit too, peak RSS fell from 172 to 139 MB on `bench memory` but
//! frontdesk's CPU per message on `bench pipeline` rose from 2.6 to 4.9 ms (candle's
//! 8-bit products do not gain from a batch as its 32-bit ones do). The arithmetic is candle's; this file wires the layers of a `BertModel`
//! (names as Hugging Face saves them) as `candle_transformers`' BERT does, with the
//! embedding table quantized.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Result, Tensor};
use candle_transformers::models::bert::{Config, HiddenAct};

/// How the word-embedding table is held.
const QUANTIZED: GgmlDType = GgmlDType::Q8_0;

/// One weight as loaded: the embedding table quantized as it is read, so its 32-bit copy
/// never lives beside the rest.
pub enum Weight {
    Dense(Tensor),
    Quantized(Arc<QTensor>),
}

impl Weight {
    /// Quantizes `tensor` when it is the word-embedding table and its rows split into
    /// whole blocks; keeps it as it is otherwise.
    ///
    /// # Errors
    /// Quantization failed (not expected for f32 matrices).
    pub fn from_tensor(name: &str, tensor: Tensor) -> Result<Self> {
        let table = name.ends_with("word_embeddings.weight")
            && tensor.rank() == 2
            && tensor.dtype() == DType::F32
            && tensor.dim(1)? % QUANTIZED.block_size() == 0;
        if table {
            Ok(Self::Quantized(Arc::new(QTensor::quantize(
                &tensor, QUANTIZED,
            )?)))
        } else {
            Ok(Self::Dense(tensor))
        }
    }
}

/// The weights by name, taken out as the layers are built.
struct Weights {
    by_name: HashMap<String, Weight>,
    prefix: &'static str,
}

impl Weights {
    fn take(&mut self, name: &str) -> Result<Weight> {
        let full = format!("{}{name}", self.prefix);
        self.by_name
            .remove(&full)
            .ok_or_else(|| candle_core::Error::Msg(format!("the model has no {full}")))
    }

    fn dense(&mut self, name: &str) -> Result<Tensor> {
        match self.take(name)? {
            Weight::Dense(t) => Ok(t),
            Weight::Quantized(q) => q.dequantize(&candle_core::Device::Cpu),
        }
    }

    /// The embedding table: quantized as loaded, or dense when its rows do not split
    /// into whole blocks.
    fn table(&mut self, name: &str) -> Result<QMatMul> {
        match self.take(name)? {
            Weight::Quantized(q) => QMatMul::from_arc(q),
            Weight::Dense(t) => Ok(QMatMul::Tensor(t)),
        }
    }

    fn linear(&mut self, name: &str) -> Result<Linear> {
        Ok(Linear {
            weight: self.dense(&format!("{name}.weight"))?,
            bias: self.dense(&format!("{name}.bias"))?,
        })
    }

    fn norm(&mut self, name: &str, eps: f64) -> Result<Norm> {
        Ok(Norm {
            weight: self.dense(&format!("{name}.weight"))?,
            bias: self.dense(&format!("{name}.bias"))?,
            eps: eps as f32,
        })
    }
}

/// `xs · weightᵀ + bias`, the weight as saved: `(out, in)`.
struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        xs.broadcast_matmul(&self.weight.t()?)?
            .broadcast_add(&self.bias)
    }
}

struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl Norm {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(xs, &self.weight, &self.bias, self.eps)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

/// A BERT model whose matrices are quantized.
pub struct QuantizedBert {
    words: QMatMul,
    positions: Tensor,
    token_type: Tensor,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    activation: HiddenAct,
}

impl QuantizedBert {
    /// Builds the model from its weights (with or without a `bert.` prefix).
    ///
    /// # Errors
    /// A weight is missing or has the wrong shape for `config`.
    pub fn new(by_name: HashMap<String, Weight>, config: &Config) -> Result<Self> {
        let prefix = if by_name.contains_key("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let mut w = Weights { by_name, prefix };
        let eps = config.layer_norm_eps;
        let words = w.table("embeddings.word_embeddings.weight")?;
        let positions = w.dense("embeddings.position_embeddings.weight")?;
        // Every sentence is one segment: only the first token type is ever added.
        let token_type = w.dense("embeddings.token_type_embeddings.weight")?.get(0)?;
        let embedding_norm = w.norm("embeddings.LayerNorm", eps)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let at = |part: &str| format!("encoder.layer.{i}.{part}");
                Ok(Layer {
                    query: w.linear(&at("attention.self.query"))?,
                    key: w.linear(&at("attention.self.key"))?,
                    value: w.linear(&at("attention.self.value"))?,
                    attention_out: w.linear(&at("attention.output.dense"))?,
                    attention_norm: w.norm(&at("attention.output.LayerNorm"), eps)?,
                    intermediate: w.linear(&at("intermediate.dense"))?,
                    output: w.linear(&at("output.dense"))?,
                    output_norm: w.norm(&at("output.LayerNorm"), eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0 {
            candle_core::bail!("hidden size does not split into the attention heads");
        }
        Ok(Self {
            words,
            positions,
            token_type,
            embedding_norm,
            layers,
            heads: config.num_attention_heads,
            head_size: config.hidden_size / config.num_attention_heads,
            activation: config.hidden_act,
        })
    }

    /// The last hidden state of each token: `ids` and `mask` are `(rows, tokens)`, the
    /// result `(rows, tokens, hidden)`. Padding (mask 0) is not attended to.
    ///
    /// # Errors
    /// Shapes that do not fit the model (more tokens than it has positions).
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (rows, tokens) = ids.dims2()?;
        let positions = self.positions.narrow(0, 0, tokens)?;
        let mut xs = self
            .words
            .embedding(ids)?
            .broadcast_add(&positions)?
            .broadcast_add(&self.token_type)?;
        xs = self.embedding_norm.forward(&xs)?;
        // 0 where a token may be attended to, the lowest float where it is padding.
        let mask = mask.to_dtype(DType::F32)?.reshape((rows, 1, 1, tokens))?;
        let mask = ((mask - 1.0)? * f64::from(f32::MAX))?;
        let scale = 1.0 / (self.head_size as f64).sqrt();
        for layer in &self.layers {
            let split = |t: Tensor| -> Result<Tensor> {
                t.reshape((rows, tokens, self.heads, self.head_size))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let query = split(layer.query.forward(&xs)?)?;
            let key = split(layer.key.forward(&xs)?)?;
            let value = split(layer.value.forward(&xs)?)?;
            let scores = (query.matmul(&key.t()?)? * scale)?.broadcast_add(&mask)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = probs
                .matmul(&value)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((rows, tokens, self.heads * self.head_size))?;
            let attended = layer
                .attention_norm
                .forward(&(layer.attention_out.forward(&context)? + &xs)?)?;
            let inner = layer.intermediate.forward(&attended)?;
            let inner = match self.activation {
                HiddenAct::Gelu => inner.gelu_erf()?,
                HiddenAct::GeluApproximate => inner.gelu()?,
                HiddenAct::Relu => inner.relu()?,
            };
            xs = layer
                .output_norm
                .forward(&(layer.output.forward(&inner)? + &attended)?)?;
        }
        Ok(xs)
    }
}
