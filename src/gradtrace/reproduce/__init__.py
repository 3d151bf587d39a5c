"""Reproductions of classic papers' results, from the theory and the simulations below."""
