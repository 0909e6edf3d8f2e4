"""Training: recipes, the paper's SGD schedule, distribution, resumable run directories."""

from kvgg.train.config import (
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    ScheduleConfig,
    TrainRecipe,
    load_train_recipe,
)
from kvgg.train.distribute import Replication, replicate
from kvgg.train.fit import FitResult, TrainingDiverged, fit
from kvgg.train.initial_weights import init_from, warm_start
from kvgg.train.plot import plot_run
from kvgg.train.run_dir import RunDirectory, read_history
from kvgg.train.schedule import PlateauSchedule, PlateauState

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
    "TrainRecipe",
    "TrainingDiverged",
    "fit",
    "init_from",
    "load_train_recipe",
    "plot_run",
    "read_history",
    "replicate",
    "warm_start",
]
