"""The claims registry: every experimental claim the book's prose makes, as code.

Each :class:`Claim` has a name, the chapter that makes it, the sentence it stands for, a
function of the seed that returns its figures of merit (by calling the chapter's own
``helpers.experiments`` function with EXACTLY the arguments the chapter's notebook passes),
and a predicate that says whether the claim held for those figures.

Why exactly the book's settings: the prose must not claim more than this table shows, so the
table has to measure what the prose measured. For seed 0 the figures therefore equal the
numbers the book glues (``BOOK_KEYS`` names them; ``book_mismatches`` checks them against a
built book). Seeds 1 and 2 rerun the same experiment with another seed: another data split
for the digits chapters (``load_digits(seed=...)``, the functions' own default), other initial
weights and other mini-batches everywhere.

A few experiments are called with fewer *independent* runs than the notebook makes (one batch
size or variant fewer); each run seeds itself, so every number kept is bit-for-bit the book's,
and the cost drops. Those places say so in a comment.

Runs are shared between claims through a per-(experiment, seed) memo (:func:`experiment`), so
a claims table over three seeds runs each experiment three times, however many claims read it.

Use::

    from benchmarks.claims import CLAIMS, evaluate
    rows = evaluate(seeds=(0, 1, 2))       # [{"claim", "chapter", "figures": {seed: {...}}, "held": {seed: bool}}]

or ``python -m benchmarks.claims [--seeds 0 1 2]`` for a Markdown table.
"""
from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import inspect
import json
import math
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from helpers.experiments import ch2_bn_sigmoid_relu as ch2
from helpers.experiments import ch1_batchnorm as ch1
from helpers.experiments import ch3_lr_decay as ch3
from helpers.experiments import ch5_resnet as ch5
from helpers.experiments import ch4_vanishing_gradients as ch4
from helpers import verdicts
from helpers.seeding import book_numerics
from helpers.notebook import glue_key

SEEDS = (0, 1, 2)
CHANCE_ACC = 0.2          # 10 classes: "learnt nothing" = at most twice the 10 % of a guess
TRAINS_ACC = 0.9          # "it trains": at least 90 % accuracy
NEAR_ONE = (0.1, 10.0)    # a first/last gradient ratio "about 1" (no vanishing, no explosion)
BN_X10_ACC = 0.85         # chapter 1: BN at x10 the initial scale "trains", if less well than at x1
FLOAT32_TINY = torch.finfo(torch.float32).tiny


# --------------------------------------------------------------------------- the experiments
# Each entry: seed -> the experiment's result dict, with the chapter notebook's own arguments.
# device="cpu": the claims are about the numbers the book shows, which it computes on the CPU
# (the CUDA path is checked separately in tests/test_cuda.py).

def _ch1_steps(seed):
    return ch1.run("steps_to_target", seed=seed, device="cpu")


def _ch1_lr(seed):
    return ch1.run("lr_sweep", seed=seed, device="cpu")


def _ch1_init(seed):
    return ch1.run("init_scale_sweep", seed=seed, device="cpu")


def _ch1_deep(seed):
    return ch1.run("deep_network", seed=seed, device="cpu")


def _ch1_small(seed):
    return ch1.run("small_batch", seed=seed, device="cpu")


def _ch1_primer(seed):
    return ch1.run("init_primer", seed=seed)


def _ch1_standardize(seed):
    return ch1.run("standardize_demo", seed=seed)


def _ch1_conditioning(seed):
    return ch1.run("conditioning_demo", seed=seed)


def _ch1_gap(seed):
    return ch1.run("generalization_gap", seed=seed, device="cpu")


def _ch2_cmp(seed):
    return ch2.run("activation_comparison", seed=seed, device="cpu")


def _ch2_dead(seed):
    return ch2.run("dead_relu", seed=seed, device="cpu")


def _ch2_position(seed):
    # the notebook runs seeds 0, 1, 2 (seed_offsets 0, 1, 2) in one call; each seed draws its own data split,
    # weights and batches, so this one-seed run is the notebook's row for seed, bit for bit
    return ch2.run("bn_position", seed=seed, subset={"seed_offsets": (0,)}, device="cpu")


def _ch2_sigmoid(seed):
    return ch2.run("sigmoid_bn_outputs", seed=seed, device="cpu")


def _ch3_sweep(seed):
    return ch3.run("lr_sweep", seed=seed, device="cpu")


def _ch3_schedules(seed):
    # the notebook trains seeds 0, 1, 2 together (seed_offsets 0, 1, 2); a seed's numbers are bit for bit
    # those of this one-seed run (tests/test_experiments_ch3.py checks it): {regime: the seed's result}
    by_regime = ch3.run("compare_schedules", seed=seed, subset={"seed_offsets": (0,)}, device="cpu")
    return {regime: results[seed] for regime, results in by_regime.items()}


def _ch4_layers(seed):
    return ch4.run("layer_gradients", seed=seed, device="cpu")


def _ch4_relu_zero(seed):
    return ch4.run("relu_zero_gradients", seed=seed, device="cpu")


def _ch4_relu_init(seed):
    return ch4.run("relu_init_training", seed=seed, device="cpu")


def _ch4_cnn(seed):
    return ch4.run("cnn_gradients", seed=seed, device="cpu")


def _ch4_spectral(seed):
    return ch4.run("spectral_radius_demo", seed=seed, device="cpu")


def _ch4_rnn(seed):
    # the notebook also measures T = 10 .. 300 (and IndRNN with u ~ U(0, 1)); each (cell, T) seeds itself,
    # so these T = 1000 numbers are the notebook's
    return ch4.run("rnn_gradient_vs_length", seed=seed, device="cpu",
                   subset={"lengths": (1000,), "cells": ("tanh", "relu", "irnn", "indrnn", "lstm", "lstm_chrono")})


def _ch4_adding(seed):
    return ch4.run("adding_problem", seed=seed, device="cpu")


def _ch5_degradation(seed):
    # the book's runs, analyses included (gradient ratios, block responses, lesion test)
    return ch5.run("degradation", seed=seed, device="cpu")


EXPERIMENTS: dict[str, Callable[[int], dict]] = {
    "ch1_steps_to_target": _ch1_steps,
    "ch1_lr_sweep": _ch1_lr,
    "ch1_init_scale": _ch1_init,
    "ch1_deep_network": _ch1_deep,
    "ch1_small_batch": _ch1_small,
    "ch1_init_primer": _ch1_primer,
    "ch1_standardize": _ch1_standardize,
    "ch1_conditioning": _ch1_conditioning,
    "ch1_gap": _ch1_gap,
    "ch2_activation_comparison": _ch2_cmp,
    "ch2_dead_relu": _ch2_dead,
    "ch2_bn_position": _ch2_position,
    "ch2_sigmoid_outputs": _ch2_sigmoid,
    "ch3_lr_sweep": _ch3_sweep,
    "ch3_schedules": _ch3_schedules,
    "ch4_layer_gradients": _ch4_layers,
    "ch4_relu_zero": _ch4_relu_zero,
    "ch4_relu_init": _ch4_relu_init,
    "ch4_cnn_gradients": _ch4_cnn,
    "ch4_spectral": _ch4_spectral,
    "ch4_rnn_gradients": _ch4_rnn,
    "ch4_adding_problem": _ch4_adding,
    "ch5_degradation": _ch5_degradation,
}

_TIMES: dict[tuple[str, int], tuple[float, float]] = {}


