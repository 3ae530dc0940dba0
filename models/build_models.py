"""Builds the bundled model repository from data sets that scikit-learn ships (nothing is downloaded).

Run with Debian's interpreter (apt-get install python3-sklearn python3-onnx python3-torch):

    /usr/bin/python3 models/build_models.py [--no-verify]

Writes, per model, models/<name>/1/model.onnx, models/<name>/model.json (features, labels, model card
with the file's sha256 and holdout score, drift reference) and models/<name>/holdout.json (exactly the
rows the score was measured on).
Then, if node and onnxruntime-node are installed, models/verify_models.cjs re-scores every model
through onnxruntime and times the heavy test fixture (test/fixtures/build_fixtures.py builds it).

Seeds are fixed and torch runs on one thread, so a rebuild on the same machine writes identical files.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from sklearn import datasets
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEED = 42
OPSET = 13
# Where a feature's min/max (strict validation rejects values outside it) come from: "train" = the
# training rows, as the model card specifies; "all" = the whole data set, so every holdout row also
# passes strict validation (with "train", a few holdout rows of iris, breast_cancer and diabetes fall
# outside and /predict answers 400 for them).
RANGES_FROM = "all"
torch.set_num_threads(1)  # multi-threaded reductions can change float sums between runs
torch.use_deterministic_algorithms(True)


def f32(value):
    """Shortest decimal that reads back as the same float32: holdout rows and feature ranges both use
    it, so a holdout value equal to a training min/max compares equal in JSON too."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def sig6(value):
    return float(f"{float(value):.6g}")


class Standardize(nn.Module):
    """(x - mean) / scale inside the graph, so clients send raw feature values."""

    def __init__(self, scaler):
        super().__init__()
        self.register_buffer("mean", torch.tensor(scaler.mean_, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scaler.scale_, dtype=torch.float32))

    def forward(self, x):
        return (x - self.mean) / self.scale


def linear_from(coef, intercept):
    layer = nn.Linear(coef.shape[1], coef.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(coef, dtype=torch.float32))
        layer.bias.copy_(torch.tensor(intercept, dtype=torch.float32))
    return layer


def grid_search(estimator, grid, x, y, cv):
    """Hyper-parameters are chosen by cross-validation on the training rows only: the holdout stays
    unseen until it is scored."""
    return GridSearchCV(estimator, grid, cv=cv).fit(x, y).best_estimator_


def run(model, x):
    """The exported graph's answer, computed by torch in float32 (verify_models.cjs checks that
    onnxruntime agrees)."""
    model.eval()
    with torch.no_grad():
        return model(torch.tensor(x, dtype=torch.float32)).numpy()


def r2(truth, predicted):
    truth, predicted = np.asarray(truth, np.float64), np.asarray(predicted, np.float64)
    return float(1 - ((truth - predicted) ** 2).sum() / ((truth - truth.mean()) ** 2).sum())


