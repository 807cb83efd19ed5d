"""Modules under the names JitAi's element code imports that are not elements (``jit.*``).

Inside element code ``jit`` is ``jitlite.compat.jit`` (see ``jitlite.runtime.importer``): a JitAi
service's ``from jit.errcode import Code`` and ``from jit.commons.utils.logger import log`` work
unchanged.
"""