@functools.lru_cache(maxsize=None)
def experiment(name: str, seed: int) -> dict:
    """The result of experiment ``name`` for ``seed``, computed once per process (one torch thread)."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        with book_numerics():  # the floating-point mode of the notebooks (helpers.use_book_numerics)
            return EXPERIMENTS[name](seed)
    finally:
        _TIMES[(name, seed)] = (time.perf_counter() - wall, time.process_time() - cpu)


def experiment_times() -> dict[tuple[str, int], tuple[float, float]]:
    """(wall seconds, CPU seconds) of every experiment run so far in this process."""
    return dict(_TIMES)


# --------------------------------------------------------------------------- the claims
@dataclass(frozen=True)
class Claim:
    name: str
    chapter: int
    statement: str                       # what the prose says, in one English sentence
    measure: Callable[[int], dict]       # seed -> {figure name: number or None}
    holds: Callable[[dict], bool]        # figures -> did the claim hold?
    criterion: str                       # the predicate, in words
    book_keys: dict = field(default_factory=dict)  # figure name -> glue key of the same number (seed 0)
    show: tuple = ()                     # the figures the table shows (default: every figure measured)

    def run(self, seed: int) -> tuple[dict, bool]:
        figures = self.measure(seed)
        return figures, bool(self.holds(figures))


def _acc(value):
    """An accuracy, or 0.0 for a diverged run (None): a diverged run did not train."""
    return 0.0 if value is None else value


def _lt(a, b):
    return a is not None and b is not None and a < b


# chapter 1 ----------------------------------------------------------------
def _m_steps(seed):
    r = experiment("ch1_steps_to_target", seed)
    return {"steps_without_bn": r["none"]["steps"], "steps_with_bn": r["batch"]["steps"], "ratio": r["ratio"],
            "ratio_is_lower_bound": r["ratio_is_lower_bound"]}


def _m_lr(seed):
    r = experiment("ch1_lr_sweep", seed)
    top = len(r["lrs"]) - 1
    return {"max_lr_without_bn": ch1.highest_trainable_lr(r, "none"),
            "max_lr_with_bn": ch1.highest_trainable_lr(r, "batch"),
            "bn_test_acc_at_lr_10": r["batch"][top]["test_acc"]}


def _m_init(seed):
    r = experiment("ch1_init_scale", seed)
    out = {}
    for i, tag in enumerate(("x0.1", "x1", "x10")):
        for norm, label in (("none", "without_bn"), ("batch", "with_bn")):
            out[f"test_acc_{label}_{tag}"] = r[norm][i]["test_acc"]  # None = diverged
    return out


def _m_deep(seed):
    r = experiment("ch1_deep_network", seed)
    return {"train_acc_without_bn": r["none"]["train_acc"], "train_acc_with_bn": r["batch"]["train_acc"],
            "grad_ratio_without_bn": r["none"]["grad_ratio_init"], "grad_ratio_with_bn": r["batch"]["grad_ratio_init"]}


def _m_small(seed):
    r = experiment("ch1_small_batch", seed)
    out = {f"{norm}_bs2": r[norm][2]["test_acc"] for norm in r["norms"]}
    out["others_bs2"] = min(out["layer_bs2"], out["group_bs2"], out["none_bs2"])
    out["batch_bs2_train_mode"] = r["batch"][2]["test_acc_train_mode"]
    out["batch_bs4"] = r["batch"][4]["test_acc"]
    out["batch_bs4_train_mode"] = r["batch"][4]["test_acc_train_mode"]
    out["spread_bs32"] = (max(r[n][32]["test_acc"] for n in r["norms"])
                          - min(r[n][32]["test_acc"] for n in r["norms"]))
    return out


def _m_primer(seed):
    return dict(experiment("ch1_init_primer", seed)["ratio"])


def _m_standardize(seed):
    r = experiment("ch1_standardize", seed)
    return {k: r[k] for k in ("pixel", "raw_skew", "z_skew", "z_mean", "z_std", "z_min", "z_max",
                              "mode_fraction_raw", "mode_fraction_z")}


def _m_conditioning(seed):
    r = experiment("ch1_conditioning", seed)
    return {f"{case}_{k}": r[case][k] for case in ("uncorrelated_raw", "uncorrelated_standardized", "correlated_raw",
                                                   "correlated_standardized") for k in ("kappa", "steps")}


def _m_gap(seed):
    r = experiment("ch1_gap", seed)
    out = {f"{k}_{norm}": r[norm][k] for norm in ("none", "batch") for k in ("train_acc", "test_acc")}
    out["test_acc_diff"] = None if None in (r["none"]["test_acc"], r["batch"]["test_acc"]) else \
        abs(r["batch"]["test_acc"] - r["none"]["test_acc"])
    return out


def _m_test_time(seed):
    t = experiment("ch1_gap", seed)["batch"].get("test_time")
    if t is None:
        return {"diverged": True}
    out = {f"{name}_test_acc": t[name]["test_acc"] for name in ("ema", "all_training", "final_weights")}
    for name in ("ema", "all_training"):  # the layers after the first: their inputs depend on earlier weights
        deeper = t[name]["mean_dist"][1:]
        out[f"{name}_mean_dist_deeper"] = sum(deeper) / len(deeper)
    return out


# chapter 2 ----------------------------------------------------------------
def _m_cmp(seed):
    runs = experiment("ch2_activation_comparison", seed)["runs"]
    out = {f"{name}_train_acc": runs[name]["train_acc"] for name in runs}
    for act in ("sigmoid", "tanh", "relu"):
        out[f"{act}_batch_train_loss"] = runs[f"{act}_batch"]["train_loss"]
        out[f"{act}_batch_test_acc"] = runs[f"{act}_batch"]["test_acc"]
    for name in runs:  # first / last hidden layer's gradient norm at initialisation
        out[f"{name}_grad_ratio"] = runs[name]["grad_ratio_init"]
    return out


def _m_pos(seed):
    r = experiment("ch2_bn_position", seed)
    return {f"{act}_{p}_{key}": r[act][p][0][key] for act in r["activations"] for p in r["positions"]
            for key in ("train_loss", "test_acc")}


def _m_sig(seed):
    r = experiment("ch2_sigmoid_outputs", seed)
    return {"init_outside": r["init"]["outside"], "trained_outside": r["trained"]["outside"],
            "relu_init_max": r["relu_init"]["max"]}


def _m_dead(seed):
    r = experiment("ch2_dead_relu", seed)
    out = {}
    for name in r["variants"]:
        for row in r[name]:
            out[f"dead_{name}_lr{row['lr']:g}"] = row["dead_mean"]  # None = diverged
    return out


# chapter 3 ----------------------------------------------------------------
def _m_sweep(seed):
    r = experiment("ch3_lr_sweep", seed)
    runs = r["runs"]
    return {"best_lr": r["best_lr"], "smallest_lr_loss": runs[0]["final_loss"], "best_loss": r["best_loss"],
            "largest_lr_at_chance_or_nan": float(runs[-1]["diverged"] or runs[-1]["at_chance"]),
            "lr_min": r["lrs"][0], "lr_max": r["lrs"][-1]}


def _m_noisy(seed):
    r = experiment("ch3_schedules", seed)["noisy"]
    return {f"{n}_loss": r[n]["final_train_loss"] for n in r["names"]} | {
        f"{n}_acc": r[n]["final_test_acc"] for n in ("cosine", "constant", "cyclical", "linear")}


BENIGN_UNDER = ("exponential", "inverse_time")


def _m_benign(seed):
    r = experiment("ch3_schedules", seed)["benign"]
    return {f"{n}_loss": r[n]["final_train_loss"] for n in r["names"]}


def _m_warmup(seed):
    out = {}
    for setting in ("noisy", "benign"):
        r = experiment("ch3_schedules", seed)[setting]
        for n in ("cosine", "warmup_cosine"):
            out[f"{setting}_{n}_loss"] = r[n]["final_train_loss"]
        out[f"{setting}_ratio"] = r["warmup_cosine"]["final_train_loss"] / r["cosine"]["final_train_loss"]
    return out


# chapter 3's glue keys, as the chapter glues them: _ch3_cmp("noisy", "cosine", "loss") = "ch3_noisy_cosine_loss"
_ch3_sw = functools.partial(glue_key, ch3.GLUE_PREFIX["lr_sweep"])
_ch3_cmp = functools.partial(glue_key, ch3.GLUE_PREFIX["compare_schedules"])


# chapter 4 ----------------------------------------------------------------
# chapter 4's glue keys: glue_key(ch4.GLUE_PREFIX[experiment], ...), as the chapter glues them
_ch4_glue_lg, _ch4_glue_rz, _ch4_glue_rt, _ch4_glue_cnn, _ch4_glue_sr, _ch4_glue_rg, _ch4_glue_add = (
    functools.partial(glue_key, ch4.GLUE_PREFIX[name]) for name in (
        "layer_gradients", "relu_zero_gradients", "relu_init_training", "cnn_gradients", "spectral_radius_demo",
        "rnn_gradient_vs_length", "adding_problem"))

def _m_layers(seed):
    r = experiment("ch4_layer_gradients", seed)
    return {f"{name}": r[name]["ratio"] for name in r["names"]}


def _m_relu_factor(seed):
    r = experiment("ch4_layer_gradients", seed)["relu_default"]
    depth = len(r["act_norms"])
    return {"backward_factor": r["act_ratio"] ** (1 / (depth - 1)), "weight_factor": r["ratio"] ** (1 / (depth - 1))}


def _m_relu_zero(seed):
    r = experiment("ch4_relu_zero", seed)
    return {"mean_zero_derivative": r["mean_zero_derivative"], "max_dead_units": max(r["dead_units"])}


def _m_relu_init(seed):
    r = experiment("ch4_relu_init", seed)
    return {"default_train_acc": r["default_x1"]["train_acc"], "he_train_acc": r["kaiming_x1"]["train_acc"],
            "he_x2_diverged": r["kaiming_x2"]["diverged"], "he_x2_diverged_at": r["kaiming_x2"]["diverged_at"]}


def _m_cnn(seed):
    r = experiment("ch4_cnn_gradients", seed)
    return {f"{name}_ratio": r[name]["ratio"] for name in r["names"]}


def _m_spectral(seed):
    r = experiment("ch4_spectral", seed)
    k = r["config"]["steps"]
    return {f"{name}_end": r[name]["norms"][k] for name in r["names"]}


def _m_rnn(seed):
    r = experiment("ch4_rnn_gradients", seed)
    return {f"{kind}_T1000": r[kind][0] for kind in r["cells"]}


def _m_adding(seed):
    r = experiment("ch4_adding_problem", seed)
    return {"tanh_mse": r["tanh"]["final"], "indrnn_mse": r["indrnn"]["final"], "baseline": r["baseline"],
            "test_baseline": r["test_baseline"]}


# chapter 5 ----------------------------------------------------------------
# the figures are the chapter's own (ch5.degradation_figures), glued under ch5.GLUE_PREFIX["degradation"]
def _ch5_book_keys(*names):
    return {n: glue_key(ch5.GLUE_PREFIX["degradation"], n) for n in names}


def _m_deg(seed):
    figures = ch5.degradation_figures(experiment("ch5_degradation", seed))
    return {k: v for k, v in figures.items() if k.endswith("_train_err")}


def _m_deg_analysis(seed):
    figures = ch5.degradation_figures(experiment("ch5_degradation", seed))
    return {k: figures.get(k) for k in (
        "plain6_train_err", "res6_train_err", "plain30_train_err", "res30_train_err", "plain6_grad_ratio",
        "plain30_grad_ratio", "res30_resp_first", "res30_resp_rest_max", "res30_resp_min", "res030_resp_min",
        "res30_resp_mean", "res6_resp_mean", "plain30_lesion_min", "res30_lesion_median", "res30_lesion_first",
        "res30_lesion_rest_max", "res030_lesion_max")}


def _between(value, lo_hi):
    return value is not None and lo_hi[0] <= value <= lo_hi[1]


# chapter 1's glue keys: helpers.notebook.glue_key(ch1.GLUE_PREFIX[experiment], ...), as the chapter glues them
_st, _lr, _init, _deep, _sb, _primer, _std, _cond, _gap = (
    functools.partial(glue_key, ch1.GLUE_PREFIX[name]) for name in (
        "steps_to_target", "lr_sweep", "init_scale_sweep", "deep_network", "small_batch", "init_primer",
        "standardize_demo", "conditioning_demo", "generalization_gap"))

CLAIMS: list[Claim] = [
    # ---- chapter 1: batch normalization
    Claim("bn_fewer_steps", 1,
          "With BN the sigmoid MLP reaches 95 % train accuracy in several times fewer steps (paper: 14x on ImageNet).",
          _m_steps, lambda f: f["ratio"] is not None and f["ratio"] >= 2,
          "steps without BN / steps with BN >= 2",
          {"steps_without_bn": _st("none", "steps"), "steps_with_bn": _st("batch", "steps"), "ratio": _st("ratio")}),
    Claim("bn_higher_lr", 1,
          "The highest learning rate that still gives >= 90 % test accuracy is larger with BN; BN fails at lr 10 too.",
          _m_lr, lambda f: (f["max_lr_with_bn"] or 0) > (f["max_lr_without_bn"] or 0)
          and _acc(f["bn_test_acc_at_lr_10"]) < TRAINS_ACC,
          "max lr with BN > max lr without BN (None = 0), and BN's test accuracy at lr 10 < 0.9",
          {"max_lr_without_bn": _lr("max", "none"), "max_lr_with_bn": _lr("max", "bn"),
           "bn_test_acc_at_lr_10": _lr("top_bn")}),
    Claim("bn_init_scale", 1,
          "Without BN only the default initial scale trains (x0.1 learns nothing, x10 is unstable); with BN all three "
          "train (x0.1 and x1 to >= 90 %, x10 to >= 85 %), x10 below x1: less sensitive, not insensitive.",
          _m_init, lambda f: _acc(f["test_acc_without_bn_x0.1"]) <= CHANCE_ACC
          and _acc(f["test_acc_without_bn_x10"]) < TRAINS_ACC and _acc(f["test_acc_without_bn_x1"]) >= TRAINS_ACC
          and all(_acc(f[f"test_acc_with_bn_{t}"]) >= TRAINS_ACC for t in ("x0.1", "x1"))
          and BN_X10_ACC <= _acc(f["test_acc_with_bn_x10"]) < _acc(f["test_acc_with_bn_x1"]),
          "no BN: x0.1 <= 0.2, x10 < 0.9, x1 >= 0.9; BN: x0.1, x1 >= 0.9, 0.85 <= x10 < x1 "
          "(test accuracy; diverged = 0)",
          {"test_acc_without_bn_x0.1": _init("none", "small"), "test_acc_without_bn_x1": _init("none", "one"),
           "test_acc_without_bn_x10": _init("none", "big"), "test_acc_with_bn_x0.1": _init("batch", "small"),
           "test_acc_with_bn_x1": _init("batch", "one"), "test_acc_with_bn_x10": _init("batch", "big")}),
    Claim("bn_deep_sigmoid", 1,
          "A 10-layer sigmoid MLP stays at chance without BN (first/last gradient ratio tiny) and trains with BN (ratio ~1).",
          _m_deep, lambda f: _acc(f["train_acc_without_bn"]) <= CHANCE_ACC and _acc(f["train_acc_with_bn"]) >= TRAINS_ACC
          and _lt(f["grad_ratio_without_bn"], 1e-3) and _between(f["grad_ratio_with_bn"], NEAR_ONE),
          "train acc: no BN <= 0.2, BN >= 0.9; grad ratio: no BN < 1e-3, BN in [0.1, 10]",
          {"train_acc_without_bn": _deep("none", "train"), "train_acc_with_bn": _deep("batch", "train"),
           "grad_ratio_without_bn": _deep("none", "ratio"), "grad_ratio_with_bn": _deep("batch", "ratio")}),
    Claim("bn_small_batch", 1,
          "At batch size 2 BN's test accuracy drops below LayerNorm's, GroupNorm's and no normalisation's; "
          "Batch Renorm lies between; at batch 32 all are close (compared with that drop).",
          _m_small, lambda f: f["batch_bs2"] < f["batch_renorm_bs2"] < f["others_bs2"]
          and f["spread_bs32"] < (f["others_bs2"] - f["batch_bs2"]) / 2,
          "bs 2: BN < Batch Renorm < min(LN, GN, none) =: others; bs 32: (max - min over the five) "
          "< half of BN's drop (others - BN) at bs 2",
          {**{f"{norm}_bs2": _sb(norm, "2") for norm in ("batch", "layer", "group", "none", "batch_renorm")},
           "others_bs2": _sb("others_small"), "spread_bs32": _sb("spread_big")},
          ("batch_bs2", "batch_renorm_bs2", "layer_bs2", "group_bs2", "none_bs2", "spread_bs32")),
    Claim("bn_eval_in_train_mode", 1,
          "Evaluating a BN model in training mode with small test batches is worse than evaluating it properly.",
          _m_small, lambda f: f["batch_bs2_train_mode"] < f["batch_bs2"] and f["batch_bs4_train_mode"] < f["batch_bs4"],
          "train-mode test accuracy < eval-mode test accuracy, at batch 2 and at batch 4",
          {"batch_bs2_train_mode": _sb("batch", "2", "trainmode"),
           "batch_bs4_train_mode": _sb("batch", "4", "trainmode"), "batch_bs4": _sb("batch", "4")},
          ("batch_bs2", "batch_bs2_train_mode", "batch_bs4", "batch_bs4_train_mode")),
    Claim("bn_init_primer", 1,
          "At initialisation, through ten hidden layers, PyTorch's default init leaves less than 1 % of the first "
          "layer's signal (std across samples) for tanh and ReLU; Xavier (tanh) and He (ReLU) keep more than 10 %.",
          _m_primer, lambda f: f["tanh_default"] < 0.01 and f["relu_default"] < 0.01
          and f["tanh_xavier"] > 0.1 and f["relu_kaiming"] > 0.1,
          "std ratio layer 10 / layer 1: default < 0.01 (tanh, ReLU); tanh-Xavier, ReLU-He > 0.1",
          {k: _primer(k) for k in ("tanh_default", "tanh_xavier", "relu_default", "relu_xavier", "relu_kaiming")}),
    Claim("bn_standardize_keeps_shape", 1,
          "Standardising a skewed feature gives mean 0 and variance 1 but keeps its shape (same skewness, same share "
          "at the most common value): it does not make the distribution uniform.",
          _m_standardize, lambda f: abs(f["z_mean"]) < 1e-9 and abs(f["z_std"] - 1) < 1e-9
          and abs(f["z_skew"] - f["raw_skew"]) < 1e-9 and abs(f["z_skew"]) > 1
          and f["mode_fraction_z"] == f["mode_fraction_raw"],
          "standardised mean 0, std 1; skewness unchanged (1e-9) and > 1 in size (a uniform has 0); same mode share",
          {k: _std(k) for k in ("pixel", "raw_skew", "z_skew", "z_mean", "z_std", "z_min", "z_max", "mode_fraction_raw",
                                "mode_fraction_z")}),
    Claim("bn_conditioning", 1,
          "Least squares on two features of scales 1 and 10: standardising brings the Hessian's condition number to "
          "about 1 when the features are uncorrelated, but not when they are correlated (rho 0.9: still > 10); "
          "gradient descent at 1/lambda_max needs fewer steps after standardising in both cases.",
          _m_conditioning, lambda f: f["uncorrelated_standardized_kappa"] < 1.5 < 50 < f["uncorrelated_raw_kappa"]
          and f["correlated_standardized_kappa"] > 10
          and all(f[f"{c}_standardized_steps"] is not None and f[f"{c}_raw_steps"] is not None
                  and f[f"{c}_standardized_steps"] < f[f"{c}_raw_steps"] for c in ("uncorrelated", "correlated")),
          "kappa: uncorrelated raw > 50, standardised < 1.5; correlated standardised > 10; "
          "GD steps standardised < raw (both)",
          {f"{c}_{k}": _cond(c, k) for c in ("uncorrelated_raw", "uncorrelated_standardized", "correlated_raw",
                                                   "correlated_standardized") for k in ("kappa", "steps")}),
    Claim("bn_no_regularization_seen", 1,
          "Trained until both fit the training set, the networks with and without BN end within 2 % test accuracy "
          "(a few test images) of each other: no regularising effect visible at this scale.",
          _m_gap, lambda f: min(_acc(f["train_acc_none"]), _acc(f["train_acc_batch"])) >= 0.99
          and f["test_acc_diff"] is not None and f["test_acc_diff"] <= 0.02,
          "train acc >= 0.99 for both; |test acc BN - test acc no BN| <= 0.02",
          {**{f"{k}_{norm}": _gap(norm, k) for norm in ("none", "batch") for k in ("train_acc", "test_acc")},
           "test_acc_diff": _gap("test_diff")}),
    Claim("bn_test_time_stats", 1,
          "Test-time statistics: the running averages (EMA), the plain average over all of training and the paper's "
          "average with the final weights give test accuracies within 2 % of each other; in the layers after the "
          "first, the all-of-training average is farther from the final weights' statistics than the EMA.",
          _m_test_time, lambda f: "diverged" not in f
          and max(f[k] for k in ("ema_test_acc", "all_training_test_acc", "final_weights_test_acc"))
          - min(f[k] for k in ("ema_test_acc", "all_training_test_acc", "final_weights_test_acc")) <= 0.02
          and f["all_training_mean_dist_deeper"] > f["ema_mean_dist_deeper"],
          "max - min of the three test accuracies <= 0.02; mean distance (layers 2..) all-training > EMA",
          {**{f"{name}_test_acc": _gap("tts", name, "acc") for name in ("ema", "all_training", "final_weights")},
           **{f"{name}_mean_dist_deeper": _gap("tts", name, "dist") for name in ("ema", "all_training")}}),
    # ---- chapter 2: BN with sigmoid or ReLU
    Claim("ch2_bn_rescues_default_init", 2,
          "10 hidden layers, default init: sigmoid and ReLU stay at chance without BN, tanh only partly trains; "
          "with BN all three train; tanh with Xavier and ReLU with He train without BN.",
          _m_cmp, lambda f: f["sigmoid_none_train_acc"] <= CHANCE_ACC and f["relu_none_train_acc"] <= CHANCE_ACC
          and f["tanh_none_train_acc"] < TRAINS_ACC
          and all(f[f"{a}_batch_train_acc"] >= TRAINS_ACC for a in ("sigmoid", "tanh", "relu"))
          and f["tanh_xavier_train_acc"] >= TRAINS_ACC and f["relu_kaiming_train_acc"] >= TRAINS_ACC,
          "train acc: sigmoid, ReLU without BN <= 0.2; tanh without BN < 0.9; all with BN, tanh-Xavier, ReLU-He >= 0.9",
          {f"{n}_train_acc": glue_key(ch2.GLUE_PREFIX["activation_comparison"], n, "train_acc") for n in
           ("sigmoid_none", "relu_none", "tanh_none", "sigmoid_batch", "tanh_batch", "relu_batch",
            "tanh_xavier", "relu_kaiming")},
          tuple(f"{n}_train_acc" for n in ("sigmoid_none", "relu_none", "tanh_none", "sigmoid_batch", "tanh_batch",
                                           "relu_batch", "tanh_xavier", "relu_kaiming"))),
    Claim("ch2_sigmoid_bn_slower", 2,
          "With BN the sigmoid network ends with a higher training loss than tanh and ReLU: it learns more slowly.",
          _m_cmp, lambda f: f["sigmoid_batch_train_loss"] > max(f["tanh_batch_train_loss"], f["relu_batch_train_loss"]),
          "train loss with BN: sigmoid > max(tanh, ReLU)",
          {f"{a}_batch_train_loss": glue_key(ch2.GLUE_PREFIX["activation_comparison"], f"{a}_batch", "train_loss")
           for a in ("sigmoid", "tanh", "relu")},
          tuple(f"{a}_batch_train_loss" for a in ("sigmoid", "tanh", "relu"))),
    # The dead fraction at lr 0.4 without BN is chaotic: 3 % to 36 % over seeds 0-9, 3.9 % vs 8.3 % for
    # seed 0 on two CPUs (their vector units sum in another order), and 3 of 10 seeds diverge. What holds
    # everywhere: without BN units die or the run diverges; with BN none die. The prose says exactly that.
    Claim("ch2_dead_relu", 2,
          "At the large rate (0.4) without BN, ReLU units die (more than 1 %) or training diverges; with BN, "
          "before or after the ReLU, no unit dies at either rate.",
          _m_dead, lambda f: (f["dead_none_lr0.4"] is None or f["dead_none_lr0.4"] > 0.01)
          and all(f[f"dead_{v}_lr{lr}"] == 0 for v in ("batch_before", "batch_after") for lr in ("0.1", "0.4")),
          "dead fraction: no BN at lr 0.4 > 1 % or diverged (None); both BN variants = 0 at both rates",
          {f"dead_{v}_lr{lr}": glue_key(ch2.GLUE_PREFIX["dead_relu"], v, f"lr{i}")
           for v in ("none", "batch_before", "batch_after") for i, lr in ((0, "0.1"), (1, "0.4"))}),
    Claim("ch2_gradient_flow", 2,
          "At initialisation (10 layers, first / last hidden layer's gradient norm): the sigmoid network without BN "
          "vanishes; ReLU with the default init vanishes too, more mildly; with BN sigmoid's ratio is about 1, and "
          "ReLU's is above 1 (BN amplifies the gradient towards the first layers); ReLU with He init is about 1.",
          _m_cmp, lambda f: _lt(f["sigmoid_none_grad_ratio"], 1e-3) and _lt(f["relu_none_grad_ratio"], NEAR_ONE[0])
          and _lt(f["sigmoid_none_grad_ratio"], f["relu_none_grad_ratio"])
          and _between(f["sigmoid_batch_grad_ratio"], NEAR_ONE) and _lt(1.0, f["relu_batch_grad_ratio"])
          and _between(f["relu_kaiming_grad_ratio"], NEAR_ONE),
          "grad ratio: sigmoid no BN < 1e-3 and < ReLU default no BN < 0.1; sigmoid+BN and ReLU-He "
          "in [0.1, 10]; ReLU+BN > 1",
          {f"{n}_grad_ratio": glue_key(ch2.GLUE_PREFIX["activation_comparison"], n, "grad_ratio_init") for n in
           ("sigmoid_none", "relu_none", "sigmoid_batch", "relu_batch", "relu_kaiming")},
          tuple(f"{n}_grad_ratio" for n in ("sigmoid_none", "relu_none", "sigmoid_batch", "relu_batch",
                                            "relu_kaiming"))),
    Claim("ch2_bn_position_sigmoid_loss", 2,
          "BN before vs after the activation (same weights, batches, lr 0.1, 300 steps): for sigmoid, BN after the "
          "activation ends with the lower training loss.",
          _m_pos, lambda f: _lt(f["sigmoid_after_train_loss"], f["sigmoid_before_train_loss"]),
          "sigmoid train loss: after < before",
          {f"{act}_{p}_{key}": glue_key(ch2.GLUE_PREFIX["bn_position"], "seed0", act, p, key)
           for act in ch2.SETTINGS["bn_position"]["activations"] for p in ("before", "after")
           for key in ("train_loss", "test_acc")},
          ("sigmoid_before_train_loss", "sigmoid_after_train_loss")),
    Claim("ch2_sigmoid_bn_range", 2,
          "sigma(BN(x)) is not confined to [sigma(0), sigma(1)] = [0.5, 0.73]: most outputs lie outside it at "
          "initialisation and after training; ReLU(BN(x)) is not confined to [0, 1] (its largest output > 1).",
          _m_sig, lambda f: f["init_outside"] > 0.5 and f["trained_outside"] > 0.5 and f["relu_init_max"] > 1.0,
          "fraction outside [0.5, 0.731]: > 0.5 at init and after training; ReLU+BN's largest output at init > 1",
          {f"{part}_{key}": glue_key(ch2.GLUE_PREFIX["sigmoid_bn_outputs"], part, key)
           for part, key in (("init", "outside"), ("trained", "outside"), ("relu_init", "max"))}),
    # ---- chapter 3: learning-rate decay
    Claim("ch3_lr_sweep_u_shape", 3,
          "Final training loss against a constant rate is U-shaped: the smallest rate crawls, a middle rate is best, "
          "the largest rates learn nothing or reach NaN.",
          _m_sweep, lambda f: f["lr_min"] < f["best_lr"] < f["lr_max"] and f["smallest_lr_loss"] > 2 * f["best_loss"]
          and f["largest_lr_at_chance_or_nan"] == 1.0,
          "lr_min < best lr < lr_max; loss at lr_min > 2 x best loss; the largest rate at chance or NaN",
          {"best_lr": _ch3_sw("best_lr"), "smallest_lr_loss": _ch3_sw("small_loss"),
           "best_loss": _ch3_sw("best_loss"), "largest_lr_at_chance_or_nan": _ch3_sw("top_failed"),
           "lr_min": _ch3_sw("lr_min"), "lr_max": _ch3_sw("lr_max")}),
    Claim("ch3_decay_helps_when_noisy", 3,
          "Batch 32, peak lr 0.1 (gradient noise dominates): cosine < step < constant in final training loss, "
          "and cosine has the higher test accuracy than constant.",
          _m_noisy, lambda f: f["cosine_loss"] < f["step_loss"] < f["constant_loss"] and f["cosine_acc"] > f["constant_acc"],
          "train loss cosine < step < constant; test acc cosine > constant",
          {f"{n}_{k}": _ch3_cmp("noisy", n, k) for n, k in (("constant", "loss"), ("step", "loss"), ("cosine", "loss"),
                                                              ("cosine", "acc"), ("constant", "acc"))},
          ("cosine_loss", "step_loss", "constant_loss", "cosine_acc", "constant_acc")),
    Claim("ch3_inverse_time_depends_on_k", 3,
          "Batch 32: the source post's inverse-time formula with k set to end at lr/100 (k = 8.25 per epoch) ends "
          "above even the constant rate; with k set to end at lr/10 (k = 0.75 per epoch) it ends below step decay "
          "and the constant rate, though above cosine.",
          _m_noisy, lambda f: f["inverse_time_loss"] > f["constant_loss"]
          and f["inverse_time_10_loss"] < min(f["step_loss"], f["constant_loss"])
          and f["inverse_time_10_loss"] > f["cosine_loss"],
          "train loss: inverse_time (k for lr/100) > constant; step, constant > inverse_time_10 (k for lr/10) > cosine",
          {f"{n}_loss": _ch3_cmp("noisy", n, "loss") for n in ("inverse_time", "inverse_time_10")},
          ("inverse_time_loss", "inverse_time_10_loss", "constant_loss", "step_loss", "cosine_loss")),
    Claim("ch3_linear_lowest_when_noisy", 3,
          "Batch 32: linear decay to zero (the source post's «خطی») ends with the lowest training loss of the nine "
          "schedules.",
          _m_noisy, lambda f: f["linear_loss"] == min(v for k, v in f.items() if k.endswith("_loss")),
          "train loss: linear = min over the nine schedules",
          {"linear_loss": _ch3_cmp("noisy", "linear", "loss")}, ("linear_loss", "cosine_loss", "warmup_cosine_loss")),
    Claim("ch3_cyclical_between_when_noisy", 3,
          "Batch 32: the triangular cyclical rate ends below step decay and the constant rate but above cosine "
          "(training loss): no advantage over cosine.",
          _m_noisy, lambda f: f["cosine_loss"] < f["cyclical_loss"] < min(f["step_loss"], f["constant_loss"]),
          "train loss: cosine < cyclical < min(step, constant)",
          {"cyclical_loss": _ch3_cmp("noisy", "cyclical", "loss")},
          ("cosine_loss", "cyclical_loss", "step_loss", "cosine_acc", "cyclical_acc")),
    Claim("ch3_benign_constant_best", 3,
          "Batch 256 (little noise): of the nine schedules the constant rate has the lowest training loss; "
          "exponential and inverse time (k for lr/100) the two highest.",
          _m_benign, lambda f: f["constant_loss"] == min(f.values())
          and min(f[f"{n}_loss"] for n in BENIGN_UNDER) > max(v for k, v in f.items()
                                                              if k not in tuple(f"{n}_loss" for n in BENIGN_UNDER)),
          "constant = min of the nine; min(exponential, inverse_time) > max of the other seven",
          {f"{n}_loss": _ch3_cmp("benign", n, "loss") for n in ch3.SCHEDULE_NAMES},
          ("constant_loss", "cyclical_loss", "linear_loss", "cosine_loss", "step_loss", "exponential_loss",
           "inverse_time_loss")),
    Claim("ch3_warmup_small_effect", 3,
          "Warm-up + cosine ends within 15 % of cosine's training loss in both settings: no clear gain from warm-up "
          "at this scale.",
          _m_warmup, lambda f: all(abs(f[f"{r}_warmup_cosine_loss"] / f[f"{r}_cosine_loss"] - 1) < 0.15
                                   for r in ("noisy", "benign")),  # the ratios, from the losses the book glues
          "|warmup_cosine / cosine - 1| < 0.15 (train loss), batch 32 and batch 256",
          {f"{r}_{n}_loss": _ch3_cmp(r, n, "loss") for r in ("noisy", "benign") for n in ("cosine", "warmup_cosine")},
          ("noisy_ratio", "benign_ratio")),
    # ---- chapter 4: vanishing gradients
    Claim("ch4_layer_gradient_ratio", 4,
          "First/last hidden-layer gradient ratio at init (10 layers): vanishes for sigmoid and for ReLU with PyTorch's "
          "default init; about 1 for tanh-Xavier, ReLU-He, sigmoid+BN and ReLU-He+BN.",
          _m_layers, lambda f: _lt(f["sigmoid_default"], 1e-3) and _lt(f["relu_default"], NEAR_ONE[0])
          and all(_between(f[n], NEAR_ONE) for n in ("tanh_xavier", "relu_he", "sigmoid_bn", "relu_he_bn")),
          "sigmoid < 1e-3; ReLU default < 0.1; tanh-Xavier, ReLU-He, sigmoid+BN, ReLU-He+BN in [0.1, 10]",
          {n: _ch4_glue_lg(n, "ratio") for n in ("sigmoid_default", "sigmoid_xavier", "tanh_default", "tanh_xavier",
                                            "relu_default", "relu_he", "sigmoid_bn", "relu_he_bn")},
          ("sigmoid_default", "relu_default", "tanh_xavier", "relu_he", "sigmoid_bn", "relu_he_bn")),
    Claim("ch4_relu_default_backward_factor", 4,
          "With PyTorch's default init a ReLU layer multiplies the backpropagated gradient ||dL/da|| by about "
          "sqrt(1/6) = 0.41 (the weight-gradient ratio shows a larger factor, as it also holds the shrinking inputs).",
          _m_relu_factor, lambda f: 0.3 <= f["backward_factor"] <= 0.5,
          "per-layer factor of ||dL/da_1|| / ||dL/da_10|| in [0.3, 0.5]",
          {"backward_factor": _ch4_glue_lg("relu_default", "act_factor"),
           "weight_factor": _ch4_glue_lg("relu_default", "factor")}),
    Claim("ch4_relu_zero_derivative", 4,
          "In a 10-layer He-initialised ReLU MLP about half of ReLU's derivatives are 0 (its derivative is not always 1).",
          _m_relu_zero, lambda f: 0.4 <= f["mean_zero_derivative"] <= 0.6,
          "mean fraction of ReLU' = 0 over the ten layers in [0.4, 0.6]",
          {"mean_zero_derivative": _ch4_glue_rz("mean_zero_derivative"), "max_dead_units": _ch4_glue_rz("dead_max")}),
    Claim("ch4_relu_init_training", 4,
          "A 10-layer ReLU MLP without normalisation stays near chance with PyTorch's default init, trains with He, "
          "and diverges with twice He's weights (300 SGD steps, lr 0.1).",
          _m_relu_init, lambda f: _acc(f["default_train_acc"]) <= CHANCE_ACC and _acc(f["he_train_acc"]) >= TRAINS_ACC
          and f["he_x2_diverged"],
          "train acc: default <= 0.2; He >= 0.9; He x2 diverged (NaN loss)",
          {"default_train_acc": _ch4_glue_rt("default_x1", "train_acc"),
           "he_train_acc": _ch4_glue_rt("kaiming_x1", "train_acc"),
           "he_x2_diverged": _ch4_glue_rt("kaiming_x2", "diverged"),
           "he_x2_diverged_at": _ch4_glue_rt("kaiming_x2", "diverged_at")}),
    Claim("ch4_cnn_gradients", 4,
          "A plain 20-layer ReLU CNN at init (sparse, independent weights) vanishes with PyTorch's default scale, "
          "keeps the gradient about 1 with He and explodes with twice He's weights.",
          _m_cnn, lambda f: _lt(f["default_x1_ratio"], 1e-2) and _between(f["he_x1_ratio"], NEAR_ONE)
          and (f["he_x2_ratio"] or 0) > 1e2,
          "first/last ratio: default < 1e-2; He in [0.1, 10]; He x2 > 1e2",
          {f"{n}_ratio": _ch4_glue_cnn(n, "ratio") for n in ("default_x1", "he_x1", "he_x2")}),
    Claim("ch4_spectral_radius_decides", 4,
          "After 200 products: a random matrix with spectral radius 0.9 vanishes and 1.1 explodes; a matrix of entries "
          "0.05 (radius 3.2) explodes and one with entries up to 3 (radius 0.9) vanishes.",
          _m_spectral, lambda f: f["rho_0.9_end"] < 1e-2 and f["rho_1.1_end"] > 1e2 and f["small_entries_end"] > 1e2
          and f["large_entries_end"] < 1e-2,
          "norm after 200: rho 0.9 < 1e-2; rho 1.1 > 1e2; small entries > 1e2; large entries < 1e-2",
          {f"{n}_end": _ch4_glue_sr(n.replace(".", ""), "end") for n in ("rho_0.9", "rho_1", "rho_1.1", "small_entries",
                                                                    "large_entries")}),
    Claim("ch4_rnn_gradient_T1000", 4,
          "At T = 1000 the gradient reaching the first step underflows float32 for tanh and ReLU RNNs, while IRNN and "
          "IndRNN (u = 1) keep it about 1.",
          _m_rnn, lambda f: f["tanh_T1000"] < FLOAT32_TINY and f["relu_T1000"] < FLOAT32_TINY
          and _between(f["irnn_T1000"], NEAR_ONE) and _between(f["indrnn_T1000"], NEAR_ONE),
          f"tanh and ReLU ratio < {FLOAT32_TINY:.2e} (float32's smallest normal); IRNN and IndRNN in [0.1, 10]",
          {f"{k}_T1000": _ch4_glue_rg(k, "1000") for k in ("tanh", "relu", "irnn", "indrnn", "lstm", "lstm_chrono")},
          ("tanh_T1000", "relu_T1000", "irnn_T1000", "indrnn_T1000")),
    Claim("ch4_lstm_gradient_T1000", 4,
          "At T = 1000 an LSTM at PyTorch's default init (forget gates near 1/2) loses the gradient like tanh (below "
          "float32's floor); with chrono init (forget gates near 1) it keeps more than 1e-4 of it.",
          _m_rnn, lambda f: f["lstm_T1000"] < FLOAT32_TINY and f["lstm_chrono_T1000"] > 1e-4,
          f"LSTM ratio < {FLOAT32_TINY:.2e}; LSTM chrono ratio > 1e-4",
          {f"{k}_T1000": _ch4_glue_rg(k, "1000") for k in ("tanh", "relu", "irnn", "indrnn", "lstm", "lstm_chrono")},
          ("lstm_T1000", "lstm_chrono_T1000")),
    Claim("ch4_adding_tanh_baseline", 4,
          "Adding problem, T = 50, 1000 Adam steps: the tanh RNN learns nothing (it ends at the always-1 baseline).",
          _m_adding, lambda f: f["tanh_mse"] > 0.8 * f["test_baseline"],
          "tanh test MSE > 0.8 x the test set's always-1 MSE",
          {"tanh_mse": _ch4_glue_add("tanh", "final"), "indrnn_mse": _ch4_glue_add("indrnn", "final"),
           "baseline": _ch4_glue_add("baseline"), "test_baseline": _ch4_glue_add("test_baseline")},
          ("tanh_mse", "test_baseline")),
    Claim("ch4_adding_problem", 4,
          "Adding problem, T = 50, 1000 Adam steps: IndRNN ends below half the 1/6 baseline (the chapter quotes on how "
          "many of ten seeds).",
          _m_adding, lambda f: f["indrnn_mse"] < f["baseline"] / 2,
          "IndRNN test MSE < baseline / 2",
          {"tanh_mse": _ch4_glue_add("tanh", "final"), "indrnn_mse": _ch4_glue_add("indrnn", "final"),
           "baseline": _ch4_glue_add("baseline"), "test_baseline": _ch4_glue_add("test_baseline")}),
    # ---- chapter 5: ResNet
    Claim("ch5_degradation", 5,
          "Plain-30 ends with a higher TRAINING error than plain-6; its residual twin (same parameters) ends lower than plain-30.",
          _m_deg, lambda f: f["plain30_train_err"] > f["plain6_train_err"] and f["res30_train_err"] < f["plain30_train_err"],
          "train error: plain-30 > plain-6; residual-30 < plain-30",
          _ch5_book_keys("plain6_train_err", "plain30_train_err", "res30_train_err"),
          ("plain6_train_err", "plain30_train_err", "res30_train_err")),
    Claim("ch5_residual_depth_with_care", 5,
          "With gamma = 1 residual-30 is still worse than residual-6 (degradation reduced, not removed); with the last BN "
          "gamma of each block at 0, residual-30 beats residual-6 of the same init, yet residual-6 (gamma = 1) stays best.",
          _m_deg, lambda f: f["res30_train_err"] > f["res6_train_err"] and f["res030_train_err"] < f["res06_train_err"]
          and f["res6_train_err"] < min(f["res30_train_err"], f["res030_train_err"], f["res06_train_err"]),
          "res-30 > res-6; res0-30 < res0-6; res-6 < all other residual nets (train error)",
          _ch5_book_keys("res6_train_err", "res030_train_err", "res06_train_err"),
          ("res6_train_err", "res30_train_err", "res06_train_err", "res030_train_err")),
    Claim("ch5_shallow_gap_small", 5,
          "At 6 layers the residual net is only a little better than the plain one (like plain-18 vs ResNet-18 in the "
          "paper); the big gap appears at 30 layers.",
          _m_deg_analysis, lambda f: 0 < f["plain6_train_err"] - f["res6_train_err"]
          < (f["plain30_train_err"] - f["res30_train_err"]) / 4,
          "0 < plain-6 - res-6 < (plain-30 - res-30) / 4 (train error)",
          _ch5_book_keys("plain6_train_err", "res6_train_err", "plain30_train_err", "res30_train_err"),
          ("plain6_train_err", "res6_train_err", "plain30_train_err", "res30_train_err")),
    Claim("ch5_no_vanishing", 5,
          "At the first step the plain-30 net's first-layer gradient is larger than its last layer's (no vanishing).",
          _m_deg_analysis, lambda f: f["plain30_grad_ratio"] is not None and f["plain30_grad_ratio"] > 1,
          "plain-30 |grad first| / |grad last| at step 1 > 1",
          _ch5_book_keys("plain30_grad_ratio", "plain6_grad_ratio"),
          ("plain30_grad_ratio", "plain6_grad_ratio")),
    Claim("ch5_grad_explodes", 5,
          "The plain-30 first/last gradient ratio at init is above 10: an exploding pattern (Yang et al. 2019).",
          _m_deg_analysis, lambda f: f["plain30_grad_ratio"] is not None and f["plain30_grad_ratio"] > 10,
          "plain-30 |grad first| / |grad last| at step 1 > 10",
          _ch5_book_keys("plain30_grad_ratio"), ("plain30_grad_ratio",)),
    Claim("ch5_block_responses", 5,
          "No residual block of the trained ResNet-30 is (near) zero; the first block's branch is larger than its "
          "input (||F||/||x|| > 1), every later block's is smaller (< 1); on average the blocks of ResNet-30 "
          "contribute less than those of ResNet-6.",
          _m_deg_analysis, lambda f: min(f["res30_resp_min"], f["res030_resp_min"]) > 0.05
          and f["res30_resp_first"] > 1 > f["res30_resp_rest_max"] and f["res30_resp_mean"] < f["res6_resp_mean"],
          "min ||F||/||x|| > 0.05 (gamma 1 and 0); gamma 1: block 1 > 1 > every later block; "
          "mean over blocks: res-30 < res-6",
          _ch5_book_keys("res30_resp_first", "res30_resp_rest_max", "res30_resp_min", "res030_resp_min",
                         "res30_resp_mean", "res6_resp_mean"),
          ("res30_resp_first", "res30_resp_rest_max", "res30_resp_min", "res030_resp_min", "res30_resp_mean",
           "res6_resp_mean")),
    Claim("ch5_lesion", 5,
          "Removing one block at test time: the plain-30 net collapses whichever block is removed; ResNet-30 "
          "(gamma = 1) loses less for most blocks, but removing its first block hurts most and nearly as much; "
          "ResNet-30 with gamma = 0 loses little for every block.",
          _m_deg_analysis, lambda f: f["plain30_lesion_min"] > 0.5
          and f["res30_lesion_median"] < f["plain30_lesion_min"] and f["res030_lesion_max"] < f["plain30_lesion_min"]
          and f["res30_lesion_first"] > max(0.5, f["res30_lesion_rest_max"]),
          "train error after removing one block: plain min > 0.5; res median < plain min; res0 max < plain min; "
          "res block 1 > max(0.5, every other res block)",
          _ch5_book_keys("plain30_lesion_min", "res30_lesion_median", "res30_lesion_first", "res30_lesion_rest_max",
                         "res030_lesion_max"),
          ("plain30_lesion_min", "res30_lesion_median", "res30_lesion_first", "res30_lesion_rest_max",
           "res030_lesion_max")),
]


# --------------------------------------------------------------------------- running them
def evaluate(seeds=SEEDS, claims=None, *, progress=None) -> list[dict]:
    """Run every claim on every seed; one row per claim.

    Row keys: ``claim``, ``chapter``, ``statement``, ``criterion``, ``figures`` ({seed: {name: value}}),
    ``held`` ({seed: bool}), ``held_on_every_seed``. ``progress`` (a callable taking a string) is told
    each claim and seed as it starts.
    """
    claims = CLAIMS if claims is None else claims
    rows = []
    for claim in claims:
        row = {"claim": claim.name, "chapter": claim.chapter, "statement": claim.statement,
               "criterion": claim.criterion, "show": claim.show, "figures": {}, "held": {}}
        for seed in seeds:
            if progress:
                progress(f"{claim.name} seed {seed}")
            row["figures"][seed], row["held"][seed] = claim.run(seed)
        row["held_on_every_seed"] = all(row["held"].values())
        rows.append(row)
    return rows


def _fmt(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e4 or abs(value) < 1e-2:
        return f"{value:.2e}"
    return f"{value:.3g}"


def to_markdown(rows: list[dict]) -> str:
    """The claims table (each claim's figures per seed, whether it held on every seed), then what each claim says."""
    if not rows:
        return "(no claims run)"
    seeds = list(rows[0]["figures"])
    lines = ["| ch. | claim | criterion | " + " | ".join(f"seed {s}" for s in seeds) + " | held on every seed |",
             "|---:|---|---|" + "---|" * len(seeds) + "---|"]
    for r in rows:
        cells = []
        for s in seeds:
            shown = r["show"] or tuple(r["figures"][s])
            figs = ", ".join(f"{k}={_fmt(r['figures'][s][k])}" for k in shown)
            cells.append(f"{'held' if r['held'][s] else '**FAILED**'}: {figs}")
        lines.append(f"| {r['chapter']} | `{r['claim']}` | {r['criterion']} | " + " | ".join(cells)
                     + f" | {'yes' if r['held_on_every_seed'] else '**NO**'} |")
    lines += ["", "What each claim stands for (the chapter's prose, in one sentence):", ""]
    lines += [f"- `{r['claim']}` (chapter {r['chapter']}): {r['statement']}" for r in rows]
    return "\n".join(lines)


def load_glued(executed_dir) -> dict:
    """{glue key: number} from every ``*.glue.json`` under a built book's ``jupyter_execute`` folder."""
    import ast
    import json
    from pathlib import Path

    glued = {}
    for path in sorted(Path(executed_dir).rglob("*.glue.json")):
        for key, output in json.loads(path.read_text(encoding="utf-8")).items():
            text = output.get("data", {}).get("text/plain")
            try:
                value = ast.literal_eval(text) if text is not None else None
            except (ValueError, SyntaxError):
                continue
            if value is None or isinstance(value, (int, float)):
                glued[key] = value
    return glued


def book_mismatches(rows: list[dict], glued: dict[str, float], *, seed: int = 0, rel: float = 1e-6) -> list[str]:
    """Figures of ``seed`` that differ from the number the book glued under the claim's key.

    ``glued``: {glue key: number} from the built book's ``*.glue.json``. Keys the book did not
    glue are skipped (a chapter not built yet); a mismatch means the registry no longer measures
    what the prose says.
    """
    by_name = {c.name: c for c in CLAIMS}
    bad = []
    for r in rows:
        claim = by_name[r["claim"]]
        if seed not in r["figures"]:
            continue
        for fig, key in claim.book_keys.items():
            if key not in glued:
                continue
            ours, book = r["figures"][seed].get(fig), glued[key]
            if ours is None or book is None:
                if ours is not book:
                    bad.append(f"{r['claim']}.{fig}: ours {ours}, book {key} = {book}")
            elif not math.isclose(float(ours), float(book), rel_tol=rel, abs_tol=1e-12):
                bad.append(f"{r['claim']}.{fig}: ours {ours!r}, book {key} = {book!r}")
    return bad


# --------------------------------------------------------------------------- the many-seed record
RATES_DIR = verdicts.RATES_DIR  # benchmarks/results/claims/: what the book reads (helpers.verdicts.load_rates)
BENCH_SEEDS = tuple(range(10))   # `make bench` measures every claim on these seeds


def cpu_identity() -> str:
    """The CPU as far as floating-point results go: model name, family/model and whether AVX-512 is
    there (PyTorch and MKL pick their kernels by it), e.g. ``AMD EPYC (family 25, model 17, avx512f)``.
    Two machines with the same identity give the same numbers for the same seed."""
    info = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break                                  # the first processor is enough
                key, _, value = line.partition(":")
                info[key.strip()] = value.strip()
    except OSError:
        return platform.processor() or platform.machine()
    simd = "avx512f" if "avx512f" in info.get("flags", "").split() else "no avx512f"
    return f"{info.get('model name', '?')} (family {info.get('cpu family', '?')}, model {info.get('model', '?')}, {simd})"


def fingerprint(claim: Claim) -> str:
    """A hash of what a claim's figures depend on: its criterion, its measure function, the experiment
    runners that the measure reads and, for a runner that calls ``chN.run("key", ...)``, the book's
    settings of that experiment and the experiment function's source.

    A recorded rate whose fingerprint differs was measured with other settings, and must be measured
    again (``python -m benchmarks.claims --chapter N --seeds ... --record``). Changes inside
    ``helpers.experiments`` outside the experiment function (a shared helper it calls, the training loop)
    are not covered: rerun ``make bench`` after changing one.
    """
    measure_src = inspect.getsource(claim.measure)
    parts = [claim.name, claim.criterion, measure_src, inspect.getsource(claim.holds) if claim.holds.__name__ != "<lambda>"
             else claim.criterion]
    for name in sorted(EXPERIMENTS):
        if f'"{name}"' in measure_src:
            runner_src = inspect.getsource(EXPERIMENTS[name])
            parts.append(runner_src)
            parts.extend(_settings_parts(runner_src))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _settings_parts(runner_src: str) -> list[str]:
    """For each ``alias.run("key", ...)`` in a runner: the book's settings of that experiment
    (``SETTINGS[key]``, where the notebook reads them too) and the experiment function's source."""
    parts = []
    for alias, key in re.findall(r"\b(\w+)\.run\(\s*[\"'](\w+)[\"']", runner_src):
        module = globals()[alias]
        parts.append(f"{module.__name__}.SETTINGS[{key!r}] = {module.SETTINGS[key]!r}")
        parts.append(inspect.getsource(getattr(module, key)))
    return parts


def record(rows: list[dict], directory: Path | None = None, fingerprints: dict | None = None) -> list[Path]:
    """Write each chapter's rows to ``results/claims/chN.json`` (merged with the claims already recorded
    there). What ``helpers.verdicts.rate_phrase`` reads and the book glues («در نُه بذر از ده»).

    ``fingerprints`` ({claim name: fingerprint}) should be taken BEFORE the runs: ``inspect`` reads this
    file again when asked, so an edit made while the claims ran would otherwise be fingerprinted."""
    directory = Path(directory) if directory is not None else RATES_DIR
    directory.mkdir(parents=True, exist_ok=True)
    by_name = {c.name: c for c in CLAIMS}
    written = []
    for chapter in sorted({r["chapter"] for r in rows}):
        path = directory / f"ch{chapter}.json"
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"claims": {}}
        data["cpu"] = cpu_identity()
        data["recorded"] = datetime.date.today().isoformat()
        for r in rows:
            if r["chapter"] != chapter:
                continue
            seeds = sorted(r["held"])
            data["claims"][r["claim"]] = {
                "held": sum(bool(r["held"][s]) for s in seeds), "total": len(seeds), "seeds": seeds,
                "failed_seeds": [s for s in seeds if not r["held"][s]],
                "fingerprint": (fingerprints or {}).get(r["claim"]) or fingerprint(by_name[r["claim"]]), "criterion": r["criterion"], "cpu": data["cpu"],
                "figures": {str(s): r["figures"][s] for s in seeds}}
        data["claims"] = dict(sorted(data["claims"].items()))
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=_json_default) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _json_default(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot record {value!r}")


def load_records(directory: Path | None = None) -> dict:
    """{claim name: recorded entry} from every ``results/claims/chN.json`` ({} when nothing is recorded yet),
    read by the same function the book uses (``helpers.verdicts.load_rates``)."""
    try:
        return verdicts.load_rates(directory)
    except FileNotFoundError:
        return {}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run the book's claims on several seeds; print a Markdown table.")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--only", nargs="*", help="claim names (default: all)")
    parser.add_argument("--chapter", type=int, nargs="*", help="only the claims of these chapters")
    parser.add_argument("--record", action="store_true",
                        help="write how often each claim held to benchmarks/results/claims/chN.json (the book glues it)")
    args = parser.parse_args(argv)
    claims = [c for c in CLAIMS if (not args.only or c.name in args.only)
              and (not args.chapter or c.chapter in args.chapter)]
    prints = {c.name: fingerprint(c) for c in claims}  # before the runs (see record)
    rows = evaluate(args.seeds, claims, progress=lambda s: print("...", s, file=sys.stderr, flush=True))
    print(to_markdown(rows))
    if args.record:
        for path in record(rows, fingerprints=prints):
            print("recorded", path, file=sys.stderr)
    for (name, seed), (wall, cpu) in sorted(experiment_times().items()):
        print(f"{name} seed {seed}: {wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr)
    return 0 if all(r["held_on_every_seed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
