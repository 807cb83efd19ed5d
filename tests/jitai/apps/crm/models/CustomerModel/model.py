from datatypes.Meta import datatypes
from models.NormalType import NormalModel


class CustomerModel(NormalModel):
    # Required fields
    id = datatypes.AutoInt(name="id", title="id", primaryKey=True, readOnly=1)
    createdAt = datatypes.Datetime(name="createdAt", title="Created Time")
    updatedAt = datatypes.Datetime(name="updatedAt", title="Updated Time")

    # Business fields
    nick = datatypes.Stext(name="nick", title="Name")
    phone = datatypes.Phone(name="phone", title="Phone")
    email = datatypes.Stext(name="email", title="Email")
    address = datatypes.Address(name="address", title="Address")

    class Meta:
        modelType = "NormalType"
        name = 'CustomerModel'
        title = 'Customer Table Model'
        db = "databases.Default"  # Database element fullName
        dataTitle = "nick"  # Data title
        dbTable = "CustomerModel"  # Corresponds to model name
        unionIndexList = []  # Composite index
        unionUniqueList = []  # Union unique index
