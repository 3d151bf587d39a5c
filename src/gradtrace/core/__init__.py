"""The engine: activations, losses, the chain and dense specs, the canonical backward recursion,
log-magnitude mode, weight initializations, central differences and the one error type.

Nothing here prints, plots or reads files; every layer above builds on these modules.
"""
