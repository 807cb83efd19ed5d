"""A host program: its own models.py and services/ package, and a jitlite app in ./app.

Run as ``python main.py [--no-app]``; prints, as JSON, where its imports came from.
"""

from __future__ import annotations

import json
import sys

import jitlite

facts: dict[str, object] = {}
app = None if "--no-app" in sys.argv else jitlite.App("app", environ={})

# The host's own modules and the standard library's, first imported after the App was built.
import cmd  # noqa: E402
import smtplib  # noqa: E402

import models  # noqa: E402
import services.billing  # noqa: E402

facts["host"] = {
    "models": models.OWNER,
    "services": services.OWNER,
    "services.billing": services.billing.OWNER,
    "cmd": cmd.__file__,
    "cmd.Cmd": cmd.Cmd.__name__,
    "smtplib": smtplib.__file__,
}
if app is not None:
    # Element names that neither the host nor the standard library takes import from the host too.
    from auths.loginTypes.QywxProxyType import QywxProxyAuth
    from corps.QywxProxyType import QywxProxyCorp

    facts["fromHost"] = [QywxProxyAuth.__module__, QywxProxyCorp.__module__]
    try:
        import services.Greeter
    except ImportError:
        facts["hostServicesGreeter"] = "not found"
    facts["element"] = app.getElement("services.Greeter").imports()
print(json.dumps(facts))
