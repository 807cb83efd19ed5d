from services.NormalType import NormalService


class GreetingService(NormalService):

    def greet(self, who):
        return "Hello, {} (from BaseApp 2.0.0)".format(who)
