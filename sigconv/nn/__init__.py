"""Convolution layers (work in progress of this session)."""
