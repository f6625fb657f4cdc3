"""Sizes no tensor of a real model reaches: a spec's number beyond them is a typo, and the
checker says so rather than letting torch fail on it."""

MAX_SIZE = 2**31 - 1  # torch's int32 index limit
