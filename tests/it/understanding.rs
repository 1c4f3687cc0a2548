//! The sentence model as frontdesk runs it: its own wiring of BERT (8-bit embedding
//! table) against `candle_transformers`' reference BERT with the 32-bit weights, and the
//! reading thread that reads waiting messages together.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use frontdesk::domain::AgentKind;
use frontdesk::nlu::{model, Encoder, NluHandle};

/// Sentences of every length and kind a chat brings, with odd ones.
const SENTENCES: &[&str] = &[
    "hi",
    "who still owes us money?",
    "how much did we make in October 2026",
    "Pull up client details for Meera Iyer",
    "book Priya Sharma into Pilates Intermediate for next week please, she paid cash",
    "any yoga sessions on this week?",
    "10831 ka payment aa gaya, card se",
    "¿cuánto cuesta la clase de yoga?",
    "🙂🙂🙂",
    "cancel",
    "I would like to speak to a real person about a refund for the class I missed last Tuesday because my flight was delayed and nobody answered the phone at the desk",
];

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// The reference: `candle_transformers`' BERT over the file's 32-bit weights, one
/// sentence at a time (no padding), mean-pooled as sentence-transformers does.
fn reference_vectors(dir: &std::path::Path) -> Vec<Vec<f32>> {
    let config: Config =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let weights =
        candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
    let bert = BertModel::load(
        VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu),
        &config,
    )
    .unwrap();
    let mut tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(tokenizers::TruncationParams {
            max_length: 48,
            ..Default::default()
        }))
        .unwrap();
    SENTENCES
        .iter()
        .map(|s| {
            let ids = tokenizer.encode(*s, true).unwrap();
            let ids = Tensor::new(ids.get_ids(), &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let hidden = bert
                .forward(&ids, &ids.zeros_like().unwrap(), None)
                .unwrap();
            hidden
                .mean(1)
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec1()
                .unwrap()
        })
        .collect()
}

#[test]
fn the_encoder_reads_as_the_reference_bert_alone_and_in_a_batch() {
    let dir = model::locate(None).expect("the packaged model");
    let encoder = Encoder::load(&dir).unwrap();
    let reference = reference_vectors(&dir);
    let alone: Vec<Vec<f32>> = SENTENCES
        .iter()
        .map(|s| encoder.embed(&[s]).unwrap().pop().unwrap())
        .collect();
    let together = encoder.embed(SENTENCES).unwrap();
    assert_eq!(together.len(), SENTENCES.len());
    for (i, sentence) in SENTENCES.iter().enumerate() {
        let length: f32 = alone[i].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((length - 1.0).abs() < 1e-4, "{sentence}: length {length}");
        let to_reference = cosine(&alone[i], &reference[i]);
        assert!(
            to_reference > 0.999,
            "{sentence}: {to_reference} to the reference"
        );
        let padded = cosine(&alone[i], &together[i]);
        assert!(
            padded > 0.9999,
            "{sentence}: {padded} alone against in a batch"
        );
    }
    // Different sentences stay apart: the check above is not met by a constant vector.
    assert!(cosine(&alone[1], &alone[8]) < 0.9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_waiting_together_are_read_in_one_pass_each_getting_its_own_reading() {
    let nlu = NluHandle::shared();
    let understanding = nlu.ready().expect("sentence model");
    let before = understanding.usage();
    // Distinct texts the memo has not kept: every one is read.
    let texts: Vec<String> = (0..24)
        .map(|i| format!("{} (asked by desk {i})", SENTENCES[i % SENTENCES.len()]))
        .collect();
    let readings = futures::future::join_all(texts.iter().map(|t| {
        let u = std::sync::Arc::clone(&understanding);
        let t = t.clone();
        async move { u.classify(&t, AgentKind::Support).await.unwrap() }
    }))
    .await;
    let after = understanding.usage();
    let read = after.read - before.read;
    let passes = after.passes - before.passes;
    assert!(read >= 24, "{read} read");
    assert!(
        passes < read,
        "{passes} passes for {read} sentences: none were read together"
    );
    for (text, reading) in texts.iter().zip(&readings) {
        let alone = understanding.ranking(text, AgentKind::Support).unwrap();
        assert_eq!(reading.best, alone[0].0, "{text}");
        assert!((reading.score - alone[0].1).abs() < 1e-3, "{text}");
    }
}
