"""Reference data for the Hugging Face speech models of the zoo (Wav2Vec2-base, HuBERT-base,
Whisper-tiny) and Whisper's log-mel front end, merged into ``bench/gen_model_keys.py``.

Key lists come from transformers' own classes built offline from their default configs (the
architectures of ``facebook/wav2vec2-base``, ``facebook/hubert-base-ls960`` and
``openai/whisper-tiny``); the seeded-weights outputs use tiny configurations of the same
classes so that the committed JSON stays small. Run with the reference virtual environment:

    /tmp/refvenv/bin/python bench/gen_model_keys.py wav2vec2_base wav2vec2_base_model hubert_base \
        whisper_tiny whisper_log_mel hf_folders
"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "model_keys"

WHISPER_TINY = dict(vocab_size=51865, num_mel_bins=80, d_model=384, encoder_layers=4, decoder_layers=4,
                    encoder_attention_heads=6, decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536,
                    max_source_positions=1500, max_target_positions=448, decoder_start_token_id=50258,
                    pad_token_id=50257, bos_token_id=50257, eos_token_id=50257)

# Tiny configurations of the seeded-weights comparisons; the deepseek tests build the same.
WAV2VEC2_TINY = dict(vocab_size=12, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                     conv_dim=[16, 16, 16], conv_stride=[5, 2, 2], conv_kernel=[10, 3, 3], num_conv_pos_embeddings=16,
                     num_conv_pos_embedding_groups=4)
WAV2VEC2_TINY_LAYER = dict(WAV2VEC2_TINY, feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
HUBERT_TINY = dict(WAV2VEC2_TINY)
WHISPER_SMALL_CASE = dict(vocab_size=96, num_mel_bins=80, d_model=32, encoder_layers=2, decoder_layers=2,
                          encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=48, decoder_ffn_dim=48,
                          max_source_positions=12, max_target_positions=16, decoder_start_token_id=1, pad_token_id=0,
                          bos_token_id=0, eos_token_id=2)


def _hf(cls_name, config_name, **cfg):
    def build():
        import transformers

        return getattr(transformers, cls_name)(getattr(transformers, config_name)(**cfg))
    return build


BUILDERS = {
    "wav2vec2_base": _hf("Wav2Vec2ForCTC", "Wav2Vec2Config"),
    "wav2vec2_base_model": _hf("Wav2Vec2Model", "Wav2Vec2Config"),
    "hubert_base": _hf("HubertModel", "HubertConfig"),
    "whisper_tiny": _hf("WhisperForConditionalGeneration", "WhisperConfig", **WHISPER_TINY),
}


def waveform(shape):
    """The fixed test waveform: a chirp-like mix in [-1, 1] (also written out by the tests)."""
    import numpy as np

    n = int(np.prod(shape))
    t = np.arange(n, dtype=np.float64)
    return (0.6 * np.sin(t * 0.031 + 0.002 * t * t / max(n, 1)) + 0.3 * np.sin(t * 0.47 + 1.0)).reshape(shape).astype(np.float32)


def features(shape):
    """A fixed log-mel-like input [batch, mels, frames] in about [-1, 1]."""
    import numpy as np

    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    return np.cos(i * 0.113 + 0.3).reshape(shape).astype(np.float32)


# name -> (config, input shape, extra); the first 16 values of each output row are recorded.
OUTPUT_CASES = {
    "wav2vec2_base": (WAV2VEC2_TINY, (2, 900), {}),
    "wav2vec2_base_layer": (WAV2VEC2_TINY_LAYER, (2, 900), {}),
    "hubert_base": (HUBERT_TINY, (2, 900), {}),
    "whisper_tiny": (WHISPER_SMALL_CASE, (2, 80, 24), {"decoder_input_ids": [[1, 5, 9, 17, 33], [1, 70, 3, 3, 41]]}),
}


def _seeded(model, gk):
    import torch

    t = gk._testing_module()
    new = {}
    for k, v in model.state_dict().items():
        arr = t.deterministic_value(k, tuple(v.shape), str(v.dtype).replace("torch.", ""))
        new[k] = v if arr is None else torch.from_numpy(arr)
    model.load_state_dict(new, strict=True)
    return model.eval()


def _round(a):
    return [round(float(v), 7) for v in a.reshape(-1)]


def write_outputs(name, gk):
    import torch
    import transformers

    cfg, shape, extra = OUTPUT_CASES[name]
    doc = {"model": name, "config": cfg, "input_shape": list(shape), "generated_by": "bench/gen_model_keys.py",
           "versions": gk.versions()}
    with torch.no_grad():
        if name.startswith("wav2vec2"):
            model = _seeded(transformers.Wav2Vec2ForCTC(transformers.Wav2Vec2Config(**cfg)), gk)
            x = torch.from_numpy(waveform(shape))
            logits = model(x).logits
            # second row padded: its last 300 samples are masked out
            mask = torch.ones(shape, dtype=torch.long)
            mask[1, -300:] = 0
            masked = model(x, attention_mask=mask).logits
            doc.update(output_shape=list(logits.shape), logits=_round(logits[..., :16]),
                       masked_logits=_round(masked[..., :16]), mask_lengths=mask.sum(-1).tolist())
        elif name == "hubert_base":
            model = _seeded(transformers.HubertModel(transformers.HubertConfig(**cfg)), gk)
            out = model(torch.from_numpy(waveform(shape))).last_hidden_state
            doc.update(output_shape=list(out.shape), last_hidden_state=_round(out[..., :16]))
        else:
            model = _seeded(transformers.WhisperForConditionalGeneration(transformers.WhisperConfig(**cfg)), gk)
            x = torch.from_numpy(features(shape))
            ids = torch.tensor(extra["decoder_input_ids"])
            out = model(input_features=x, decoder_input_ids=ids)
            enc = out.encoder_last_hidden_state
            doc.update(decoder_input_ids=extra["decoder_input_ids"], output_shape=list(out.logits.shape),
                       logits=_round(out.logits[..., :16]), encoder_shape=list(enc.shape),
                       encoder_last_hidden_state=_round(enc[..., :16]))
            # greedy decoding by hand (argmax, no cache) continuing the prompts: 6 new tokens
            seq = ids
            for _ in range(6):
                nxt = model(input_features=x, decoder_input_ids=seq).logits[:, -1].argmax(-1, keepdim=True)
                seq = torch.cat([seq, nxt], 1)
            doc["greedy"] = seq.tolist()
    (OUT / f"{name}_outputs.json").write_text(json.dumps(doc) + "\n")
    print(f"{name}: output {doc['output_shape']}")


def write_log_mel(gk):
    """Whisper's log-mel features by transformers' WhisperFeatureExtractor (float64 NumPy
    path) of a 0.3 s signal, without padding to 30 s, plus its mel filter bank's checksums."""
    import numpy as np
    import transformers

    fe = transformers.WhisperFeatureExtractor(feature_size=80, sampling_rate=16000, hop_length=160, n_fft=400)
    sig = waveform((4801,))
    feats = fe._np_extract_fbank_features(sig[None].astype(np.float32), "cpu")[0]
    fb = np.asarray(fe.mel_filters)  # [n_freqs, n_mels]
    doc = {"signal": "bench/model_refs_speechhf.py waveform((4801,))", "n_fft": 400, "hop_length": 160, "n_mels": 80,
           "output_shape": list(feats.shape), "output": _round(feats), "mel_filters_shape": list(fb.shape),
           "mel_filters_column_sums": _round(fb.sum(0)), "mel_filters_row_sums": _round(fb.sum(1)),
           "versions": gk.versions(), "generated_by": "bench/gen_model_keys.py"}
    (OUT / "whisper_log_mel.json").write_text(json.dumps(doc) + "\n")
    print(f"whisper log-mel: {feats.shape}")


