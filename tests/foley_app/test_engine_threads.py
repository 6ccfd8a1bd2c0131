"""The app's CPU inference runs on one torch thread (batch-1 frames beside the video pass on 2 cores)."""

from __future__ import annotations

from pathlib import Path

import torch

from foley_app.controllers.engine import INFERENCE_THREADS, load_engine


def test_load_engine_on_cpu_uses_one_inference_thread(gui_model_file: Path, gui_index: Path, tmp_path: Path) -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        engine = load_engine(gui_model_file, gui_index, tmp_path, device="cpu")
        assert INFERENCE_THREADS == 1
        assert torch.get_num_threads() == 1
        assert engine.info.device == "cpu" and engine.info.n_files > 0
        engine.index.close()
    finally:
        torch.set_num_threads(before)
