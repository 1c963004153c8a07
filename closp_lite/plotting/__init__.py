"""Every plotting function of closp-lite; each returns a :class:`matplotlib.figure.Figure`.

One submodule per concern: ``images`` (patches, chapter 0), ``physics`` (chapters 1-2),
``labels`` (chapters 3-4), ``training`` (chapter 5), ``retrieval`` (chapter 6), ``geography``
(chapter 7), ``transfer`` (chapter 8), ``talk`` (chapter 9), ``scale`` (chapter 10).
"""

from closp_lite.plotting.geography import *  # noqa: F403
from closp_lite.plotting.images import *  # noqa: F403
from closp_lite.plotting.labels import *  # noqa: F403
from closp_lite.plotting.physics import *  # noqa: F403
from closp_lite.plotting.retrieval import *  # noqa: F403
from closp_lite.plotting.scale import *  # noqa: F403
from closp_lite.plotting.talk import *  # noqa: F403
from closp_lite.plotting.training import *  # noqa: F403
from closp_lite.plotting.transfer import *  # noqa: F403
