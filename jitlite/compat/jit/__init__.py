"""JitAi's ``jit`` package as far as element code uses it: ``jit.errcode``, ``jit.commons.utils.logger``."""
