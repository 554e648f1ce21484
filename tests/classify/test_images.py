"""Images as sequences: the idx reader (against tiny idx files written here, and property tests over odd shapes,
dtypes and truncation), PNG/JPEG class folders, the three sequence modes, the training-fitted normaliser, and the
permutation saved in the run and reused by `Classifier.load`."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rnnkit.data import images as img
from rnnkit.data.readers import read_classification
from rnnkit.data.sources import DataError
from rnnkit.tasks.classify import Classifier
from rnnkit.tasks.classify.images import ImageSequencer

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def idx_folder(d, n_train=12, n_test=6, shape=(5, 4), classes=3, seed=0, gz=True):
    """A folder with the four files of an MNIST-like dataset: random images, labels 0..classes-1."""
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    sfx = ".gz" if gz else ""
    for stem, n in (("train", n_train), ("t10k", n_test)):
        img.write_idx(d / f"{stem}-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n, *shape), dtype=np.uint8))
        img.write_idx(d / f"{stem}-labels-idx1-ubyte{sfx}", (np.arange(n) % classes).astype(np.uint8))
    return d


# ---- idx ----------------------------------------------------------------------------------------------------------


def test_idx_header_and_values_by_hand(tmp_path):
    """The bytes LeCun's page describes: magic 0x00000803, three big-endian sizes, then the pixels row-major."""
    raw = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    raw += bytes(range(12))
    (tmp_path / "x-images-idx3-ubyte").write_bytes(raw)
    (tmp_path / "x.gz").write_bytes(gzip.compress(raw))
    want = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    for name in ("x-images-idx3-ubyte", "x.gz"):  # gzip told by content, not by name
        got = img.read_idx(tmp_path / name)
        assert got.dtype == np.uint8 and np.array_equal(got, want)
    shorts = bytes([0, 0, 0x0B, 1]) + (2).to_bytes(4, "big") + (258).to_bytes(2, "big") + (65535).to_bytes(2, "big")
    assert img.parse_idx(shorts, "s").tolist() == [258, -1]  # big-endian int16


@FAST
@given(
    a=hnp.arrays(
        st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]),
        hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    ),
    gz=st.booleans(),
)
def test_idx_round_trip_any_shape_and_dtype(tmp_path, a, gz):
    p = img.write_idx(tmp_path / ("a.gz" if gz else "a"), a)
    b = img.read_idx(p)
    assert b.shape == a.shape and b.dtype == a.dtype
    np.testing.assert_array_equal(b, a)


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6), data=st.data())
def test_idx_truncated_or_padded_is_refused(shape, data):
    a = np.zeros(shape, dtype=np.int16)
    raw = bytes([0, 0, 0x0B, a.ndim]) + b"".join(n.to_bytes(4, "big") for n in shape) + a.astype(">i2").tobytes()
    cut = data.draw(st.integers(1, len(raw)))
    with pytest.raises(DataError, match=r"f\.idx: (truncated|\d+ bytes, too short)"):
        img.parse_idx(raw[:-cut], "f.idx")
    with pytest.raises(DataError, match=r"f\.idx: longer than its header says"):
        img.parse_idx(raw + b"\x00" * data.draw(st.integers(1, 5)), "f.idx")


@FAST
@given(head=st.binary(min_size=4, max_size=4))
def test_idx_wrong_magic_is_refused(head):
    ok = head[:2] == b"\0\0" and head[2] in img.IDX_TYPES and head[3] > 0
    raw = head + b"\x00" * 64
    if ok:
        return  # a valid header: covered by the round trip
    with pytest.raises(DataError, match=r"bad\.gz: magic number 0x[0-9a-f]{8} is not an idx header"):
        img.parse_idx(raw, "bad.gz")


