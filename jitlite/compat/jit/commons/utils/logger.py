"""``jit.commons.utils.logger``: the ``log`` JitAi's element code writes to.

``log`` is the standard logger ``jitlite.app``: configure it (or ``jitlite``) as any Python logger.
Its records are redacted like every record in a process that built an App: secrets never reach a
handler.
"""

from __future__ import annotations

import logging

__all__ = ["log"]

log = logging.getLogger("jitlite.app")
