# -*-coding:utf-8-*-
from datatypes.Meta import datatypes
from models.NormalType import NormalModel


class OrderModel(NormalModel):

    id = datatypes.AutoInt(name="id", title="ID", primaryKey=True, readOnly=1)
    title = datatypes.Stext(name="title", title="Title")
    orderNo = datatypes.Stext(name="orderNo", title="Order No", limit=True, maxLen=32, minLen=4,
                              placeholder="Enter the order number")
    customerEmail = datatypes.Email(name="customerEmail", title="Customer email")
    status = datatypes.Dropdown(
        name="status",
        title="Status",
        options=[
            {"label": "Active", "value": "active"},
            {"label": "Closed", "value": "closed"},
        ],
        placeholder="Select status",
    )
    amount = datatypes.Money(name="amount", title="Amount", unit="CNY", decimal=2)
    quantity = datatypes.Integer(name="quantity", title="Quantity")
    weight = datatypes.Numeric(name="weight", title="Weight", unit="kg", decimal=3, maxDigits=10)
    orderDate = datatypes.Date(name="orderDate", title="Order date", dateTimeType="YEAR_MONTH_DAY",
                               dateTimeFormat="YYYY-MM-DD")
    paid = datatypes.Checkbox(name="paid", title="Paid", default=0)
    tags = datatypes.JitList(name="tags", title="Tags")
    extra = datatypes.JitDict(name="extra", title="Extra")
    notes = datatypes.Ltext(name="notes", title="Notes", limit=True, maxLen=2000)
    createdAt = datatypes.Datetime(name="createdAt", title="Created At", dateTimeType="SECOND",
                                   dateTimeFormat="YYYY-MM-DD HH:mm:ss", createDefault=True, updateDefault=False,
                                   readOnly=1)
    updatedAt = datatypes.Datetime(name="updatedAt", title="Updated At", dateTimeType="SECOND",
                                   dateTimeFormat="YYYY-MM-DD HH:mm:ss", createDefault=True, updateDefault=True,
                                   readOnly=1)

    class Meta:
        modelType = "NormalType"
        db = "databases.CrmDB"
        dataTitle = "orderNo"
        dbTable = "T_Order"
        name = "OrderModel"
        title = "Orders"
        unionIndexList = [{"name": "ixstat", "title": "By status and date", "fieldNameList": ["status", "orderDate"]}]
        unionUniqueList = [{"name": "uxorno", "title": "Order number", "fieldNameList": ["orderNo"]}]