def test_idx_errors_name_the_file(tmp_path):
    d = idx_folder(tmp_path / "fm")
    (tmp_path / "png.gz").write_bytes(gzip.compress(b"\x89PNG\r\n\x1a\n" + b"x" * 30))
    with pytest.raises(DataError, match=r"png\.gz: magic number 0x89504e47"):
        img.read_idx(tmp_path / "png.gz")
    whole = (d / "train-images-idx3-ubyte.gz").read_bytes()
    (d / "train-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: the gzip stream is damaged or truncated"):
        img.read_idx_split(d, "train")
    # mismatched counts: 12 images, 11 labels
    d = idx_folder(tmp_path / "fm2")
    img.write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(11, dtype=np.uint8))
    with pytest.raises(
        DataError,
        match=r"train-images-idx3-ubyte\.gz holds 12 images but .*train-labels-idx1-ubyte"
        r"\.gz holds 11 labels",
    ):
        img.read_idx_split(d, "train")
    (d / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: no labels file beside it"):
        img.read_idx_split(d, "train")
    with pytest.raises(DataError, match=r"fm3: no validation split among its idx files \(test: t10k-images"):
        img.read_idx_split(idx_folder(tmp_path / "fm3"), "validation")


def test_idx_folder_splits_and_class_names(tmp_path):
    d = idx_folder(tmp_path / "digits", gz=False)
    train, test = read_classification(d, split="train"), read_classification(d, split="test")
    assert isinstance(train, img.ImageData) and (len(train), len(test)) == (12, 6)
    assert train.shape == (5, 4) and train.classes == ("0", "1", "2") and train.labels[:4] == ["0", "1", "2", "0"]
    assert "idx files train-images-idx3-ubyte" in train.notes[0]
    f = idx_folder(tmp_path / "my-fashion-subset", classes=10, n_train=10)
    assert read_classification(f).labels[9] == "Ankle boot"  # Fashion-MNIST's names for 0..9
    one = read_classification(d / "t10k-images-idx3-ubyte")  # an images file: its labels file beside it
    assert len(one) == 6


# ---- PNG / JPEG folders ---------------------------------------------------------------------------------------------


def png_folder(d, *, sizes=None, rgb_one=False):
    from PIL import Image

    rng = np.random.default_rng(1)
    for k, cls in enumerate(("cat", "dog")):
        (d / cls).mkdir(parents=True)
        for i in range(3):
            h, w = (sizes or {}).get((cls, i), (6, 5))
            a = rng.integers(0, 256, (h, w), dtype=np.uint8)
            if rgb_one and (k, i) == (1, 2):
                Image.fromarray(np.stack([a, a, 255 - a], axis=2)).save(d / cls / f"{i}.jpg", quality=95)
            else:
                Image.fromarray(a).save(d / cls / f"{i}.png")
    (d / "dog" / "notes.txt").write_text("not an image")
    return d


def test_png_folder_reader(tmp_path):
    from PIL import Image

    d = png_folder(tmp_path / "pets")
    data = read_classification(d)
    assert isinstance(data, img.ImageData) and len(data) == 6 and data.classes == ("cat", "dog")
    assert data.shape == (6, 5) and data.inputs[0].dtype == np.uint8
    np.testing.assert_array_equal(data.inputs[0], np.asarray(Image.open(d / "cat" / "0.png")))  # lossless PNG
    rgb = read_classification(png_folder(tmp_path / "mixed", rgb_one=True))
    assert rgb.shape == (6, 5, 3) and "RGB" in rgb.notes[0]  # one colour image: all read as RGB


def test_png_folder_errors(tmp_path):
    d = png_folder(tmp_path / "odd", sizes={("dog", 1): (7, 5)})
    with pytest.raises(DataError, match=r"dog/1\.png is 5x7 \(width x height\) but .*cat/0\.png is 5x6.*same size"):
        read_classification(d)
    bad = png_folder(tmp_path / "bad")
    (bad / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"broken\.png: not a readable PNG/JPEG image"):
        read_classification(bad)


# ---- sequences ------------------------------------------------------------------------------------------------------


@FAST
@given(
    n=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6), c=st.sampled_from([0, 1, 3]), seed=st.integers(0, 9)
)
def test_sequence_modes_shapes_and_values(n, h, w, c, seed):
    shape = (n, h, w) if c == 0 else (n, h, w, c)
    x = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    C = max(c, 1)
    rows = img.to_sequence(x, "rows")
    assert rows.shape == (n, h, w * C)
    np.testing.assert_array_equal(rows[:, 2 % h], x[:, 2 % h].reshape(n, -1))  # step t is row t
    pix = img.to_sequence(x, "pixels")
    assert pix.shape == (n, h * w, C)
    np.testing.assert_array_equal(pix[:, w * (h - 1) + (w - 1)], x[:, h - 1, w - 1].reshape(n, C))  # row-major
    perm = img.make_permutation(h * w, seed)
    per = img.to_sequence(x, "permuted", permutation=perm)
    np.testing.assert_array_equal(per, pix[:, perm])
    np.testing.assert_array_equal(np.sort(per, axis=1), np.sort(pix, axis=1))  # the same pixels, reordered
    assert np.array_equal(perm, img.make_permutation(h * w, seed))  # a seed gives one permutation


def test_sequence_errors():
    x = np.zeros((1, 3, 3), dtype=np.uint8)
    with pytest.raises(DataError, match="need a permutation of 9 positions, got none"):
        img.to_sequence(x, "permuted")
    with pytest.raises(DataError, match="must be one of rows, pixels, permuted, got 'columns'"):
        img.to_sequence(x, "columns")


