"""The order make test starts the test files in (tests/conftest.py sorts the collection by it)."""

# The longest test files start first (longest-processing-time-first), so that no long file is left to
# run alone at the end while the other worker idles. pytest-xdist (--dist loadfile) hands whole files
# to the two workers in collection order: the Makefile passes --no-loadscope-reorder, since xdist
# would otherwise reorder files by their number of tests, which put test_hub.py last and its wait for
# a hub's time limit (below) at the end of every run. Seconds: one worker's wall time in a make test
# run on the 2-core AMD machine (the README's timings).
LONGEST_FIRST = (
    "tests/test_hub.py",                # 90: mostly a wait for a hub's time limit; first, so that the
                                        #     other worker's work overlaps it
    "tests/test_lab_grading.py",        # 132: references, mutations and robustness cases graded
    "tests/test_site_a11y.py",          # 89: every page at two widths in both schemes
    "tests/test_lab_student_flow.py",   # 81: each lab in JupyterLab in a browser
    "tests/test_grading_attacks.py",    # 46: adversarial submissions graded in the sandbox
    "chapters/01_batchnorm.ipynb",      # 34 (nbval)
    "chapters/02_bn_sigmoid_relu.ipynb",  # 29
    "tests/test_playground_browser.py",  # 29
    "chapters/05_resnet.ipynb",         # 25
    "chapters/03_lr_decay.ipynb",       # 22
    "tests/test_spectral.py",           # 22
    "chapters/04_vanishing_gradients.ipynb",  # 21
    "labs/source/lab5_rnn_gradients.ipynb",   # 21
    "tests/test_lab_browser.py",        # 21
    "tests/test_stacked.py",            # 20
    "tests/test_book.py",               # 18
    "tests/test_grading_sandbox.py",    # 17
    "tests/test_site_browser.py",       # 13
    "playground.ipynb",                 # 13
)
