"""Configuration of the forecasting task: the series and its spans, the network, training defaults.

Every field can be set from the command line as a dotted key (``--data.transform=log``); a run's config.json is
itself a valid ``--config``. Fields left at 0 / "" are resolved from the data when training starts (season,
horizon and input length from the frequency) and the resolved values are what the run saves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit.config import CheckpointConfig, ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig

# The network's choices (``rnnkit.tasks.forecast.model`` says what each does); here so that the config checks them
# without importing the network.
LIKELIHOODS = ("point", "gaussian", "quantile")
ANCHORS = ("none", "last", "seasonal")
DECODERS = ("direct", "autoregressive", "recurrent")


@dataclass(frozen=True)
class ForecastDataConfig(DataConfig):
    """The series and its spans. Span boundaries: a timestamp (inclusive end), a row count, or a fraction."""

    time_col: str = ""  # "": the dataset's, or detected in a CSV; "year,month,day,hour": assembled from several
    targets: tuple[str, ...] = ()  # (): the dataset's default target, or a CSV's only numeric column
    past_covariates: tuple[str, ...] = ()
    future_covariates: tuple[str, ...] = ()
    calendar: tuple[str, ...] = ()  # generated known-future features: month, dayofweek, hour, ...
    freq: str = ""  # "" : inferred (datasets: their own); "rows": one step per row
    fill: str = ""  # "" : missing values / gaps are errors; "ffill" | "interpolate"
    sort: bool = False
    date_format: str = ""
    input_length: int = 0  # 0: from the frequency (hourly 96, daily 56, monthly 36, ...; rnnkit.data.timeparse)
    horizon: int = 0  # 0: from the frequency (hourly 24, daily 7, weekly 13, monthly 12, quarterly 8, ...)
    # decoder='recurrent': input steps per teacher-forced training window; 0: input_length + horizon - 1
    training_length: int = 0
    scaler: str = "standard"  # standard | minmax | none, fitted on the training span
    # >0: fit the calendar features' scaling over this many steps from the series start instead (Darts'
    # examples scale their year covariate over 1000 steps); calendar values are known in advance, no leak
    calendar_span: int = 0
    transform: str = "none"  # none | log (targets must be > 0; forecasts are exp'd back)
    train_end: str = ""  # where the test span starts (training + validation before it); "": 0.8, leaving a horizon
    val_end: str = ""  # "": validation = the last val_fraction of [0, train_end) (0: none); else [train_end, val_end)
    test_end: str = ""  # "" : end of the series
    season: int = 0  # seasonal period for seasonal naive / MASE; 0: the dataset's, else from the frequency

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.input_length < 0 or self.horizon < 0:
            raise ConfigError(
                f"config data.input_length and data.horizon must be > 0 (0: from the frequency), got "
                f"{self.input_length}, {self.horizon}"
            )
        if self.training_length < 0 or 0 < self.training_length < max(self.horizon, 1):
            raise ConfigError(
                f"config data.training_length must be 0 (default) or >= horizon={self.horizon}, got "
                f"{self.training_length}"
            )
        if self.calendar_span < 0 or (self.calendar_span and not self.calendar):
            raise ConfigError(
                f"config data.calendar_span must be 0, or > 0 with calendar features, got {self.calendar_span} with "
                f"calendar={self.calendar}"
            )
        if self.scaler not in ("standard", "minmax", "none"):
            raise ConfigError(f"config data.scaler: must be 'standard', 'minmax' or 'none', got {self.scaler!r}")
        if self.transform not in ("none", "log"):
            raise ConfigError(f"config data.transform: must be 'none' or 'log', got {self.transform!r}")
        if self.fill not in ("", "ffill", "interpolate"):
            raise ConfigError(f"config data.fill: must be '', 'ffill' or 'interpolate', got {self.fill!r}")


@dataclass(frozen=True)
class ForecastModelConfig(ModelConfig):
    hidden_size: int = 64
    # direct | autoregressive | recurrent (one RNN, next-step teacher forcing, as Darts' RNNModel)
    decoder: str = "direct"
    likelihood: str = "point"  # point (MSE) | gaussian (NLL) | quantile (pinball)
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    anchor: str = "last"  # none | last (change from the last value) | seasonal (residual of seasonal naive + drift)
    relative: bool = True  # with an anchor, feed target levels relative to the last value (level-invariant)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.decoder not in DECODERS:
            raise ConfigError(f"config model.decoder: must be one of {DECODERS}, got {self.decoder!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"config model.likelihood: must be one of {LIKELIHOODS}, got {self.likelihood!r}")


@dataclass(frozen=True)
class ForecastConfig(RunConfig):
    task: str = "forecast"
    run_dir: str = ""  # "" : nothing written
    model: ForecastModelConfig = field(default_factory=ForecastModelConfig)
    data: ForecastDataConfig = field(default_factory=ForecastDataConfig)
    # at most 50 epochs, stopped after 10 evaluations without a better validation MAE; `best` is chosen by it
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=50,
            lr=3e-3,
            unit="samples",
            log_every=20,
            patience=10,
            checkpoint=CheckpointConfig(monitor="val_MAE"),
        )
    )