def test_normaliser_is_fitted_on_training_images():
    a = np.full((2, 2), 51, dtype=np.uint8)  # 0.2
    b = np.full((2, 2), 153, dtype=np.uint8)  # 0.6
    data = img.ImageData([a, b], ["x", "y"])
    s = ImageSequencer.fit(data, mode="rows", seed=0)
    np.testing.assert_allclose([s.mean[0], s.std[0]], [0.4, 0.2], atol=1e-6)
    out = s.encode([a, b])
    np.testing.assert_allclose(np.stack(out), np.stack([np.full((2, 2), -1.0), np.full((2, 2), 1.0)]), atol=1e-5)
    with pytest.raises(DataError, match=r"image 0 has shape \(3, 2\), the run was trained on images of shape \(2, 2\)"):
        s.encode([np.zeros((3, 2), dtype=np.uint8)])


# ---- through the task ------------------------------------------------------------------------------------------------


def _train(d, out, mode, **kw):
    task = Classifier.from_options(
        data=str(d),
        out=str(out),
        epochs=1,
        hidden=4,
        batch_size=4,
        seed=0,
        overrides={"data.image_sequence": mode, "data.permutation_seed": 7, "train.quiet": True, **kw},
    )
    task.fit_and_test()
    return task


@pytest.mark.parametrize(("mode", "steps", "size"), [("rows", 5, 4), ("pixels", 20, 1), ("permuted", 20, 1)])
def test_modes_through_the_task(tmp_path, mode, steps, size):
    d = idx_folder(tmp_path / "d")
    task = _train(d, tmp_path / "run", mode)
    assert task.config.model.input == "image" and task.images.mode == mode
    seqs = task.encode_inputs(read_classification(d, split="test").inputs)
    assert len(seqs) == 6 and seqs[0].shape == (steps, size) and seqs[0].dtype == np.float32
    assert any(f"({steps} steps x {size})" in n for n in task.notes)


def test_permutation_saved_and_reused_on_load(tmp_path):
    d = idx_folder(tmp_path / "d")
    task = _train(d, tmp_path / "run", "permuted")
    want = img.make_permutation(20, 7)
    np.testing.assert_array_equal(task.images.permutation, want)
    import json

    saved = json.loads((tmp_path / "run" / "task.json").read_text())["images"]
    assert saved["permutation"] == want.tolist() and saved["mode"] == "permuted"
    # the run's permutation wins over the config's seed: a load uses what the weights were trained on
    saved["permutation"] = want[::-1].tolist()
    state = json.loads((tmp_path / "run" / "task.json").read_text())
    state["images"] = saved
    (tmp_path / "run" / "task.json").write_text(json.dumps(state))
    loaded = Classifier.load(tmp_path / "run")
    np.testing.assert_array_equal(loaded.images.permutation, want[::-1])
    x = read_classification(d, split="test").inputs[:2]
    np.testing.assert_array_equal(np.stack(loaded.encode_inputs(x)), np.stack(task.encode_inputs(x))[:, ::-1])


def test_load_gives_the_same_predictions(tmp_path):
    d = idx_folder(tmp_path / "d")
    task = _train(d, tmp_path / "run", "permuted")
    x = read_classification(d, split="test").inputs
    p1, _ = task.predict_proba(x)
    p2, _ = Classifier.load(tmp_path / "run").predict_proba(x)
    np.testing.assert_allclose(p1, p2, atol=1e-6)  # same weights, same permutation and normaliser


def test_bad_mode_is_a_config_error(tmp_path):
    from rnnkit.config import ConfigError

    with pytest.raises(ConfigError, match="data.image_sequence"):
        _train(idx_folder(tmp_path / "d"), tmp_path / "run", "columns")


def test_image_run_exports_to_onnx(tmp_path):
    pytest.importorskip("onnxruntime")
    import json

    task = _train(idx_folder(tmp_path / "d"), tmp_path / "run", "permuted")
    report = task.export_onnx(tmp_path / "m.onnx", lengths=(5, 11))  # raises above its tolerance
    assert report is not None
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["input"] == "image" and meta["images"]["permutation"] == task.images.permutation.tolist()


def test_fashion_mnist_by_name(tmp_path, monkeypatch):
    """`--dataset fashion-mnist`: <data root>/fashion-mnist when it holds the idx files, else Debian's folder; neither
    is an error saying how to get them."""
    idx_folder(tmp_path / "fashion-mnist", classes=10, n_train=10)
    data = read_classification("fashion-mnist", data_root=tmp_path, split="test")
    assert len(data) == 6 and data.classes == img.FASHION_MNIST_CLASSES
    monkeypatch.setattr(img, "FASHION_MNIST_DIR", str(tmp_path / "absent"))
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    with pytest.raises(DataError, match=r"absent holds no idx files; install them with `apt-get install dataset-fash"):
        read_classification("fashion-mnist")
