"""``jit.commons.utils``: JitAi's utilities that element code imports."""
