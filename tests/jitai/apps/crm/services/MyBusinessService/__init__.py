from .service import MyBusinessService
