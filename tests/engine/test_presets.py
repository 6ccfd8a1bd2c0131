"""The preset registry: Table 1b rows and the three size variants."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.presets import get_preset, list_presets
from engine.resources import default_model_path


def test_variants_scale_the_paper_design() -> None:
    full, compact, small = (get_preset("m5", v) for v in ("full", "compact", "small"))
    assert (full.image_size, compact.image_size, small.image_size) == (224, 112, 80)
    assert full.vision_channels == (64, 128, 256, 512)
    assert compact.vision_channels == (32, 64, 128, 256) and compact.audio_channels == (16, 32, 64, 128)
    assert small.vision_channels == (16, 32, 64, 128) and small.audio_channels == compact.audio_channels
    # only sizes change: encoder, projector and loss stay the preset's
    assert {(c.encoder, c.projector, c.loss) for c in (full, compact, small)} == {("attention", "linear", "infonce")}


def test_unknown_names_say_what_exists() -> None:
    with pytest.raises(ConfigError, match="choose from"):
        get_preset("m9")
    with pytest.raises(ConfigError, match="small"):
        get_preset("m5", "tiny")
    assert list_presets() == ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "ft"]


def test_shipped_model_is_m4_heads_on_the_pretrained_towers() -> None:
    """What the model card says the shipped model is: m4's projector and loss on both frozen towers."""
    path = default_model_path()
    if path is None:
        pytest.skip("no shipped model in this checkout")
    from dataclasses import replace

    from engine.models import AVModel

    model = AVModel.load(path)
    m4 = get_preset("m4")
    assert (model.cfg.vision_tower, model.cfg.audio_tower) == ("efficientnet-lite0", "aisfx")
    assert model.cfg == replace(m4, vision_tower="efficientnet-lite0", audio_tower="aisfx", image_size=224,
                                head_dropout=0.3, head_hidden=0, temperature=0.1)
    ranking = model.extra["ranking"]
    assert (ranking["hub_weight"], ranking["prior_weight"]) == (0.5, 1.5)
    assert model.extra["reference_frames"].shape == (1024, 128) and model.extra["reference_audio"].shape == (4096, 128)
