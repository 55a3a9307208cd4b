"""Accounts: the root account and sub-accounts with the roles of EMQX Platform (spec §1.9)."""
