"""Shared set-up of the ONNX export tests."""

import warnings

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Export and onnxruntime at one thread (stable timings under xdist); the tracer's shape warnings are expected."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings about converting shapes: expected, documented
        yield
    torch.set_num_threads(before)
