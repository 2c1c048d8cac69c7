"""What the reader can toggle: the controls, their Persian labels, the start setting and the scale of every run."""
from __future__ import annotations

import math
from collections import OrderedDict

# Each control: its Persian title and its options (value -> label). Values are what the
# training code receives; labels are what the reader sees.
CONTROLS = OrderedDict([
    ("data", ("داده", OrderedDict([("spirals", "دو مارپیچ (دوبعدی)"), ("digits", "ارقام ۸×۸")]))),
    ("norm", ("نرمال‌سازی دسته‌ای", OrderedDict([("none", "بدون"), ("before", "پیش از فعال‌سازی"),
                                                 ("after", "پس از فعال‌سازی")]))),
    ("activation", ("تابع فعال‌سازی", OrderedDict([("sigmoid", "sigmoid"), ("tanh", "tanh"),
                                                  ("relu", "ReLU")]))),
    ("schedule", ("زمان‌بندی نرخ یادگیری", OrderedDict([("constant", "ثابت"), ("step", "کاهش پله‌ای"),
                                                        ("cosine", "کسینوسی"), ("cyclical", "چرخه‌ای")]))),
    ("depth", ("عمق (لایه‌های پنهان)", OrderedDict([(2, "2"), (6, "6")]))),
    ("lr", ("نرخ یادگیری", OrderedDict([(0.1, "0.1"), (0.3, "0.3"), (1.0, "1"), (30.0, "30")]))),
])
DEFAULT_START = {"data": "spirals", "norm": "none", "activation": "relu", "schedule": "constant",
                 "depth": 6, "lr": 0.3}
# The scale of every run: tiny, so the whole grid trains in seconds on one CPU thread.
TRAIN_CONFIG = {"hidden": 32, "steps": 150, "batch_size": 32, "eval_every": 10, "momentum": 0.0}
NUM_CLASSES = {"spirals": 2, "digits": 10}
DIVERGED = "واگرا شد"
CHANCE = "در حد حدس تصادفی"


def fmt_value(value) -> str:
    """A control value as it appears in keys and radio values ("0.3", "6", "relu")."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def option_label(name: str, value) -> str:
    """The Persian label of one option (a value not in ``CONTROLS``, e.g. lr 0.05, shows as itself)."""
    return CONTROLS[name][1].get(value, fmt_value(value))


def setting_key(setting: dict, controls=None) -> str:
    """The key of a setting: its values in control order joined by "/" (e.g. "digits/none/relu/constant/6/0.3")."""
    names = list(CONTROLS) if controls is None else list(controls)
    return "/".join(fmt_value(setting[name]) for name in names)


def describe(setting: dict, controls=None) -> str:
    """The setting in Persian, «عنوان: گزینه» joined by «، » (controls default: all of them)."""
    names = list(CONTROLS) if controls is None else list(controls)
    return "، ".join(f"{CONTROLS[name][0]}: {option_label(name, setting[name])}" for name in names)


def check_setting(setting: dict) -> dict:
    """Validate one setting (a value for every control) and return it with lr as a float."""
    if not isinstance(setting, dict):
        raise TypeError(f"setting must be a dict, got {type(setting).__name__}")
    unknown = set(setting) - set(CONTROLS)
    if unknown:
        raise ValueError(f"unknown controls {sorted(unknown)}; known: {list(CONTROLS)}")
    missing = set(CONTROLS) - set(setting)
    if missing:
        raise ValueError(f"setting lacks {sorted(missing)}")
    for name, value in setting.items():
        if name in ("data", "norm", "activation", "schedule") and value not in CONTROLS[name][1]:
            raise ValueError(f"{name} must be one of {list(CONTROLS[name][1])}, got {value!r}")
    depth, lr = setting["depth"], setting["lr"]
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    return {**setting, "lr": float(lr)}


def check_config(config: dict) -> dict:
    """``TRAIN_CONFIG`` with ``config``'s overrides; an unknown option is an error."""
    unknown = set(config) - set(TRAIN_CONFIG)
    if unknown:
        raise ValueError(f"unknown training options {sorted(unknown)}; known: {list(TRAIN_CONFIG)}")
    return {**TRAIN_CONFIG, **config}
