"""Builds the bundled text classifier `topics` and its tokenizer.json from texts a Debian package ships.

The texts are the `fortunes` package's quotations (apt-get install fortunes): those filed under
computers, food, politics and science, four topics. Nothing is downloaded.

Needs Debian's python3-sklearn, python3-onnx, python3-numpy and the Hugging Face `tokenizers` wheel
(the same version as the npm binding the server runs, 0.23.2):

    apt-get install -y fortunes python3-sklearn python3-onnx python3-numpy
    /usr/bin/python3 -m venv --system-site-packages /tmp/tokvenv
    /tmp/tokvenv/bin/pip install tokenizers==0.23.2
    /tmp/tokvenv/bin/python models/build_text_model.py

Writes models/topics/1/model.onnx, models/topics/1/tokenizer.json, models/topics/model.json and
models/topics/holdout.json (the holdout texts and their topics).

The tokenizer is a BERT-style WordPiece one (lower-cased, accents stripped, CJK characters split,
`[CLS] text [SEP]`) whose vocabulary comes from the training texts only (train_tokenizer says how). The model is a bag of word pieces: logistic
regression (C by 5-fold CV) on each text's token counts divided by its token count. That is exactly the mean over
unmasked tokens of one weight row per token id, so the ONNX graph is Gather -> masked mean -> add the
intercept -> Softmax, and it answers what scikit-learn does.
"""
import hashlib
import json
import os
import re
from collections import Counter

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

HERE = os.path.dirname(os.path.abspath(__file__))
FORTUNES = "/usr/share/games/fortunes"
TOPICS = ["computers", "food", "politics", "science"]
SEED = 42
VOCAB = 3000
MAX_LENGTH = 128
OPSET = 13
NAME = "topics"


def read_topic(topic):
    with open(os.path.join(FORTUNES, topic), encoding="utf-8", errors="replace") as f:
        entries = [re.sub(r"\s+", " ", e).strip() for e in f.read().split("\n%\n")]
    return [e for e in entries if e]


def train_tokenizer(texts):
    """A WordPiece vocabulary built here, deterministically (the library's trainer breaks ties between
    equally frequent merges differently on every run): the special tokens, every character seen and its
    `##` continuation, then the most frequent whole words (ties alphabetical) up to VOCAB. A word outside
    the vocabulary splits into its longest known prefix and continuations, down to characters."""
    normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, handle_chinese_chars=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts = Counter(
        word for text in texts for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
    )
    chars = sorted({c for word in counts for c in word})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in chars]
    words = sorted((w for w in counts if len(w) > 1), key=lambda w: (-counts[w], w))
    vocab += words[: VOCAB - len(vocab)]
    tokenizer = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.decoder = decoders.WordPiece()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return tokenizer


def mean_counts(tokenizer, texts):
    """Each text's token counts over its unmasked tokens (truncated as the server does) / their number."""
    tokenizer.enable_truncation(MAX_LENGTH)
    rows = np.zeros((len(texts), tokenizer.get_vocab_size()), dtype=np.float64)
    for i, encoding in enumerate(tokenizer.encode_batch(texts)):
        np.add.at(rows[i], encoding.ids, 1.0)
        rows[i] /= len(encoding.ids)
    tokenizer.no_truncation()
    return rows


def export(coef, intercept, path):
    """logits = mean over unmasked tokens of table[id] + intercept; probabilities = softmax."""
    F, I64 = TensorProto.FLOAT, TensorProto.INT64
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "input_ids"], ["weighted"]),  # [batch, seq, topics]
            helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=F),
            helper.make_node("Unsqueeze", ["mask_f", "last"], ["mask3"]),  # [batch, seq, 1]
            helper.make_node("Mul", ["weighted", "mask3"], ["masked"]),
            helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),  # [batch, topics]
            helper.make_node("ReduceSum", ["mask3", "axis1"], ["counted"], keepdims=0),  # [batch, 1]
            helper.make_node("Max", ["counted", "one"], ["safe"]),
            helper.make_node("Div", ["summed", "safe"], ["pooled"]),
            helper.make_node("Add", ["pooled", "intercept"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        NAME,
        [helper.make_tensor_value_info("input_ids", I64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", I64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("probabilities", F, ["batch", len(TOPICS)])],
        [numpy_helper.from_array(coef.T.astype(np.float32), "table"),
         numpy_helper.from_array(intercept.astype(np.float32), "intercept"),
         numpy_helper.from_array(np.array([-1], dtype=np.int64), "last"),
         numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
         numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="build_text_model.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    texts, targets = [], []
    for topic in TOPICS:
        entries = read_topic(topic)
        texts += entries
        targets += [topic] * len(entries)
    x_train, x_test, y_train, y_test = train_test_split(
        texts, targets, test_size=0.25, random_state=SEED, stratify=targets
    )
    tokenizer = train_tokenizer(x_train)
    search = GridSearchCV(
        LogisticRegression(max_iter=5000), {"C": [100.0, 300.0, 1000.0, 3000.0]},
        cv=StratifiedKFold(5, shuffle=True, random_state=SEED),
    )
    search.fit(mean_counts(tokenizer, x_train), y_train)
    classifier, c = search.best_estimator_, search.best_params_["C"]
    assert list(classifier.classes_) == TOPICS
    score = float(classifier.score(mean_counts(tokenizer, x_test), y_test))
    version = os.path.join(HERE, NAME, "1")
    sha = export(classifier.coef_, classifier.intercept_, os.path.join(version, "model.onnx"))
    tokenizer.save(os.path.join(version, "tokenizer.json"))
    config = {
        "task": "classification",
        "description": "Topic of a short English text (computers, food, politics, science); send text, not token ids",
        "output": "probabilities",
        "output_kind": "probabilities",
        "labels": TOPICS,
        "batching": {"max_batch_size": 64, "max_queue_delay_ms": 0},
        "cache": {"enabled": True, "ttl_seconds": 300},
        "preprocess": {"text": {"text": {"tokenizer": "tokenizer.json", "max_length": MAX_LENGTH}}},
        "card": {
            "dataset": "quotations of the Debian fortunes package filed under computers, food, politics and science "
            f"({len(texts)} texts)",
            "training": f"WordPiece tokenizer ({VOCAB} pieces: characters and the most frequent words of the training texts), logistic regression on "
            f"mean token counts (C {c:g} by 5-fold CV on the training texts); 25% stratified holdout, seed 42; "
            "built by models/build_text_model.py",
            "metric": "accuracy",
            "versions": {"1": {"sha256": sha, "holdout_score": round(score, 6), "holdout_rows": len(x_test)}},
        },
    }
    with open(os.path.join(HERE, NAME, "model.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(HERE, NAME, "holdout.json"), "w") as f:
        json.dump({"texts": x_test, "targets": y_test}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"{NAME:14s} accuracy {score:.4f} on {len(x_test)} holdout texts  sha256 {sha[:12]}")


if __name__ == "__main__":
    main()
