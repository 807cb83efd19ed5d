"""Services of auths.loginTypes.QywxProxyType (its callback and workbench service)."""