HF_FOLDERS = OUT.parent / "hf_speech"
HF_WAV2VEC2 = dict(vocab_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
                   conv_dim=[8, 8], conv_stride=[5, 2], conv_kernel=[10, 3], num_conv_pos_embeddings=8,
                   num_conv_pos_embedding_groups=2)
HF_WHISPER = dict(vocab_size=64, num_mel_bins=8, d_model=16, encoder_layers=1, decoder_layers=1,
                  encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=24, decoder_ffn_dim=24,
                  max_source_positions=6, max_target_positions=8, decoder_start_token_id=1, pad_token_id=0,
                  bos_token_id=0, eos_token_id=2)


def write_hf_folders(gk):
    """Tiny randomly initialised models saved by transformers' own ``save_pretrained`` (so the
    files are exactly what a Hugging Face folder holds), with their outputs."""
    import torch
    import transformers

    torch.manual_seed(0)
    doc = {"generated_by": "bench/gen_model_keys.py", "versions": gk.versions()}
    w2v = transformers.Wav2Vec2ForCTC(transformers.Wav2Vec2Config(**HF_WAV2VEC2)).eval()
    w2v.save_pretrained(HF_FOLDERS / "wav2vec2_ctc")
    wh = transformers.WhisperForConditionalGeneration(transformers.WhisperConfig(**HF_WHISPER)).eval()
    wh.save_pretrained(HF_FOLDERS / "whisper")
    (HF_FOLDERS / "whisper" / "generation_config.json").unlink(missing_ok=True)
    with torch.no_grad():
        x = torch.from_numpy(waveform((2, 400)))
        doc["wav2vec2_ctc"] = {"input_shape": [2, 400], "logits": _round(w2v(x).logits)}
        f = torch.from_numpy(features((2, 8, 12)))
        ids = torch.tensor([[1, 5, 9], [1, 33, 7]])
        out = wh(input_features=f, decoder_input_ids=ids)
        seq = ids
        for _ in range(4):
            seq = torch.cat([seq, wh(input_features=f, decoder_input_ids=seq).logits[:, -1].argmax(-1, keepdim=True)], 1)
        doc["whisper"] = {"input_shape": [2, 8, 12], "decoder_input_ids": ids.tolist(), "logits": _round(out.logits),
                          "greedy": seq.tolist()}
    (HF_FOLDERS / "outputs.json").write_text(json.dumps(doc) + "\n")
    print("hf folders:", sorted(p.name for p in HF_FOLDERS.iterdir()))


def handle(name, gk):
    """Writes the reference data of ``name`` when it belongs to this file (``gk`` is
    gen_model_keys, for its writers); False for names of other families."""
    if name == "whisper_log_mel":
        write_log_mel(gk)
        return True
    if name == "hf_folders":
        write_hf_folders(gk)
        return True
    if name not in BUILDERS:
        return False
    model = BUILDERS[name]()
    gk.write(name, gk.entries(model), f"{type(model).__module__}.{type(model).__name__}")
    for case in OUTPUT_CASES:
        if case == name or case.startswith(name + "_") and case not in BUILDERS:
            write_outputs(case, gk)
    return True


NAMES = list(BUILDERS) + ["whisper_log_mel", "hf_folders"]

