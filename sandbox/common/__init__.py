"""What every REST twin shares: OAuth-style access tokens, token-bucket rate limits, and the base class that
mounts a twin's routes with fault injection (see sandbox/README.md, "Adding a twin")."""
