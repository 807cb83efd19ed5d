"""jitlite: a Python element runtime with official WeCom and WeChat Types."""
