"""Images for sequence classification: idx files (MNIST / Fashion-MNIST) and PNG/JPEG folders, and the three ways
an image becomes a sequence (row by row, pixel by pixel, pixel by pixel under a fixed permutation).

Readers:
- ``read_idx(path)``: one idx file (LeCun's format, gzip or raw): ``00 00 <type> <ndim>``, ``ndim`` big-endian
  uint32 sizes, then the values big-endian. A wrong magic number, a truncated or over-long file is a ``DataError``
  naming the file.
- ``read_idx_split(folder, split)``: the images/labels pair of a split in a folder of idx files, paired by name
  (``X-images-idx3-ubyte[.gz]`` with ``X-labels-idx1-ubyte[.gz]``; a name starting with ``t10k`` or holding
  ``test`` is the test split, any other the training split). Fashion-MNIST's folder gets its class names.
- ``read_image_folder(folder)``: PNG/JPEG files, one sub-folder per class (Pillow, imported when used). Every image
  must have the same size; grayscale images stay one channel, a folder with any colour image is read as RGB.

Shapes: an image is ``(H, W)`` (grayscale) or ``(H, W, C)`` uint8. As a sequence (``to_sequence``), ``N`` images
become ``(N, T, D)``: rows ``T = H, D = W*C``; pixels ``T = H*W, D = C``; permuted pixels the same with the steps in
a seeded order (``make_permutation``) that the task saves in its run so that eval and predict use the same one.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.data.labelled import ClassificationData
from rnnkit.data.sources import DataError

SEQUENCE_MODES = ("rows", "pixels", "permuted")
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)  # (label 0..9, from the dataset's README)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

# idx type byte -> NumPy dtype (big-endian, as the format stores values)
IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IDX_NAME = re.compile(r"^(?P<stem>.*)-(?P<kind>images|labels)-idx(?P<ndim>\d)-ubyte(?:\.gz)?$")


class ImageData(ClassificationData):
    """Images ``(H, W)`` / ``(H, W, C)`` uint8 with one label each; ``shape`` is the common image shape."""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.inputs[0].shape) if self.inputs else ()

    def subset(self, idx: Sequence[int]) -> ImageData:
        return ImageData(
            [self.inputs[i] for i in idx], [self.labels[i] for i in idx], self.source, 0, self.classes, self.notes
        )


# ---- idx --------------------------------------------------------------------------------------------------------


def _raw_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"file {path} does not exist")
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":  # not gzip: the idx bytes themselves
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise DataError(f"{path}: the gzip stream is damaged or truncated ({e}); fetch the file again") from None


def parse_idx(raw: bytes, where: str) -> np.ndarray:
    """The array an idx byte string holds (native byte order). ``where`` names the file in errors."""
    if len(raw) < 4:
        raise DataError(f"{where}: {len(raw)} bytes, too short for an idx header (4 bytes of magic number)")
    magic = int.from_bytes(raw[:4], "big")
    zero, type_, ndim = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00" or type_ not in IDX_TYPES or ndim == 0:
        raise DataError(
            f"{where}: magic number 0x{magic:08x} is not an idx header (images: 0x00000803, labels: 0x00000801; "
            "00 00, a type byte 08/09/0b/0c/0d/0e, and the number of dimensions); is this an idx file?"
        )
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DataError(f"{where}: truncated header: {ndim} dimensions need {head} bytes, the file has {len(raw)}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_TYPES[type_]
    need = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - head
    if have != need:
        what = "truncated" if have < need else "longer than its header says"
        raise DataError(
            f"{where}: {what}: the header says shape {dims} of {dtype.name} ({need:,} bytes of data), the file has "
            f"{have:,}; fetch the file again"
        )
    return np.frombuffer(raw, dtype=dtype, offset=head).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """One idx file, gzip-compressed or not (told by its first bytes, not its name)."""
    p = Path(path)
    return parse_idx(_raw_bytes(p), str(p))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an idx file (gzip-compressed when ``path`` ends in .gz): e.g. a subset of MNIST."""
    a = np.asarray(array)
    code = {v.str.lstrip("<>|="): k for k, v in IDX_TYPES.items()}.get(a.dtype.str.lstrip("<>|="))
    if code is None or a.ndim == 0 or a.ndim > 255:
        raise DataError(
            f"{path}: idx holds 1..255-dimensional arrays of {', '.join(map(str, IDX_TYPES.values()))}, "
            f"got {a.dtype} {a.shape}"
        )
    raw = bytes([0, 0, code, a.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in a.shape)
    raw += a.astype(IDX_TYPES[code]).tobytes()  # big-endian, as the format stores values
    p = Path(path)
    p.write_bytes(gzip.compress(raw, compresslevel=1) if p.suffix == ".gz" else raw)
    return p


def idx_pairs(folder: str | os.PathLike) -> dict[str, tuple[Path, Path]]:
    """``{"train"|"test": (images file, labels file)}`` in a folder of idx files (see the module docstring)."""
    d = Path(folder)
    files = {f.name: f for f in sorted(d.iterdir()) if f.is_file()} if d.is_dir() else {}
    out: dict[str, tuple[Path, Path]] = {}
    for name, f in files.items():
        m = IDX_NAME.match(name)
        if not m or m["kind"] != "images":
            continue
        gz = ".gz" if name.endswith(".gz") else ""
        label_name = next(
            (
                n
                for n in (
                    f"{m['stem']}-labels-idx1-ubyte{gz}",
                    f"{m['stem']}-labels-idx1-ubyte",
                    f"{m['stem']}-labels-idx1-ubyte.gz",
                )
                if n in files
            ),
            None,
        )
        if label_name is None:
            raise DataError(f"{f}: no labels file beside it (expected {m['stem']}-labels-idx1-ubyte{gz} in {d})")
        stem = m["stem"].lower()
        split = "test" if stem.startswith("t10k") or "test" in stem else "train"
        if split in out:
            raise DataError(f"{d}: two {split} image files ({out[split][0].name}, {name}); keep one pair per split")
        out[split] = (f, files[label_name])
    return out


def is_idx_source(path: str | os.PathLike) -> bool:
    """A folder holding idx image files, or an idx images file itself."""
    p = Path(path)
    if p.is_file():
        return bool(IDX_NAME.match(p.name))
    return p.is_dir() and any(IDX_NAME.match(f.name) for f in p.iterdir())


def read_idx_pair(images: str | os.PathLike, labels: str | os.PathLike, *, classes: Sequence[str] = ()) -> ImageData:
    """Images ``(N, H, W)`` or ``(N, H, W, C)`` uint8 and labels ``(N,)`` from two idx files; label ``k`` is named
    ``classes[k]`` (else ``"k"``)."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim not in (3, 4) or x.dtype != np.uint8:
        raise DataError(f"{images}: expected uint8 images (N, H, W) or (N, H, W, C), got {x.dtype} {x.shape}")
    if y.ndim != 1:
        raise DataError(f"{labels}: expected labels of shape (N,), got {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{images} holds {len(x):,} images but {labels} holds {len(y):,} labels: they must pair up")
    if len(x) == 0:
        raise DataError(f"{images} holds no images")
    if y.min() < 0 or (classes and y.max() >= len(classes)):
        raise DataError(f"{labels}: labels range {y.min()}..{y.max()}, expected 0..{len(classes) - 1}")
    names = list(classes) or [str(k) for k in range(int(y.max()) + 1)]
    return ImageData(list(x), [names[k] for k in y.tolist()], str(images), 0, tuple(names))


def read_idx_split(folder: str | os.PathLike, split: str = "train") -> ImageData:
    """The ``split`` (train | test) images and labels of a folder of idx files, or of an images file given directly
    (its labels file beside it). Fashion-MNIST (a folder named ``*fashion*``) gets its class names."""
    p = Path(folder)
    if p.is_file():
        pairs = {"file": (p, _labels_beside(p))}
        split = "file"
    else:
        pairs = idx_pairs(p)
    if split not in pairs:
        have = ", ".join(f"{k}: {v[0].name}" for k, v in pairs.items()) or "no *-images-idx3-ubyte[.gz] files"
        raise DataError(f"{p}: no {split} split among its idx files ({have})")
    images, labels = pairs[split]
    fashion = "fashion" in str(p.resolve()).lower()
    data = read_idx_pair(images, labels, classes=FASHION_MNIST_CLASSES if fashion else ())
    h, w = data.shape[:2]
    data.notes.append(
        f"format: idx files {images.name} + {labels.name} ({len(data):,} images {h}x{w}"
        + (", Fashion-MNIST class names" if fashion else "")
        + ")"
    )
    return data


def _labels_beside(images: Path) -> Path:
    m = IDX_NAME.match(images.name)
    if not m or m["kind"] != "images":
        raise DataError(f"{images}: not named like an idx images file (NAME-images-idx3-ubyte[.gz])")
    for suffix in ("", ".gz"):
        cand = images.with_name(f"{m['stem']}-labels-idx1-ubyte{suffix}")
        if cand.is_file():
            return cand
    raise DataError(f"{images}: no labels file beside it (expected {m['stem']}-labels-idx1-ubyte[.gz])")


# ---- PNG / JPEG folders -------------------------------------------------------------------------------------------


def _pillow():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        raise DataError("reading PNG/JPEG images needs Pillow: pip install 'rnnkit[images]'") from None
    return Image


def read_image_file(path: str | os.PathLike, *, rgb: bool | None = None) -> np.ndarray:
    """One PNG/JPEG as uint8 ``(H, W)`` (grayscale) or ``(H, W, 3)``; ``rgb`` forces one or the other."""
    Image = _pillow()
    p = Path(path)
    try:
        with Image.open(p) as im:
            grey = im.mode in ("1", "L", "LA", "I", "I;16", "F") and rgb is not True
            if rgb is False:
                grey = True
            return np.asarray(im.convert("L" if grey else "RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"image {p} does not exist") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{p}: not a readable PNG/JPEG image ({e})") from None


def is_image_folder(path: str | os.PathLike) -> bool:
    """A folder whose sub-folders hold PNG/JPEG files (one sub-folder per class)."""
    p = Path(path)
    return p.is_dir() and any(
        f.suffix.lower() in IMAGE_SUFFIXES for sub in p.iterdir() if sub.is_dir() for f in sub.iterdir()
    )


def read_image_folder(folder: str | os.PathLike) -> ImageData:
    """``folder/<class>/*.png|jpg|jpeg``: class = sub-folder name. Every image must have the same height and
    width; if any image is in colour, all are read as RGB ``(H, W, 3)``."""
    d = Path(folder)
    if not d.is_dir():
        raise DataError(f"{d} is not a folder; expected a folder with one sub-folder of PNG/JPEG images per class")
    files = [
        (sub.name, f)
        for sub in sorted(d.iterdir())
        if sub.is_dir()
        for f in sorted(sub.iterdir())
        if f.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise DataError(f"{d}: no PNG/JPEG files in its sub-folders (expected {d}/<class>/<image>.png)")
    images = [read_image_file(f) for _, f in files]
    rgb = any(im.ndim == 3 for im in images)
    if rgb:
        images = [np.repeat(im[:, :, None], 3, axis=2) if im.ndim == 2 else im for im in images]
    first = images[0].shape[:2]
    for (_, f), im in zip(files, images, strict=True):
        if im.shape[:2] != first:
            raise DataError(
                f"{f} is {im.shape[1]}x{im.shape[0]} (width x height) but {files[0][1]} is {first[1]}x{first[0]}: "
                "every image must have the same size; resize them first"
            )
    classes = tuple(sorted({c for c, _ in files}))
    data = ImageData(images, [c for c, _ in files], str(d), 0, classes)
    data.notes.append(
        f"format: image folder ({len(data):,} images {first[0]}x{first[1]}"
        f"{' RGB' if rgb else ' grayscale'}, {len(classes)} classes from sub-folder names)"
    )
    return data


def fashion_mnist_dir(data_root: str | os.PathLike | None = None) -> Path:
    """Fashion-MNIST's idx folder: ``<data root>/fashion-mnist`` when it holds the files, else Debian's
    ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``)."""
    root = data_root or os.environ.get("RNNKIT_DATA")
    if root and is_idx_source(Path(root) / "fashion-mnist"):
        return Path(root) / "fashion-mnist"
    d = Path(FASHION_MNIST_DIR)
    if not is_idx_source(d):
        raise DataError(
            f"fashion-mnist: {d} holds no idx files; install them with `apt-get install "
            "dataset-fashion-mnist` (Debian) or pass --data FOLDER with the four idx .gz files"
        )
    return d


def read_images(source: str | os.PathLike, *, split: str = "train") -> ImageData:
    """An idx folder or file, or a PNG/JPEG class folder (with ``train/`` and ``test/`` sub-folders: ``split``)."""
    p = Path(source)
    if is_idx_source(p):
        return read_idx_split(p, split)
    if p.is_dir() and (p / split).is_dir() and is_image_folder(p / split):
        return read_image_folder(p / split)
    return read_image_folder(p)


def has_test_split(source: str | os.PathLike) -> bool:
    """Whether an image source carries its own test split (t10k idx files, or a ``test/`` class folder)."""
    p = Path(source)
    if p.is_dir() and is_idx_source(p):
        return "test" in idx_pairs(p)
    return (p / "test").is_dir() and is_image_folder(p / "test")


def is_image_source(path: str | os.PathLike) -> bool:
    p = Path(path)
    return is_idx_source(p) or is_image_folder(p) or (p.is_dir() and is_image_folder(p / "train"))


# ---- images -> sequences ------------------------------------------------------------------------------------------


def make_permutation(n: int, seed: int) -> np.ndarray:
    """A fixed permutation of ``n`` pixel positions (permuted sequential MNIST), from ``seed`` alone."""
    return np.random.default_rng(seed).permutation(n)


def to_sequence(images: np.ndarray, mode: str, *, permutation: np.ndarray | None = None) -> np.ndarray:
    """``(N, H, W)`` or ``(N, H, W, C)`` -> ``(N, T, D)`` (same dtype): rows ``(N, H, W*C)``; pixels
    ``(N, H*W, C)``; permuted ``(N, H*W, C)`` with step ``t`` holding pixel ``permutation[t]`` (row-major)."""
    if images.ndim == 3:
        images = images[..., None]  # (N, H, W, 1)
    N, H, W, C = images.shape
    if mode == "rows":
        return images.reshape(N, H, W * C)
    pixels = images.reshape(N, H * W, C)
    if mode == "pixels":
        return pixels
    if mode == "permuted":
        if permutation is None or len(permutation) != H * W:
            got = "none" if permutation is None else len(permutation)
            raise DataError(f"permuted pixels of {H}x{W} images need a permutation of {H * W} positions, got {got}")
        return pixels[:, permutation]
    raise DataError(f"image sequence mode must be one of {', '.join(SEQUENCE_MODES)}, got {mode!r}")


def channel_stats(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of pixel values scaled to [0, 1], over all training images (the normaliser).
    Computed from each channel's 256-bin histogram: exact, and no float copy of the whole training set."""
    x = np.stack(images)  # (N, H, W[, C]) uint8
    x = x.reshape(-1, 1 if x.ndim == 3 else x.shape[-1])  # (N*H*W, C)
    v = np.arange(256) / 255.0
    mean, std = [], []
    for c in range(x.shape[1]):
        p = np.bincount(x[:, c], minlength=256) / len(x)  # (256,) share of each value
        m = float(p @ v)
        mean.append(m)
        std.append(float(np.sqrt(max(p @ (v - m) ** 2, 0.0))) + 1e-8)
    return np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)
