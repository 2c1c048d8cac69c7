"""What the grader's forkserver imports once, so that each submission's child starts warm (see
:mod:`grader_child`, which starts the server with the children's environment).

Nothing here computes anything: no tensor is made before the fork, so no thread pool is inherited
by the children.
"""
import matplotlib.pyplot  # noqa: F401 - the labs' preludes import it
import torch  # noqa: F401
from otter.test_files.ok_test import OKTestFile  # noqa: F401 - tester.load_bundle reads the tests with it

import helpers  # noqa: F401
import helpers.plotting  # noqa: F401
import rpc  # noqa: F401
import sandbox  # noqa: F401
import screening  # noqa: F401
import tester  # noqa: F401
