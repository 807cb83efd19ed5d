from .service import GreetingService
