//! The sentence encoder: a sentence-transformers BERT model (all-MiniLM-L6-v2 by default)
//! run in process with candle. A sentence becomes one vector: the mean of its token
//! vectors (padding left out), scaled to length 1, so a dot product is a cosine.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::NluError;

/// Chat messages are short; longer text is cut here (a whole long paragraph adds
/// nothing to which question it is, and the cost grows with the square of the length).
const MAX_TOKENS: usize = 48;

/// One loaded model and its tokenizer.
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Encoder")
    }
}

impl Encoder {
    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`.
    ///
    /// # Errors
    /// A missing or unreadable file, or one that is not a BERT model.
    pub fn load(dir: &Path) -> Result<Self, NluError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| NluError::Model {
                reason: format!("{}: {e}", dir.join(name).display()),
            })
        };
        let config: Config =
            serde_json::from_slice(&read("config.json")?).map_err(|e| NluError::Model {
                reason: format!("config.json: {e}"),
            })?;
        let device = Device::Cpu;
        let vb =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &device)
                .map_err(model_error)?;
        let model = BertModel::load(vb, &config).map_err(model_error)?;
        let mut tokenizer =
            Tokenizer::from_bytes(read("tokenizer.json")?).map_err(|e| NluError::Model {
                reason: format!("tokenizer.json: {e}"),
            })?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| NluError::Model {
                reason: format!("tokenizer: {e}"),
            })?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        Ok(Self {
            model,
            tokenizer,
            device,
        })
    }

    /// The unit vectors of `sentences`, in order.
    ///
    /// # Errors
    /// A tokenizer or model failure (not expected for any text).
    pub fn embed(&self, sentences: &[&str]) -> Result<Vec<Vec<f32>>, NluError> {
        if sentences.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(sentences.to_vec(), true)
            .map_err(|e| NluError::Model {
                reason: format!("tokenizer: {e}"),
            })?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (rows, width), &self.device).map_err(model_error)?;
        let mask = Tensor::from_vec(mask, (rows, width), &self.device).map_err(model_error)?;
        let types = ids.zeros_like().map_err(model_error)?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(model_error)?;
        mean_pool_normalised(&hidden, &mask).map_err(model_error)
    }
}

/// The mean of each row's token vectors where the mask is 1, scaled to length 1.
fn mean_pool_normalised(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    mean.broadcast_div(&norms)?.to_vec2::<f32>()
}

fn model_error(e: candle_core::Error) -> NluError {
    NluError::Model {
        reason: e.to_string(),
    }
}
