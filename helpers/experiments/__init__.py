"""Experiments behind the chapters' claims, as functions returning plain dicts.

Each chapter module holds one settings table (``SETTINGS``) and a runner (``run``): the
chapter's notebook runs its experiments through it (and glues their numbers into its prose),
the claims registry reruns the same experiments over ten seeds, and the unit tests run them at
``TINY`` scale (``helpers.experiments.settings``). Nothing here draws or prints: a notebook
decides how to show a result.

- ``helpers.experiments.ch1_batchnorm``: chapter 1, «نرمال‌سازی دسته‌ای».
- ``helpers.experiments.ch2_bn_sigmoid_relu``: chapter 2, «نرمال‌سازی دسته‌ای، سیگموید یا ReLU؟».
- ``helpers.experiments.ch3_lr_decay``: chapter 3, «کاهش نرخ یادگیری».
- ``helpers.experiments.ch4_vanishing_gradients``: chapter 4, «ناپدید شدن گرادیان».
- ``helpers.experiments.ch5_resnet``: chapter 5, «معماری ResNet».
- ``helpers.experiments.settings``: the settings tables' runner (``book_runner``) and ``flatten``.
- ``helpers.experiments.common``: the pieces every chapter shares (data, a seeded MLP).
"""