def export(model, row_shape, output_name, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.eval()
    torch.onnx.export(
        model, torch.zeros((1, *row_shape), dtype=torch.float32), path,
        input_names=["input"], output_names=[output_name],
        dynamic_axes={"input": {0: "batch"}, output_name: {0: "batch"}}, opset_version=OPSET,
    )
    onnx.checker.check_model(onnx.load(path), full_check=True)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def reference(flat_holdout, names):
    """Decile edges of each holdout column (de-duplicated, rounded); a value's bin is the count of edges
    below it. Counted on the values as holdout.json spells them (0.2, not float32 0.2000000030) against
    the rounded edges, so a reader of the JSON files gets the same fractions."""
    bins = {}
    for j, name in enumerate(names):
        column = np.array([f32(v) for v in flat_holdout[:, j]])
        edges = np.unique([sig6(e) for e in np.quantile(column, np.linspace(0.1, 0.9, 9))])
        counts = np.bincount(np.searchsorted(edges, column, side="left"), minlength=len(edges) + 1)
        bins[name] = {"edges": [float(e) for e in edges], "fractions": [round(c / len(column), 6) for c in counts]}
    return bins


def write_model(name, *, model, row_shape, x_train, x_test, targets, features, labels, output_name,
                score, metric, description, dataset, training, fixed_range=None, preprocess=None):
    """features: [(name, description)] in input order. The ranges are the training rows' min/max unless
    fixed_range (low, high) says otherwise (digits: every pixel may be 0..16); see RANGES_FROM."""
    sha = export(model, row_shape, output_name, os.path.join(HERE, name, "1", "model.onnx"))
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    names = [n for n, _ in features or []]
    ranged = flat_train if RANGES_FROM == "train" else np.vstack([flat_train, flat_test])
    entries = []
    for j, (feature, about) in enumerate(features or []):
        low, high = fixed_range or (ranged[:, j].min(), ranged[:, j].max())
        entries.append({"name": feature, "min": f32(low), "max": f32(high), "description": about})
    classifier = labels is not None
    config = {
        "task": "classification" if classifier else "regression",
        "description": description,
        "input": "input",
        "output": output_name,
        "output_kind": "probabilities" if classifier else "values",
        **({"features": entries} if entries else {}),
        **({"labels": labels} if classifier else {}),
        "validation": "strict",
        "batching": {"max_batch_size": 64, "max_queue_delay_ms": 0},
        "cache": {"enabled": True, "ttl_seconds": 300},
        **({"preprocess": preprocess} if preprocess else {}),
        "card": {
            "dataset": dataset,
            "training": training + "; built by models/build_models.py",
            "metric": metric,
            "versions": {"1": {"sha256": sha, "holdout_score": round(score, 6), "holdout_rows": len(x_test)}},
        },
        "reference": {"rows": len(x_test), "features": reference(flat_test, names) if names else {}},
    }
    if classifier:
        config["reference"]["class_priors"] = {l: round(targets.count(l) / len(targets), 6) for l in labels}
    with open(os.path.join(HERE, name, "model.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(HERE, name, "holdout.json"), "w") as f:
        json.dump({"rows": [[f32(v) for v in row] for row in flat_test], "targets": targets}, f, separators=(",", ":"))
        f.write("\n")
    outside = int(((flat_test < ranged.min(0)) | (flat_test > ranged.max(0))).any(axis=1).sum())
    note = f", {outside} holdout rows outside the feature ranges" if outside and not fixed_range else ""
    print(f"{name:14s} {metric} {score:.4f} on {len(x_test)} holdout rows{note}  sha256 {sha[:12]}")


def logistic_classifier(name, data, features, description, dataset):
    """Standardise + logistic regression (C by 5-fold CV on the training rows), exported as
    Standardize -> Linear -> Softmax."""
    x, y = data.data.astype(np.float32), data.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)
    fitted = grid_search(make_pipeline(StandardScaler(), LogisticRegression(max_iter=10000)),
                         {"logisticregression__C": np.logspace(-2, 3, 11)}, x_train, y_train,
                         StratifiedKFold(5, shuffle=True, random_state=SEED))
    scaler, lr = fitted.named_steps["standardscaler"], fitted.named_steps["logisticregression"]
    coef, intercept = lr.coef_, lr.intercept_
    if coef.shape[0] == 1:  # binary: sigmoid(z) == softmax([0, z])[1], so prepend a zero logit
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    model = nn.Sequential(Standardize(scaler), linear_from(coef, intercept), nn.Softmax(dim=1))
    labels = [str(l) for l in data.target_names]
    probabilities = run(model, x_test)
    disagree = int((probabilities.argmax(1) != lr.predict(scaler.transform(x_test))).sum())
    if disagree:  # float32 graph vs float64 sklearn on a near-tie; the score below is the graph's
        print(f"note: the float32 graph and sklearn disagree on {disagree} {name} holdout rows")
    write_model(
        name, model=model, row_shape=(x.shape[1],), x_train=x_train, x_test=x_test,
        targets=[labels[t] for t in y_test], features=features, labels=labels, output_name="probabilities",
        score=float((probabilities.argmax(1) == y_test).mean()), metric="accuracy", description=description,
        dataset=dataset,
        training=f"standardisation + logistic regression (L2, C={lr.C:.3g} by 5-fold CV on the training rows); "
                 f"25% stratified holdout, seed {SEED}",
    )
    return model


def iris():
    data = datasets.load_iris()
    features = [(n, "cm") for n in ["sepal_length", "sepal_width", "petal_length", "petal_width"]]
    model = logistic_classifier("iris", data, features, "Iris species from sepal and petal sizes (cm)",
                                "scikit-learn load_iris (150 rows, bundled with scikit-learn)")
    assert run(model, np.array([[5.1, 3.5, 1.4, 0.2]])).argmax() == 0, "[5.1,3.5,1.4,0.2] must be setosa"


def breast_cancer():
    data = datasets.load_breast_cancer()
    kinds = {"mean": "mean over the nuclei in the image", "error": "standard error over the nuclei",
             "worst": "mean of the three largest values"}
    features = []
    for raw in data.feature_names:  # "mean radius", "radius error", "worst radius"
        words = raw.split()
        kind = next(k for k in kinds if k in words)
        features.append((raw.replace(" ", "_"), f"{' '.join(w for w in words if w != kind)}, {kinds[kind]}"))
    logistic_classifier("breast_cancer", data, features,
                        "Breast mass malignant or benign from 30 cell-nucleus measurements (fine needle aspirate)",
                        "scikit-learn load_breast_cancer (Wisconsin diagnostic, 569 rows, bundled with scikit-learn)")


def diabetes():
    # The columns as scikit-learn ships them (each mean-centred and scaled to unit sum of squares):
    # that is what clients of this model send. load_diabetes(scaled=False) would give raw clinic
    # values (age in years, ...) but would change the model's contract.
    data = datasets.load_diabetes()
    x, y = data.data.astype(np.float32), data.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED)
    fitted = grid_search(make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": np.logspace(-3, 3, 13)},
                         x_train, y_train, KFold(5, shuffle=True, random_state=SEED))
    scaler, ridge = fitted.named_steps["standardscaler"], fitted.named_steps["ridge"]
    model = nn.Sequential(Standardize(scaler), linear_from(ridge.coef_[None, :], [ridge.intercept_]))
    about = ["age", "sex", "body mass index", "average blood pressure",
             "tc, total serum cholesterol", "ldl, low-density lipoproteins", "hdl, high-density lipoproteins",
             "tch, total cholesterol / HDL", "ltg, possibly log of serum triglycerides level", "glu, blood sugar level"]
    write_model(
        "diabetes", model=model, row_shape=(x.shape[1],), x_train=x_train, x_test=x_test,
        targets=[float(t) for t in y_test], labels=None,
        features=[(n, f"{a} (mean-centred and scaled as scikit-learn ships it)") for n, a in zip(data.feature_names, about)],
        output_name="value", score=r2(y_test, run(model, x_test)[:, 0]), metric="r2",
        description="Diabetes disease progression one year after baseline, from 10 baseline measurements",
        dataset="scikit-learn load_diabetes (442 rows, features mean-centred and scaled as scikit-learn ships them, "
                "target the raw progression measure; bundled with scikit-learn)",
        training=f"standardisation + ridge regression (alpha={ridge.alpha:.3g} by 5-fold CV on the training rows); "
                 f"25% holdout, seed {SEED}",
    )


def train_minibatches(net, optimizer, x_train, y_train, epochs, batch_size):
    """Cross-entropy on shuffled minibatches for a fixed number of epochs (no early stopping, which
    would peek at the holdout). The shuffles use their own generator, so they do not depend on init."""
    xt, yt = torch.tensor(x_train), torch.tensor(y_train)
    order = torch.Generator().manual_seed(SEED)
    loss = nn.CrossEntropyLoss()
    net.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(xt), generator=order).split(batch_size):
            optimizer.zero_grad()
            loss(net(xt[batch]), yt[batch]).backward()
            optimizer.step()


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 4 x 4
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 2 x 2
            nn.Flatten(), nn.Linear(32 * 2 * 2, 10),  # logits; softmax is added for export
        )

    def forward(self, x):
        return self.body(x / 16.0)  # pixels arrive as 0..16, as scikit-learn gives them


