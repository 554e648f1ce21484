"""Shared set-up of the ONNX export tests."""

import warnings

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Export and onnxruntime at one thread (tests/conftest.py); the tracer's shape warnings are expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings about converting shapes: expected, documented
        yield
