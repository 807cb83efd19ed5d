from services.NormalType import NormalService
from datatypes.Meta import datatypes


class MyBusinessService(NormalService):

    def calculateTotal(self, amount, discount):
        """Calculate total price"""
        # Get amount value
        base_amount = amount.value
        discount_rate = discount.value / 100

        # Calculate discounted amount
        final_amount = base_amount * (1 - discount_rate)

        # Return Money type
        return datatypes.Money(value=final_amount)

    def countActiveOrders(self):
        """Count the active orders (a service using a model, as JitAi's services do)."""
        OrderModel = self.app.getElement("models.OrderModel")
        return OrderModel.query(filter="Q(Q('status', '=', 'active'))")["totalCount"]
