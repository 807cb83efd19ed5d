"""The settings jitlite reads, listed in one place, and the check of an app's settings.

Settings come from ``app.json`` ``settings`` (each layer, lowest first) and ``jitlite.toml``
``[settings]``. Every setting jitlite or an official Type reads is registered here with the JSON
types it accepts; a feature that reads a new setting registers it with ``register_setting``.

The check at start-up:

- a known setting with a value of the wrong type is a problem;
- an unknown setting that is a likely misspelling of a known one (``wecomBaseURL``,
  ``callbackTimestampWindw``; see ``names.misspelling_of``) is a problem with "did you mean";
- any other unknown setting is the app's own, kept and readable through ``app.settings``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import Problem
from .names import misspelling_of

__all__ = [
    "DEFAULT_ELEMENTS",
    "DEFAULT_ELEMENT_SETTING",
    "KNOWN_SETTINGS",
    "Setting",
    "read_setting",
    "register_setting",
    "setting_problems",
]


@dataclass(frozen=True)
class Setting:
    """One setting jitlite reads: its name, the value types it accepts, what it does."""

    name: str
    kinds: tuple[type, ...]
    description: str
    choices: tuple[str, ...] = ()  # the values allowed, when only a few are
    minimum: float | None = None  # the least number allowed
    positive: bool = False  # numbers must be above 0
    unit: str = ""  # what a number counts ("seconds")

    def accepts(self, value: Any) -> bool:
        """Tell whether value has one of the accepted types (true/false is not a number here)."""
        if isinstance(value, bool):
            return bool in self.kinds
        return isinstance(value, self.kinds)

    @property
    def requirement(self) -> str:
        """Return what a value must be, in words."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        words = self.kind_words
        if self.unit:  # "a number of seconds" when fractions are allowed, "a whole number of seconds" if not
            words = f"{'a number' if float in self.kinds else words} of {self.unit}"
        if self.positive:
            return f"{words} > 0"
        return words if self.minimum is None else f"{words} >= {self.minimum:g}"

    def problem(self, value: Any) -> str | None:
        """Return what is wrong with a value of this setting, or None."""
        fine = self.accepts(value) and (not self.choices or value in self.choices)
        if fine and isinstance(value, (int, float)) and not isinstance(value, bool):
            fine = (math.isfinite(value) and not (self.positive and value <= 0)
                    and not (self.minimum is not None and value < self.minimum))
        return None if fine else f"setting {self.name!r} must be {self.requirement}"

    @property
    def kind_words(self) -> str:
        """Return the accepted types in the words of a JSON or TOML file."""
        words = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
                 dict: "an object / table", list: "a list"}
        return " or ".join(words.get(kind, kind.__name__) for kind in self.kinds)


KNOWN_SETTINGS: dict[str, Setting] = {}


def register_setting(name: str, kinds: tuple[type, ...], description: str, **limits: Any) -> Setting:
    """Declare a setting jitlite reads (``limits``: choices, minimum, positive, unit); return it."""
    setting = KNOWN_SETTINGS[name] = Setting(name, kinds, description, **limits)
    return setting


def read_setting(settings: Mapping[str, Any], name: str, default: Any) -> Any:
    """Return a registered setting's value (or default), checked as at start-up; raise ValueError naming the fix.

    Values set in the process (``App.configure``) skip the start-up check; this catches them.
    """
    value = settings.get(name, default)
    problem = KNOWN_SETTINGS[name].problem(value)
    if problem is not None:
        raise ValueError(f"{problem}, not {value!r}; fix it in app.json settings or jitlite.toml [settings]")
    return value


register_setting("wecomBaseUrl", (str,), "base URL of the WeCom server API (default https://qyapi.weixin.qq.com)")
register_setting("wechatBaseUrl", (str,), "base URL of the WeChat server API (default https://api.weixin.qq.com)")
register_setting("wecomLoginBaseUrl", (str,),
                 "base URL of the WeCom web login pages (default https://login.work.weixin.qq.com)")
