"""The training playground («زمین بازی آموزش»): toggles for batch norm, activation, LR schedule, depth and data.

One notebook cell serves both places the book is read::

    from helpers.playground import Playground
    Playground(vary=("norm",), start={"activation": "sigmoid", "depth": 6})

* On the static site (no kernel) the output's ``text/html`` is a panel with every combination
  of the varied controls trained at build time; a few lines of its own script swap the
  precomputed views when a radio button changes. No request leaves the page. The book must
  prefer ``text/html`` over the widget view for this output: in ``_config.yml``
  ``sphinx.config.nb_mime_priority_overrides: [[html, text/html, 5]]``.
* In JupyterLab the same output shows live ipywidgets: the start setting is trained at once
  and every other setting the first time it is selected (about a second), then remembered.

Every setting trains ``helpers.models.make_mlp`` with ``helpers.train.fit`` (plain SGD, fixed
seed), so results are deterministic on the CPU. A run whose loss becomes NaN or infinite is
shown as «واگرا شد» (``fit`` stops it; nothing raises). For each setting the panel shows six
charts: train/test loss and accuracy, the schedule's learning rate, per-layer gradient norms
(first and last step), the last hidden layer's pre-activations (the input of its activation
function: what batch norm changes) before and after training, and for the 2-D spirals the
decision boundary.

One module per concept:

* ``settings``: the controls, their Persian labels, the start setting, the scale of a run;
* ``grid``: training one setting (``run_setting``) and the grid of one panel (``Grid``);
* ``charts``: the six charts of a setting as SVG, its result line and accessible name;
* ``style``: the CSS both panels embed;
* ``static_panel``: the kernel-free HTML panel for the book;
* ``live_panel``: the ipywidgets panel for JupyterLab;
* ``display``: ``Playground``, the object a notebook cell displays.
"""
from helpers.playground.display import Playground
from helpers.playground.grid import run_setting
from helpers.playground.settings import CONTROLS, DEFAULT_START, DIVERGED, TRAIN_CONFIG, setting_key

__all__ = ["CONTROLS", "DEFAULT_START", "TRAIN_CONFIG", "DIVERGED", "Playground", "run_setting", "setting_key"]
