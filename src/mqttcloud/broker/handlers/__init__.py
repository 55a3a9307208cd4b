"""One module per packet family; each handler reads in spec order: validate, check access, change the
session, return actions."""
