from datatypes.Meta import datatypes
from jit.commons.utils.logger import log
from jit.errcode import Code
from services.NormalType import NormalService


class OrderService(NormalService):

    ORDER_NOT_FOUND = Code(40404, "order {orderNo} not found")

    def placeOrder(self, orderNo, amount):
        OrderModel = self.app.getElement("models.OrderModel")
        OrderModel.create({"orderNo": orderNo.value, "amount": amount.value})
        self.app.defaultCache().set("lastOrder", orderNo.value)
        log.info("order %s placed", orderNo.value)
        return orderNo.value

    def getAmount(self, orderNo):
        OrderModel = self.app.getElement("models.OrderModel")
        row = OrderModel.get("Q(orderNo={!r})".format(orderNo))
        if row is None:
            raise self.ORDER_NOT_FOUND.formatReason(orderNo=orderNo)
        return datatypes.Money(value=row.amount)

    def greetCustomer(self, who):
        from services.GreetingService import GreetingService
        return self.app.getElement("services.GreetingService", GreetingService).greet(who)
