# -*-coding:utf-8-*-
from datatypes.Meta import datatypes
from models.NormalType import NormalModel


class OrderModel(NormalModel):

    id = datatypes.AutoInt(name="id", title="ID", primaryKey=True, readOnly=1)
    orderNo = datatypes.Stext(name="orderNo", title="Order No")
    amount = datatypes.Money(name="amount", title="Amount", unit="CNY", decimal=2)

    class Meta:
        modelType = "NormalType"
        dataTitle = "orderNo"
        dbTable = "T_MyOrder"
        name = "OrderModel"
        title = "Orders"
        unionUniqueList = [{"name": "uxorno", "title": "Order number", "fieldNameList": ["orderNo"]}]
