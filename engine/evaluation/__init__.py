"""Evaluation: correlation accuracy, top-k recommendation accuracy and Table-1 style reports."""

from engine.evaluation.evaluate import evaluate, write_eval
from engine.evaluation.report import compare, load_eval, render

__all__ = ["compare", "evaluate", "load_eval", "render", "write_eval"]
