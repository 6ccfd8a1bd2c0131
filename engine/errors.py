"""Engine exceptions: each says what went wrong and what to do about it."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class MediaError(EngineError):
    """A media file could not be read or has no usable stream."""


class DatasetError(EngineError):
    """A feature cache is missing, empty or inconsistent."""


class CheckpointError(EngineError):
    """A model file is missing, not ours, or incompatible."""


class SoundIndexError(EngineError):
    """A sound index is missing, locked, or bound to another model."""


class ConfigError(EngineError):
    """A configuration value or preset name is invalid."""