# The digits model also takes 8x8 gray PNG images whose pixel is the value x 15 (0..240), as
# models/build_examples.py renders them: scale 1/15 gives the 0..16 the model was trained on, exactly.
DIGITS_PNG = {"input": {"image": {"size": [8, 8], "channels": "gray", "scale": 1 / 15}}}


def digits(epochs=40, batch_size=32):
    data = datasets.load_digits()
    x, y = data.images.astype(np.float32)[:, None, :, :], data.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)
    torch.manual_seed(SEED)
    net = DigitsCNN()
    train_minibatches(net, torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4), x_train, y_train, epochs, batch_size)
    model = nn.Sequential(net, nn.Softmax(dim=1))
    labels = [str(d) for d in range(10)]
    write_model(
        "digits", model=model, row_shape=(1, 8, 8), x_train=x_train, x_test=x_test,
        targets=[labels[t] for t in y_test],
        features=[(f"px_{r}_{c}", f"pixel at row {r}, column {c} (0..16)") for r in range(8) for c in range(8)],
        labels=labels, output_name="probabilities", fixed_range=(0, 16),
        preprocess=DIGITS_PNG,
        score=float((run(model, x_test).argmax(1) == y_test).mean()), metric="accuracy",
        description="Handwritten digit 0-9 from an 8x8 image, input [batch,1,8,8], pixels 0..16",
        dataset="scikit-learn load_digits (1797 8x8 images, pixel values 0..16, bundled with scikit-learn)",
        training=f"CNN conv3x3(16)-maxpool-conv3x3(32)-maxpool-linear(10), Adam lr 3e-3, {epochs} epochs of "
                 f"minibatches of {batch_size}; 25% stratified holdout, seed {SEED}",
    )


