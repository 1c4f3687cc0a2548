//! The sentence encoder: a sentence-transformers BERT model (all-MiniLM-L6-v2 by default)
//! run in process with candle. A sentence becomes one vector: the mean of its token
//! vectors (padding left out), scaled to length 1, so a dot product is a cosine.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::bert::Config;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::bert::{QuantizedBert, Weight};
use super::NluError;

/// Chat messages are short; longer text is cut here (a whole long paragraph adds
/// nothing to which question it is, and the cost grows with the square of the length).
const MAX_TOKENS: usize = 48;

/// Names how the model is run (see `bert.rs`): vectors kept from another wiring are
/// read again.
pub const WIRING: &str = "q8table";

/// One loaded model and its tokenizer.
pub struct Encoder {
    model: QuantizedBert,
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
        let weights = load_weights(&dir.join("model.safetensors"), &device)?;
        let model = QuantizedBert::new(weights, &config).map_err(model_error)?;
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
        let hidden = self.model.forward(&ids, &mask).map_err(model_error)?;
        mean_pool_normalised(&hidden, &mask).map_err(model_error)
    }
}

/// Reads a safetensors file tensor by tensor, each straight into the vector it lives in
/// and quantized at once when it is a matrix, so the 32-bit weights are never all held
/// (reading the whole file first would hold them twice: about 90 MB more at the peak).
fn load_weights(path: &Path, device: &Device) -> Result<HashMap<String, Weight>, NluError> {
    #[derive(serde::Deserialize)]
    struct Entry {
        dtype: String,
        shape: Vec<usize>,
        data_offsets: (u64, u64),
    }
    let bad = |reason: String| NluError::Model {
        reason: format!("{}: {reason}", path.display()),
    };
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut file = std::io::BufReader::with_capacity(1 << 16, file);
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|e| bad(e.to_string()))?;
    let header_len = usize::try_from(u64::from_le_bytes(len))
        .ok()
        .filter(|n| *n <= 100 << 20)
        .ok_or_else(|| bad("not a safetensors file".into()))?;
    let mut header = vec![0u8; header_len];
    file.read_exact(&mut header)
        .map_err(|e| bad(e.to_string()))?;
    let mut entries: Vec<(String, Entry)> =
        serde_json::from_slice::<HashMap<String, serde_json::Value>>(&header)
            .map_err(|e| bad(e.to_string()))?
            .into_iter()
            .filter(|(name, _)| name != "__metadata__")
            .map(|(name, v)| serde_json::from_value(v).map(|e| (name, e)))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
    entries.sort_by_key(|(_, e)| e.data_offsets.0);
    let mut at = 0u64;
    let mut tensors = HashMap::with_capacity(entries.len());
    for (name, entry) in entries {
        let (start, end) = entry.data_offsets;
        if start < at || end < start {
            return Err(bad(format!("{name} overlaps another tensor")));
        }
        std::io::copy(&mut (&mut file).take(start - at), &mut std::io::sink())
            .map_err(|e| bad(e.to_string()))?;
        let bytes = usize::try_from(end - start).map_err(|e| bad(e.to_string()))?;
        let count: usize = entry.shape.iter().product();
        let tensor = if entry.dtype == "F32" && count * 4 == bytes {
            let mut values = Vec::with_capacity(count);
            let mut chunk = [0u8; 1 << 14];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                file.read_exact(&mut chunk[..n])
                    .map_err(|e| bad(e.to_string()))?;
                values.extend(
                    chunk[..n]
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
                left -= n;
            }
            Tensor::from_vec(values, entry.shape, device).map_err(model_error)?
        } else {
            // Floats of other widths become F32; integers (position ids) stay as they are.
            let (dtype, float) = match entry.dtype.as_str() {
                "F32" => (DType::F32, true),
                "F16" => (DType::F16, true),
                "BF16" => (DType::BF16, true),
                "F64" => (DType::F64, true),
                "I64" => (DType::I64, false),
                "U32" => (DType::U32, false),
                "U8" => (DType::U8, false),
                other => return Err(bad(format!("{name} has dtype {other}"))),
            };
            let mut raw = vec![0u8; bytes];
            file.read_exact(&mut raw).map_err(|e| bad(e.to_string()))?;
            Tensor::from_raw_buffer(&raw, dtype, &entry.shape, device)
                .and_then(|t| if float { t.to_dtype(DType::F32) } else { Ok(t) })
                .map_err(model_error)?
        };
        let weight = Weight::from_tensor(&name, tensor).map_err(model_error)?;
        tensors.insert(name, weight);
        at = end;
    }
    Ok(tensors)
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
