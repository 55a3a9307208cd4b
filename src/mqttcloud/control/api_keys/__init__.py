"""Platform API keys (Key + Secret): minted by the root account or an Administrator, scoped, hashed."""
