"""Official data types: ``datatypes.Meta`` and the ``datatypes`` namespace JitAi's model files use."""
