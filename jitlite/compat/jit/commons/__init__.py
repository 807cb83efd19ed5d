"""``jit.commons``: JitAi's shared helpers that element code imports."""
