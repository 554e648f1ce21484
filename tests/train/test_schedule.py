"""Learning-rate schedules: values at known steps, plateau and NT-ASGD triggers, JSON state round trip."""

from __future__ import annotations

import json
import math

import pytest

from rnnkit.config import ScheduleConfig
from rnnkit.train.schedule import Schedule


def test_constant_and_warmup():
    s = Schedule(ScheduleConfig(name="constant", warmup_steps=4))
    assert [s.factor(i) for i in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_step():
    s = Schedule(ScheduleConfig(name="step", step_size=3, gamma=0.1))
    assert [s.factor(i) for i in (0, 2, 3, 6)] == pytest.approx([1.0, 1.0, 0.1, 0.01], rel=1e-12)


def test_cosine_with_warmup():
    s = Schedule(ScheduleConfig(name="cosine", warmup_steps=10, min_lr_ratio=0.1), total_steps=110)
    assert s.factor(4) == pytest.approx(0.5)  # warm-up: (4 + 1) / 10
    assert s.factor(10) == pytest.approx(1.0)
    assert s.factor(60) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))  # half way
    assert s.factor(110) == pytest.approx(0.1) and s.factor(500) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="schedule 'cosine' needs the run length: set train.max_steps"):
        Schedule(ScheduleConfig(name="cosine"))


def test_plateau():
    s = Schedule(ScheduleConfig(name="plateau", patience=1, factor=0.5))
    for v in (3.0, 2.0, 2.0):  # improve, improve, 1 bad (= patience, no cut yet)
        s.observe(v)
    assert s.factor(0) == 1.0
    s.observe(2.5)  # 2 bad > patience -> cut
    assert s.factor(0) == 0.5
    s2 = Schedule(ScheduleConfig(name="plateau", patience=1, factor=0.5))
    s2.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert s2.factor(0) == 0.5 and s2.best == 2.0


def test_ntasgd_trigger():
    s = Schedule(ScheduleConfig(name="ntasgd", nonmono=2))
    for v in (5.0, 4.0, 3.0, 3.5):  # 3.5 is not worse than min of all but the last 2 (5.0, 4.0)
        s.observe(v)
        assert not s.switch_now
    s.observe(4.5)  # worse than min of all but the last 2 = min(5, 4) -> switch (Merity et al. 2017, Algorithm 1)
    assert s.switch_now and s.switched
    s.switch_now = False
    s.observe(9.0)
    assert not s.switch_now  # switches once
