#!/usr/bin/env python3
"""Independent check of an ember zoo/lm checkpoint folder with the Hugging Face Llama conventions.

Loads DIR/config.json and DIR/model.safetensors with json + struct + NumPy only (no ember code),
runs the transformers LlamaForCausalLM forward in float64 NumPy (RMSNorm, rotate-half RoPE on
q/k as stored, repeat_kv for grouped-query attention, causal softmax, SwiGLU, lm_head or tied
embeddings; int8 folders are dequantized as I8 * weight_scale[row], BF16 entries widened as the
upper half of a float32) on the tokens in
DIR/check_tokens.i64 and compares with the logits ember wrote to DIR/check_logits.f32.

usage: check_lm_hf.py DIR [TOL]     exit 0 when max |ours - ember| / (1 + |ember|) <= TOL (1e-4)
"""
import json
import struct
import sys

import numpy as np


def load_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    kinds = {"F32": np.float32, "I8": np.int8, "F64": np.float64}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        if e["dtype"] == "BF16":  # NumPy has no bfloat16: the bits are the upper half of a float32
            bits = np.frombuffer(data[b:end], dtype="<u2").astype(np.uint32) << 16
            out[name] = bits.view(np.float32).reshape(e["shape"])
        else:
            out[name] = np.frombuffer(data[b:end], dtype=kinds[e["dtype"]]).reshape(e["shape"])
    return out


def main():
    folder = sys.argv[1]
    tol = float(sys.argv[2]) if len(sys.argv) > 2 else 1e-4
    cfg = json.load(open(f"{folder}/config.json"))
    w = load_safetensors(f"{folder}/model.safetensors")
    if cfg.get("quantization_config", {}).get("quant_method") == "ember_int8":
        for name in [k for k in w if k + "_scale" in w]:
            w[name] = w[name].astype(np.float64) * w.pop(name + "_scale")[:, None]
    w = {k: v.astype(np.float64) for k, v in w.items()}

    C, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D, eps, theta = C // H, cfg["rms_norm_eps"], cfg["rope_theta"]
    tokens = np.fromfile(f"{folder}/check_tokens.i64", dtype=np.int64)
    T = len(tokens)

    def rms(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

    def rotate_half(x):
        return np.concatenate([-x[..., D // 2:], x[..., :D // 2]], axis=-1)

    inv_freq = 1.0 / theta ** (np.arange(0, D, 2) / D)
    freqs = np.outer(np.arange(T), inv_freq)
    cos, sin = np.cos(np.concatenate([freqs, freqs], -1)), np.sin(np.concatenate([freqs, freqs], -1))
    mask = np.triu(np.full((T, T), -np.inf), 1)

    x = w["model.embed_tokens.weight"][tokens]
    for i in range(L):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(T, H, D).transpose(1, 0, 2)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(T, Hkv, D).transpose(1, 0, 2)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(T, Hkv, D).transpose(1, 0, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = np.repeat(k, H // Hkv, axis=0), np.repeat(v, H // Hkv, axis=0)  # transformers' repeat_kv
        s = q @ k.transpose(0, 2, 1) / np.sqrt(D) + mask
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        x = x + (a @ v).transpose(1, 0, 2).reshape(T, C) @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        g = h @ w[p + "mlp.gate_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
    logits = rms(x, w["model.norm.weight"]) @ head.T

    want = np.fromfile(f"{folder}/check_logits.f32", dtype=np.float32).reshape(logits.shape)
    err = float(np.max(np.abs(logits - want) / (1 + np.abs(want))))
    print(f"check_lm_hf: {folder}: {T} tokens, {L} layers, max rel error {err:.3g} (tol {tol:g})")
    return 0 if err <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