register_setting("wechatOpenBaseUrl", (str,),
                 "base URL of the WeChat Open Platform login pages (default https://open.weixin.qq.com)")
register_setting("httpTimeout", (int, float), "seconds a WeCom or WeChat API call may take")
register_setting("callbackTimestampWindow", (int,), "seconds a callback's timestamp may differ from the clock")
register_setting("qywxProviderCorpId", (str,), "the provider corp id, accepted as a callback receive-id")
register_setting("sessionTtlSeconds", (dict,), 'session lifetime in seconds per platform, e.g. {"web": 86400}')
register_setting("callbackLeaseSeconds", (int, float),
                 "seconds a worker's claim on a callback lasts before another worker may resume it",
                 positive=True, unit="seconds")
register_setting("callbackSweepSeconds", (int, float),
                 "how often callbacks whose lease expired are looked for, in seconds (0 turns it off)",
                 minimum=0, unit="seconds")
register_setting("callbackRetryAttempts", (int,),
                 "claims a callback gets when WeCom is busy, rate-limited or unreachable before it is left "
                 "failed for retryCallBack (default 5; 1 never retries)", minimum=1)
register_setting("callbackRetrySeconds", (int, float),
                 "seconds before a callback that failed on a passing WeCom fault runs again, doubled at each "
                 "further attempt up to 30 minutes (default 30)", positive=True, unit="seconds")
register_setting("taskQueue", (str,),
                 'where callbacks and organisation syncs run: "thread" (in process, the default) or "celery" '
                 "(a Celery worker; the broker comes from JITLITE_BROKER_URL or CELERY_BROKER_URL)",
                 choices=("thread", "celery"))
register_setting("reconcileSeconds", (int, float),
                 "how often Celery beat reconciles every organisation, in seconds (default 3600; 0 turns it off)",
                 minimum=0, unit="seconds")
register_setting("loginStateTtlSeconds", (int, float), "seconds an OAuth state issued by a login stays valid")
register_setting("loginStateLimit", (int,), "OAuth states kept per login element at most (the oldest go first)")
register_setting("orgSyncConcurrency", (int,), "WeCom requests an organisation sync makes at once")
register_setting("orgSyncBatchSize", (int,), "rows an organisation sync writes per batch")
register_setting("orgSyncLeaseSeconds", (int, float), "seconds a worker's claim on an organisation sync lasts")
register_setting("orgSyncRegistersUsers", (bool,), "make every synced member a system user")
register_setting("allowExternalSymlinks", (bool,), "let element folders hold symlinks that leave the app folder")
register_setting("admins", (list,), 'who may open the admin page: system user ids or WeCom "corpId:userid" pairs')

DEFAULT_ELEMENT_SETTING = "defaultElement"
#: JitAi's ``settings.defaultElement`` keys jitlite honours: (the element used when unset, the Meta it must be of).
DEFAULT_ELEMENTS: dict[str, tuple[str, str]] = {
    "defaultDatabase": ("databases.Default", "databases.Meta"),
    "defaultCache": ("caches.Default", "caches.Meta"),
}
register_setting(DEFAULT_ELEMENT_SETTING, (dict,),
                 'the elements the official Types use by default, e.g. {"defaultDatabase": "databases.Main", '
                 '"defaultCache": "caches.Shared"}')


def setting_problems(settings: Mapping[str, Any], label: str, path: str, prefix: str = "settings") -> list[Problem]:
    """Check one source of settings (an app.json or jitlite.toml); return a Problem per mistake."""
    problems = []
    for name, value in settings.items():
        where = f"{prefix}.{name}"
        known = KNOWN_SETTINGS.get(name)
        if known is not None:
            problem = known.problem(value)
            if problem is not None:
                problems.append(Problem(label, path, problem, f"give {name} {known.requirement} ({known.description})",
                                        where=where))
            continue
        meant = misspelling_of(name, KNOWN_SETTINGS)
        if meant is not None:
            problems.append(Problem(label, path, f"unknown setting {name!r}",
                                    f"did you mean {meant!r}? ({KNOWN_SETTINGS[meant].description})",
                                    where=where))
    return problems
