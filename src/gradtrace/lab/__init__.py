"""Experiments over many networks: data in, data out (nothing here prints or plots)."""
