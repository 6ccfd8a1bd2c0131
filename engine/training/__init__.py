"""Training: the loop, its checkpoints, logs and DDP set-up (``foley-engine train``)."""

from engine.training.trainer import RunOptions, Trainer, TrainingError, TrainResult, stored_config, train

__all__ = ["RunOptions", "TrainResult", "Trainer", "TrainingError", "stored_config", "train"]
