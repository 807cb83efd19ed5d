"""Open the override example and show the overridden Type at work: `python examples/override_app/run.py`."""

from __future__ import annotations

from pathlib import Path

import jitlite

app = jitlite.App(Path(__file__).parent)
login = app.getElement("auths.QywxProxyTemp")  # defined by the demo app this one extends
print(type(login).__name__, login.getLoginConfig())
print("organisations:", app.getElement("services.OrgReport").corpElements())
