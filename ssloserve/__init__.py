"""ssloserve: SLO-aware inference serving, taught by re-implementing the techniques of
K. Razavi's thesis (FA2, Sponge, IPA, Biscale, NetNN) as small composable functions."""

__version__ = "0.1.0"