class LargeDigitsCNN(nn.Module):
    """A deliberately compute-heavy CNN (~76 M multiply-adds per row, about 1 ms on one onnxruntime
    thread) for the throughput benchmark: digits upscaled to 32x32. Not a better digits model; a load."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(),                     # 64 x 32 x 32
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 64 x 16 x 16
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 128 x 8 x 8
            nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), # 256 x 4 x 4
            nn.Flatten(), nn.Linear(256 * 4 * 4, 10),
        )

    def forward(self, x):
        return self.body(x / 16.0)


def digits_large(epochs=6, batch_size=64):
    data = datasets.load_digits()
    # nearest-neighbour x4: pixel values stay integers 0..16, so holdout.json stays compact
    x = np.kron(data.images.astype(np.float32), np.ones((4, 4), dtype=np.float32))[:, None, :, :]
    y = data.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)
    torch.manual_seed(SEED)
    net = LargeDigitsCNN()
    train_minibatches(net, torch.optim.Adam(net.parameters(), lr=1e-3), x_train, y_train, epochs, batch_size)
    model = nn.Sequential(net, nn.Softmax(dim=1))
    labels = [str(d) for d in range(10)]
    write_model(
        "digits_large", model=model, row_shape=(1, 32, 32), x_train=x_train, x_test=x_test,
        targets=[labels[t] for t in y_test], features=None, labels=labels, output_name="probabilities",
        score=float((run(model, x_test).argmax(1) == y_test).mean()), metric="accuracy",
        description="BENCHMARK MODEL: handwritten digit 0-9 from the 8x8 digits upscaled x4 to 32x32, input "
                    "[batch,1,32,32], pixels 0..16; a deliberately heavy CNN for the throughput benchmark",
        dataset="scikit-learn load_digits (1797 images), each pixel repeated 4x4 to 32x32",
        training=f"CNN conv3x3(64)-conv3x3(64)-pool-conv3x3(128)-pool-conv3x3(256)-pool-linear(10), Adam lr 1e-3, {epochs} "
                 f"epochs of minibatches of {batch_size}; 25% stratified holdout, seed {SEED}",
    )


def verify():
    """Re-score every model with onnxruntime-node and time the heavy model (skipped without node)."""
    if shutil.which("node") is None or not os.path.isdir(os.path.join(ROOT, "node_modules", "onnxruntime-node")):
        print("node or node_modules/onnxruntime-node missing: skipped the onnxruntime check (npm ci, then rerun)")
        return
    subprocess.run(["node", os.path.join(HERE, "verify_models.cjs")], cwd=ROOT, check=True)


if __name__ == "__main__":
    iris()
    breast_cancer()
    diabetes()
    digits()
    digits_large()
    if "--no-verify" not in sys.argv[1:]:
        verify()
