"""Experiments behind the chapters' claims, as functions returning plain dicts.

Each chapter's notebook calls these (and glues their numbers into its prose); the
claims benchmark runs the same functions over several seeds. Nothing here draws or
prints: a notebook decides how to show a result.

- ``helpers.experiments.batchnorm``: chapter 1, «نرمال‌سازی دسته‌ای».
"""
