"""rnnkit.durable: the one write helper leaves the old file or the new one, and no temp file, whatever fails."""

from __future__ import annotations

import errno
import json
import os

import pytest

from rnnkit import durable
from rnnkit.config import write_json


def test_write_json_replaces_whole_and_leaves_no_temp(tmp_path):
    p = write_json(tmp_path / "a.json", {"x": 1})
    write_json(p, {"x": 2}, indent=1)
    assert json.loads(p.read_text()) == {"x": 2} and os.listdir(tmp_path) == ["a.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp(tmp_path, monkeypatch):
    p = write_json(tmp_path / "a.json", {"x": 1})
    with pytest.raises(TypeError):
        write_json(p, {"x": object()})  # not serialisable: nothing is written at all
    with pytest.raises(OSError, match="No space left"), durable.atomic_path(p) as tmp:
        tmp.write_text('{"x": 2, "trunc')  # half written when the disk fills up
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

    def no_rename(src, dst):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dst))

    monkeypatch.setattr(durable.os, "replace", no_rename)
    with pytest.raises(OSError, match="Read-only"):
        write_json(p, {"x": 3})  # the temp is complete, the rename fails
    assert json.loads(p.read_text()) == {"x": 1} and os.listdir(tmp_path) == ["a.json"]


def test_exchange_swaps_two_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "1").write_text("a")
    (tmp_path / "b" / "2").write_text("b")
    if not durable.exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here: checkpoints use two renames")
    assert os.listdir(tmp_path / "a") == ["2"] and os.listdir(tmp_path / "b") == ["1"]


def test_clean_stale_removes_only_temp_names(tmp_path):
    (tmp_path / ".last.tmp-12").mkdir()
    (tmp_path / ".eval.json.tmp-12").write_text("{")
    (tmp_path / ".prev.old-12").mkdir()
    (tmp_path / "last").mkdir()
    (tmp_path / ".hidden").write_text("a user's")
    removed = durable.clean_stale(tmp_path)
    assert sorted(p.name for p in removed) == [".eval.json.tmp-12", ".last.tmp-12", ".prev.old-12"]
    assert sorted(os.listdir(tmp_path)) == [".hidden", "last"]


def test_a_download_that_fails_its_checksum_leaves_nothing(tmp_path, monkeypatch):
    """Dataset downloads go through the same helper: a corrupt file never lands under its name, no temp remains."""
    import urllib.request

    from rnnkit.data.sources import DataError, download

    monkeypatch.setattr(urllib.request, "urlretrieve", lambda url, dest: open(dest, "w").write("<html>captive portal"))
    with pytest.raises(DataError):
        download("tiny-shakespeare", tmp_path)
    assert os.listdir(tmp_path / "tiny-shakespeare") == []
