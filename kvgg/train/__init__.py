"""Training: recipes, tasks, the paper's SGD schedule, distribution, resumable run directories."""

from kvgg.train.config import (
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    ScheduleConfig,
    TrainRecipe,
)
from kvgg.train.distribute import Replication, replicate
from kvgg.train.fit import FitResult, TrainingDiverged, build_model, fit
from kvgg.train.initial_weights import init_from, warm_start
from kvgg.train.plot import plot_run
from kvgg.train.recipes import load_train_recipe
from kvgg.train.run_dir import RunDirectory, read_history
from kvgg.train.schedule import PlateauSchedule, PlateauState
from kvgg.train.task import Task

__all__ = [
    "DataConfig",
    "FitResult",
    "ModelConfig",
    "OptimizerConfig",
    "PlateauSchedule",
    "PlateauState",
    "Replication",
    "RunConfig",
    "RunDirectory",
    "ScheduleConfig",
    "Task",
    "TrainRecipe",
    "TrainingDiverged",
    "build_model",
    "fit",
    "init_from",
    "load_train_recipe",
    "plot_run",
    "read_history",
    "replicate",
    "warm_start",
]
