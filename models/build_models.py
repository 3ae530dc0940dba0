"""Builds the bundled model repository from data sets that scikit-learn ships (no download).

Run with Debian's interpreter (apt-get install python3-sklearn python3-onnx python3-torch):

    /usr/bin/python3 models/build_models.py

For each model it writes models/<name>/1/model.onnx, models/<name>/model.json (features with
ranges, labels, model card with the ONNX file's sha256 and holdout score, drift reference
statistics) and models/<name>/holdout.json (the holdout rows and their true targets). Seeds are
fixed and training is single-threaded, so a rebuild gives the same models.
"""
import hashlib
import json
import os

import numpy as np
import onnx
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 42
torch.set_num_threads(1)


class Standardize(nn.Module):
    """(x - mean) / std baked into the graph, so clients send raw feature values."""

    def __init__(self, x):
        super().__init__()
        std = x.std(axis=0)
        std[std == 0] = 1.0
        self.register_buffer("mean", torch.tensor(x.mean(axis=0), dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, x):
        return (x - self.mean) / self.std


def train(model, x, y, loss_fn, epochs, lr=0.01):
    """Full-batch Adam: the data sets are small, and full batches keep runs reproducible."""
    torch.manual_seed(SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(y)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        optimizer.step()
    model.eval()
    return model


def export(model, row_shape, output_name, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    example = torch.zeros((1, *row_shape), dtype=torch.float32)
    torch.onnx.export(
        model,
        example,
        path,
        input_names=["input"],
        output_names=[output_name],
        dynamic_axes={"input": {0: "batch"}, output_name: {0: "batch"}},
        opset_version=13,
    )
    onnx.checker.check_model(onnx.load(path))
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def f32(value):
    """The shortest decimal that reads back as the same float32. Ranges, edges and holdout rows all
    use it, so a holdout value equal to a feature's min or max stays inside the range in JSON."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def reference_bins(x_holdout, names):
    """Decile edges on the holdout data; a value's bin is the count of edges strictly below it."""
    bins = {}
    for j, name in enumerate(names):
        column = x_holdout[:, j]
        edges = np.unique(np.quantile(column, np.linspace(0.1, 0.9, 9)))
        counts = np.bincount(np.searchsorted(edges, column, side="left"), minlength=len(edges) + 1)
        bins[name] = {
            "edges": [f32(e) for e in edges],
            "fractions": [round(float(c) / len(column), 6) for c in counts],
        }
    return bins


def write_model(name, *, model, x_all, x_test, y_test_targets, feature_names, row_shape, task, labels,
                output_name, score, metric, dataset, training, description, units=None):
    sha = export(model, row_shape, output_name, os.path.join(HERE, name, "1", "model.onnx"))
    flat_all = x_all.reshape(len(x_all), -1)
    flat_test = x_test.reshape(len(x_test), -1)
    features = []
    for j, feature in enumerate(feature_names):
        entry = {"name": feature, "min": f32(flat_all[:, j].min()), "max": f32(flat_all[:, j].max())}
        if units:
            entry["description"] = units
        features.append(entry)
    config = {
        "task": task,
        "description": description,
        "input": "input",
        "output": output_name,
        "output_kind": "probabilities" if task == "classification" else "values",
        "features": features,
        **({"labels": labels} if labels else {}),
        "validation": "strict",
        "batching": {"max_batch_size": 64, "max_queue_delay_ms": 2},
        "cache": {"enabled": True, "ttl_seconds": 300},
        "card": {
            "dataset": dataset,
            "training": training + "; built by models/build_models.py",
            "metric": metric,
            "versions": {"1": {"sha256": sha, "holdout_score": round(score, 6), "holdout_rows": len(x_test)}},
        },
        "reference": {"rows": len(x_test), "features": reference_bins(flat_test, feature_names)},
    }
    if labels:
        counts = np.bincount([labels.index(t) for t in y_test_targets], minlength=len(labels))
        config["reference"]["class_priors"] = {l: round(float(c) / len(y_test_targets), 6) for l, c in zip(labels, counts)}
    with open(os.path.join(HERE, name, "model.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    holdout = {"rows": [[f32(v) for v in row] for row in flat_test], "targets": y_test_targets}
    with open(os.path.join(HERE, name, "holdout.json"), "w") as f:
        json.dump(holdout, f, separators=(",", ":"))
        f.write("\n")
    print(f"{name:14s} {metric} {score:.4f} on {len(x_test)} holdout rows  sha256 {sha[:12]}")


def classifier(name, data, feature_names, labels, hidden, epochs, description, dataset, units=None):
    x, y = data.data.astype(np.float32), data.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)
    torch.manual_seed(SEED)
    net = nn.Sequential(Standardize(x_train), nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, len(labels)))
    train(net, x_train, y_train, nn.CrossEntropyLoss(), epochs)
    model = nn.Sequential(net, nn.Softmax(dim=1))
    with torch.no_grad():
        predicted = model(torch.tensor(x_test)).argmax(dim=1).numpy()
    write_model(
        name, model=model, x_all=x, x_test=x_test, y_test_targets=[labels[t] for t in y_test],
        feature_names=feature_names, row_shape=(x.shape[1],), task="classification", labels=labels,
        output_name="probabilities", score=float((predicted == y_test).mean()), metric="accuracy",
        dataset=dataset, description=description, units=units,
        training=f"MLP {x.shape[1]}-{hidden}-{len(labels)} with in-graph standardisation, Adam, {epochs} full-batch epochs; 25% stratified holdout, seed {SEED}",
    )


def iris():
    data = datasets.load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    classifier("iris", data, names, list(data.target_names), 16, 1000, "Iris species from sepal and petal sizes (cm)",
               "scikit-learn load_iris (150 rows, bundled with scikit-learn)", units="cm")


def breast_cancer():
    data = datasets.load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    classifier("breast_cancer", data, names, list(data.target_names), 16, 300,
               "Breast mass malignant or benign from 30 cell-nucleus measurements",
               "scikit-learn load_breast_cancer (Wisconsin diagnostic, 569 rows, bundled with scikit-learn)")


def diabetes():
    data = datasets.load_diabetes()
    x, y = data.data.astype(np.float32), data.target.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED)
    # Least squares in closed form, then as a Linear layer: the graph is exactly the fitted model.
    design = np.hstack([x_train, np.ones((len(x_train), 1), dtype=np.float32)])
    coef, *_ = np.linalg.lstsq(design.astype(np.float64), y_train.astype(np.float64), rcond=None)
    model = nn.Linear(x.shape[1], 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(coef[:-1], dtype=torch.float32).unsqueeze(0))
        model.bias.copy_(torch.tensor([coef[-1]], dtype=torch.float32))
        predicted = model(torch.tensor(x_test)).squeeze(1).numpy().astype(np.float64)
    truth = y_test.astype(np.float64)
    r2 = 1 - ((truth - predicted) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
    write_model(
        "diabetes", model=model, x_all=x, x_test=x_test, y_test_targets=[f32(t) for t in y_test],
        feature_names=list(data.feature_names), row_shape=(x.shape[1],), task="regression", labels=None,
        output_name="value", score=float(r2), metric="r2",
        dataset="scikit-learn load_diabetes (442 rows, features mean-centred and scaled as scikit-learn ships them)",
        description="Disease progression one year after baseline, from 10 baseline measurements",
        training=f"ordinary least squares; 25% holdout, seed {SEED}",
    )


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
        )

    def forward(self, x):
        return self.body(x / 16.0)  # pixels arrive as 0..16, as scikit-learn gives them


def digits():
    data = datasets.load_digits()
    x = data.images.astype(np.float32)[:, None, :, :]
    y = data.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)
    torch.manual_seed(SEED)
    net = DigitsCNN()
    train(net, x_train, y_train, nn.CrossEntropyLoss(), 150)
    model = nn.Sequential(net, nn.Softmax(dim=1))
    with torch.no_grad():
        predicted = model(torch.tensor(x_test)).argmax(dim=1).numpy()
    labels = [str(d) for d in range(10)]
    write_model(
        "digits", model=model, x_all=x, x_test=x_test, y_test_targets=[labels[t] for t in y_test],
        feature_names=[f"px_{r}_{c}" for r in range(8) for c in range(8)], row_shape=(1, 8, 8),
        task="classification", labels=labels, output_name="probabilities",
        score=float((predicted == y_test).mean()), metric="accuracy",
        dataset="scikit-learn load_digits (1797 8x8 images, pixel values 0..16, bundled with scikit-learn)",
        description="Handwritten digit 0-9 from an 8x8 image, input [batch,1,8,8]",
        training=f"CNN conv16-pool-conv32-pool-linear, Adam, 150 full-batch epochs; 25% stratified holdout, seed {SEED}",
    )


if __name__ == "__main__":
    iris()
    breast_cancer()
    diabetes()
    digits()
