"""Reading a stranger's CSV: several time columns, --date-format, day/month order never guessed, the season a
frequency implies, every repair printed with counts, non-finite values refused. Files: docs/examples/forecast."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.data import timeseries as tsd
from rnnkit.data.sources import DataError
from rnnkit.data.timeparse import default_windows, season_for

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "forecast"
runner = CliRunner()


def test_time_from_year_month_day_hour_columns_with_leading_missing_values():
    """The UCI Beijing PM2.5 layout: No, year, month, day, hour, pm2.5 (NA for the first hours), covariates."""
    s = tsd.read_csv(
        EXAMPLES / "hourly-pm25.csv",
        time_col="year,month,day,hour",
        targets=["pm2.5"],
        past_covariates=["DEWP", "TEMP"],
        fill="interpolate",
    )
    assert s.freq == "h" and len(s) == 69 and str(s.time[0]) == "2010-01-01 03:00:00"
    assert str(s.time[-1]) == "2010-01-03 23:00:00"
    assert s.notes == [
        "time from columns year, month, day, hour",
        "trimmed 3 leading and 0 trailing rows with missing values (rows 3..71 kept: 2010-01-01 03:00:00 to "
        "2010-01-03 23:00:00, 69 rows)",
        "column 'pm2.5': filled 1 missing values by interpolate",
    ]
    detected = tsd.read_csv(EXAMPLES / "hourly-pm25.csv", time_col="", targets=["pm2.5"], fill="ffill")
    assert detected.time.equals(s.time)
    assert detected.notes[0] == "time from columns year, month, day, hour (detected; --time-col to choose)"
    with pytest.raises(DataError, match=r"column 'year,month,day,hour' row 5: cannot parse '2010 1 x 5'"):
        tsd.read_csv(
            io.StringIO(
                "year,month,day,hour,y\n" + "".join(f"2010,1,{'x' if h == 5 else 1},{h},{h}\n" for h in range(8))
            ),
            time_col="year,month,day,hour",
            targets="y",
        )


def test_date_format_reads_what_would_be_ambiguous():
    s = tsd.read_csv(EXAMPLES / "ambiguous.csv", time_col="month", targets="units", date_format="%d-%m-%y")
    assert s.freq == "MS" and s.time[1] == pd.Timestamp("2021-02-01") and len(s) == 12
    s = tsd.read_csv(EXAMPLES / "ambiguous.csv", time_col="month", targets="units", date_format="%m-%d-%y")
    assert s.freq == "D" and s.time[1] == pd.Timestamp("2021-01-02")


def test_ambiguous_day_month_order_is_refused_without_advising_sort():
    with pytest.raises(DataError) as e:
        tsd.read_csv(EXAMPLES / "ambiguous.csv", time_col="month", targets="units")
    msg = str(e.value)
    assert "dates like '01-01-21' are ambiguous" in msg and "the reader will not guess" in msg
    assert "--date-format '%d-%m-%y' or --date-format '%m-%d-%y'" in msg and "sort" not in msg
    r = runner.invoke(app, ["forecast", "train", "--data", str(EXAMPLES / "ambiguous.csv"), "--out", "never-written"])
    assert r.exit_code == 1 and "are ambiguous" in r.output and "sort" not in r.output


def test_day_first_dates_read_when_the_data_settle_the_order():
    s = tsd.read_csv(EXAMPLES / "daily-dayfirst.csv", time_col="Date", targets="Temp")
    assert s.freq == "D" and s.time[12] == pd.Timestamp("1981-01-13") and s.time[-1] == pd.Timestamp("1981-02-09")
    assert s.notes == ["dates read as day-month-year (%d/%m/%Y): row 12 holds '13/01/1981', which fits no other order"]


def test_unsorted_message_asks_about_the_date_format_first():
    bad = "t,y\n2020-01-01,1\n2020-01-03,3\n2020-01-02,2\n"
    with pytest.raises(
        DataError,
        match=r"If those dates are read wrongly, give their format .*--date-format.*"
        r"only if the file really is out of time order",
    ):
        tsd.read_csv(io.StringIO(bad), time_col="t", targets="y")


@pytest.mark.parametrize(
    ("freq", "season", "windows"),
    [
        ("h", 24, (24, 96)),
        ("D", 7, (7, 56)),
        ("B", 5, (5, 40)),
        ("W-SUN", 52, (13, 104)),
        ("MS", 12, (12, 36)),
        ("ME", 12, (12, 36)),
        ("QS-JAN", 4, (8, 16)),
        ("QE-DEC", 4, (8, 16)),
        ("YS-JAN", 1, (4, 12)),
        ("2h", 12, (6, 24)),
        ("rows", 1, (6, 24)),
    ],
)
def test_season_and_default_windows_from_the_frequency(freq, season, windows):
    assert season_for(freq)[0] == season
    assert default_windows(freq) == windows


def test_hourly_csv_gets_a_daily_season_in_the_task(tmp_path):
    """Hourly data used to get season 1 (0 in the config): seasonal naive printed the naive numbers and MASE was
    scaled by the naive error. Now the season is 24, said in the notes, and seasonal naive repeats yesterday."""
    from rnnkit.config import TrainConfig
    from rnnkit.tasks.forecast.task import ForecastConfig, ForecastDataConfig, Forecaster, ForecastModelConfig

    cfg = ForecastConfig(
        data=ForecastDataConfig(
            path=str(EXAMPLES / "hourly-pm25.csv"), targets=("pm2.5",), fill="interpolate", horizon=6, input_length=12
        ),
        model=ForecastModelConfig(hidden_size=4),
        train=TrainConfig(epochs=1, quiet=True),
    )
    fc = Forecaster(cfg)
    splits = fc.load_data()
    assert fc.season == 24 and "frequency 'h': season 24 (hourly; --season to change)" in splits.notes
    fc.fit()
    bt = fc.backtest(baselines=["naive", "seasonal_naive"])
    assert bt.metrics["seasonal_naive"]["MAE"] != bt.metrics["naive"]["MAE"]
    t = bt.origins[0]
    assert (bt.forecasts["seasonal_naive"][0, :, 0] == fc.series.targets[t - 24 : t - 18, 0]).all()


def test_repairs_are_printed_with_counts_by_train(tmp_path):
    r = runner.invoke(
        app,
        [
            "forecast",
            "train",
            "--data",
            str(EXAMPLES / "hourly-pm25.csv"),
            "--target",
            "pm2.5",
            "--fill",
            "interpolate",
            "--horizon",
            "3",
            "--input-length",
            "6",
            "--epochs",
            "1",
            "--hidden",
            "4",
            "--quiet",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "trimmed 3 leading and 0 trailing rows with missing values" in r.output
    assert "column 'pm2.5': filled 1 missing values by interpolate" in r.output


@pytest.mark.parametrize("value", ["inf", "-inf", "1e30"])
def test_non_finite_or_absurd_values_are_refused_with_row_and_column(value, tmp_path):
    text = f"t,y,x\n2020-01-01,1,1\n2020-01-02,2,2\n2020-01-03,3,{value}\n2020-01-04,4,4\n"
    with pytest.raises(DataError, match=rf"column 'x' row 2 holds '{value}', which is not a usable value"):
        tsd.read_csv(io.StringIO(text), time_col="t", targets="y", past_covariates=["x"], fill="interpolate")
    p = tmp_path / "v.csv"
    p.write_text(f"t,y\n2020-01-01,1\n2020-01-02,{value}\n2020-01-03,3\n")
    r = runner.invoke(app, ["forecast", "train", "--data", str(p), "--out", str(tmp_path / "run")])
    assert r.exit_code == 1 and f"rnnkit forecast: error: {p}: column 'y' row 1 holds '{value}'" in r.output


def test_every_example_file_is_documented_and_exists():
    doc = (EXAMPLES.parents[1] / "formats-forecast.md").read_text()
    linked = set(re.findall(r"\(examples/forecast/([\w.-]+\.csv)\)", doc))
    assert linked == {p.name for p in EXAMPLES.glob("*.csv")}


def test_the_notes_shown_in_formats_forecast_md_are_what_train_prints(tmp_path, monkeypatch):
    doc = (EXAMPLES.parents[1] / "formats-forecast.md").read_text()
    block = doc.split("```\n$ rnnkit forecast train ")[1].split("```")[0].splitlines()
    monkeypatch.chdir(EXAMPLES.parents[2])  # the doc's paths are relative to the repository
    args = block[0].split()
    r = runner.invoke(
        app, ["forecast", "train", *args, "--epochs", "1", "--hidden", "4", "--quiet", "--out", str(tmp_path / "run")]
    )
    assert r.exit_code == 0, r.output
    assert block[1].split("/")[-1] in r.output  # the CLI prints the absolute path
    for line in block[2:]:
        assert line in r.output, line
