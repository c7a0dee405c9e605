"""Rally's benchmarks: ``python -m bench [--quick] [--only NAME]`` (see bench/README.md).

Each benchmark prints its figures next to a baseline measured in the same run, on the
same database kind, so the comparison survives a noisy machine. Nothing here asserts a
timing: targets are printed as PASS/MISS lines for a person to read.
"""
