"""Experiments behind the chapters' claims, as functions returning plain dicts.

Each chapter's notebook calls these (and glues their numbers into its prose); the
claims benchmark runs the same functions over several seeds. Nothing here draws or
prints: a notebook decides how to show a result.

- ``helpers.experiments.ch1_batchnorm``: chapter 1, «نرمال‌سازی دسته‌ای».
- ``helpers.experiments.ch2_bn_sigmoid_relu``: chapter 2, «نرمال‌سازی دسته‌ای، سیگموید یا ReLU؟».
- ``helpers.experiments.ch3_lr_decay``: chapter 3, «کاهش نرخ یادگیری».
- ``helpers.experiments.ch4_vanishing_gradients``: chapter 4, «ناپدید شدن گرادیان».
- ``helpers.experiments.ch5_resnet``: chapter 5, «معماری ResNet».
"""
