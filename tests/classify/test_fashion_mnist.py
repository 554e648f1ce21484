"""Fashion-MNIST end to end through the CLI a user types, on a few hundred real images: Debian's
dataset-fashion-mnist files (/usr/share/datasets/fashion-mnist; `.ci/run` installs them). Skips when absent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.data import images as img

runner = CliRunner()
FM = Path(img.FASHION_MNIST_DIR)
pytestmark = pytest.mark.skipif(
    not (FM / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason=f"{FM} is absent: `apt-get install dataset-fashion-mnist` (Debian) installs it",
)


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    """The first 300 training and 100 test images of the real files, written as a folder of idx files."""
    d = tmp_path_factory.mktemp("fashion-mnist-small")
    for stem, n in (("train", 300), ("t10k", 100)):
        for kind, ndim in (("images", 3), ("labels", 1)):
            a = img.read_idx(FM / f"{stem}-{kind}-idx{ndim}-ubyte.gz")[:n]
            img.write_idx(d / f"{stem}-{kind}-idx{ndim}-ubyte.gz", a)
    return d


def test_the_debian_files_read_as_published():
    train, test = img.read_idx_split(FM, "train"), img.read_idx_split(FM, "test")
    assert (len(train), len(test), train.shape) == (60_000, 10_000, (28, 28))
    assert train.classes == img.FASHION_MNIST_CLASSES
    assert np.bincount([train.classes.index(c) for c in test.labels]).tolist() == [1000] * 10  # balanced test set
    assert img.fashion_mnist_dir() == FM or (img.fashion_mnist_dir() / "t10k-images-idx3-ubyte.gz").is_file()


@pytest.mark.slow
def test_train_eval_predict_on_real_images(subset, tmp_path):
    run = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "classify",
            "train",
            "--data",
            str(subset),
            "--out",
            str(run),
            "--epochs",
            "4",
            "--lr",
            "0.01",
            "--batch-size",
            "16",
            "--hidden",
            "16",
            "--quiet",
            "--seed",
            "0",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "28x28 grayscale images read row by row (28 steps x 28)" in r.output
    assert "t10k-images-idx3-ubyte.gz" in r.output  # the test split came from the t10k files
    report = json.loads((run / "eval.json").read_text())
    assert report["n"] == 100 and report["classes"][9] == "Ankle boot"
    assert report["accuracy"] > 0.45  # 10 classes, 270 training images, 4 epochs: well above chance (0.1)
    r = runner.invoke(app, ["classify", "eval", str(run), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["accuracy"] == report["accuracy"]  # eval reads the same t10k files
    r = runner.invoke(app, ["classify", "eval", str(run), "--data", str(subset), "--json"])  # a folder: its t10k
    assert r.exit_code == 0 and json.loads(r.output)["n"] == 100, r.output
    assert (run / "misclassified.png").stat().st_size > 0  # train drew the test images it got wrong
    r = runner.invoke(app, ["classify", "eval", str(run), "--plot", str(tmp_path / "c.png")])
    assert r.exit_code == 0, r.output
    from PIL import Image

    grid = Image.open(tmp_path / "c-misclassified.png")
    assert grid.size[0] > 400 and grid.size[1] > 400  # 6 columns x 6 rows of 28x28 images with titles
    r = runner.invoke(
        app, ["classify", "predict", str(run), "--file", str(subset / "t10k-images-idx3-ubyte.gz"), "--k", "1"]
    )
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 100 and lines[0].startswith("image 0\t")
    assert lines[0].split("\t")[1].rsplit(" ", 1)[0] in img.FASHION_MNIST_CLASSES
    # a PNG of a test image predicts as the same image from the idx file
    x0 = img.read_idx(subset / "t10k-images-idx3-ubyte.gz")[0]
    Image.fromarray(x0).save(tmp_path / "x0.png")
    r = runner.invoke(app, ["classify", "predict", str(run), str(tmp_path / "x0.png"), "--k", "1"])
    assert r.exit_code == 0, r.output
    assert r.output.strip().split("\t")[1] == lines[0].split("\t")[1]


def test_permuted_via_test_option(subset, tmp_path):
    run = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "classify",
            "train",
            "--data",
            str(subset / "train-images-idx3-ubyte.gz"),
            "--test",
            str(subset / "t10k-images-idx3-ubyte.gz"),
            "--image-sequence",
            "permuted",
            "--out",
            str(run),
            "--epochs",
            "1",
            "--hidden",
            "8",
            "--quiet",
            "--cell",
            "mingru",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "pixel by pixel in a fixed random order (784 steps x 1)" in r.output
    assert len(json.loads((run / "task.json").read_text())["images"]["permutation"]) == 784
    assert json.loads((run / "eval.json").read_text())["n"] == 100
