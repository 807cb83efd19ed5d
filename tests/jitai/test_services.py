"""JitAi service files (services.NormalType, functionList with argsToDatatype) and the official names they import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jitlite
from jitlite.meta.models import ModelElement
from jitlite.meta.services import Service
from jitlite.storage import ModelDefinitionError
from jitlite.types.datatypes.Meta import DataTypeMeta, datatypes


def test_the_documented_service_runs_as_documented(crm: jitlite.App) -> None:
    service: Any = crm.getElement("services.MyBusinessService")
    assert issubclass(type(service), Service) and type(service).__name__ == "MyBusinessService"
    result = service.calculateTotal(amount=1000.0, discount=15.0)
    assert type(result).__name__ == "Money" and result.value == 850.0
    assert service.calculateTotal(200, 50).value == 100.0  # positional arguments are converted too
    money = datatypes.Money(value=10.0)
    assert service.calculateTotal(money, datatypes.Percent(value=0)).value == 10.0  # data types pass as they are
    with pytest.raises(TypeError, match="invalidParam"):
        service.calculateTotal(amount=1000, discount=15, invalidParam="test")
    # A service reaches the app's models as JitAi's services do.
    crm.getElement("models.OrderModel").create({"orderNo": "S0001", "status": "active"})
    assert service.countActiveOrders() == 1


def test_official_names_element_code_imports(crm: jitlite.App) -> None:
    assert crm.getElement("services.NormalType") is Service
    assert crm.getElement("models.NormalType") is ModelElement
    meta = crm.getElement("datatypes.Meta")
    assert meta is DataTypeMeta and meta.datatypes is datatypes
    assert crm.describe("datatypes.Meta")["kind"] == "meta"
    assert datatypes.Stext(value="abc").value == "abc"
    with pytest.raises(ModelDefinitionError, match=r"datatypes\.Serial is a JitAi data type jitlite does not support"):
        _ = datatypes.Serial(value="x").value


def service_app(make_app: Callable[..., Path], function: dict[str, Any]) -> Path:
    source = ("from services.NormalType import NormalService\n\n\nclass Svc(NormalService):\n"
              "    def total(self, amount):\n        return amount\n")
    return make_app({"services/Svc/e.json": {"title": "Svc", "type": "services.NormalType",
                                             "functionList": [function]},
                     "services/Svc/__init__.py": "from .service import Svc\n",
                     "services/Svc/service.py": source}, app_id="svcapp")


@pytest.mark.parametrize(
    ("function", "fragments"),
    [
        ({"name": "totl", "args": []}, ["functionList[0]", "has no method 'totl'", "remove the entry"]),
        ({"name": "total", "argsToDatatype": True, "args": [{"name": "amount", "dataType": "Mony"}]},
         ["argument 'amount'", "datatypes.Mony is not a JitAi data type", "did you mean datatypes.Money"]),
        ({"name": "total", "argsToDatatype": True, "args": [{"name": "amount"}]}, ["needs a name and a dataType"]),
    ],
)
def test_function_list_mistakes_stop_the_build(
    make_app: Callable[..., Path], function: dict[str, Any], fragments: list[str]
) -> None:
    root = service_app(make_app, function)
    with pytest.raises(jitlite.ElementBuildError) as caught:
        jitlite.App(root, environ={}).getElement("services.Svc")
    for fragment in ["services.Svc", str(root / "services" / "Svc" / "e.json"), *fragments]:
        assert fragment in str(caught.value), str(caught.value)


def test_arguments_stay_plain_without_args_to_datatype(make_app: Callable[..., Path]) -> None:
    root = service_app(make_app, {"name": "total", "args": [{"name": "amount", "dataType": "Money"}]})
    assert jitlite.App(root, environ={}).getElement("services.Svc").total(5) == 5
